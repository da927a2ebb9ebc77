using GanInference.Client;
using GanInference.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests;

/// <summary>
/// A real GanInference server on a loopback port serving the tiny models, shared by every test in the
/// collection (starting one costs a second or two).
/// </summary>
public sealed class ServerFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public string ModelsPath { get; } = Path.Combine(Path.GetTempPath(), "gan-cli-tests-" + Guid.NewGuid().ToString("N"), "models");

    public string Address { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        TinyModels.WriteRepository(ModelsPath);
        // The separate HTTP/1.1 metrics listener is turned off (its fixed port would clash between test runs);
        // `gan bench` then reads /metrics from the main port over h2c.
        var builder = GanServer.CreateBuilder(["--urls=http://127.0.0.1:0", $"--Models:Path={ModelsPath}", "--Http:Urls="]);
        builder.Logging.ClearProviders();
        _app = GanServer.Build(builder);
        await _app.StartAsync();
        Address = _app.Urls.First();

        // Models load in the background after the host starts; wait until both are served.
        using var client = new GanClient(new GanClientOptions { Address = new Uri(Address) });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            var models = await client.ListModelsAsync();
            if (models.Count >= 2)
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new InvalidOperationException($"the test server at {Address} loaded {models.Count} of 2 models from {ModelsPath}.");
            }

            await Task.Delay(100);
        }
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
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "gan server";
}
