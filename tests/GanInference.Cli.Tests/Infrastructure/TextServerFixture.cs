using GanInference.Server;
using GanInference.Tests.TestModels;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests;

/// <summary>A real server on loopback with the tiny text-conditional models: stage 1, stage 2 and their pipeline.</summary>
public sealed class TextServerFixture : IAsyncLifetime
{
    public const string Stage1 = "txt-stage1";
    public const string Stage2 = "txt-stage2";
    public const string Pipeline = "txt-pipe";

    private WebApplication? _app;

    public string ModelsPath { get; } = Path.Combine(Path.GetTempPath(), "gan-cli-text-tests-" + Guid.NewGuid().ToString("N"), "models");

    public string Address { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        Directory.CreateDirectory(ModelsPath);
        TinyTextModels.AddStage1(ModelsPath, Stage1);
        TinyTextModels.AddStage2(ModelsPath, Stage2);
        TinyTextModels.AddPipeline(ModelsPath, Pipeline, [Stage1, Stage2]);
        TinyModels.WriteRepository(ModelsPath);
        var builder = GanServer.CreateBuilder(["--urls=http://127.0.0.1:0", $"--Models:Path={ModelsPath}", "--Http:Urls=", "--Models:Watch=false", "--Models:Profiling:MillisecondsPerSize=5"]);
        builder.Logging.ClearProviders();
        _app = GanServer.Build(builder);
        await _app.StartAsync();
        Address = _app.Urls.First();
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(Path.GetDirectoryName(ModelsPath)!, recursive: true);
    }
}

[CollectionDefinition(Name)]
public sealed class TextServerCollection : ICollectionFixture<TextServerFixture>
{
    public const string Name = "gan text server";
}
