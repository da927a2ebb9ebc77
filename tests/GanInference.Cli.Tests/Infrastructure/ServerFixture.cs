using GanInference.Client;
using GanInference.Server;
using GanInference.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
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

    /// <summary>The server's HTTP/1.1 listener (<c>/metrics</c>), on a port the OS chose.</summary>
    public string HttpAddress { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        TinyModels.WriteRepository(ModelsPath);
        // The HTTP/1.1 listener (/metrics) on a port of its own: its default fixed port would clash between test runs.
        var builder = GanServer.CreateBuilder(["--urls=http://127.0.0.1:0", $"--Models:Path={ModelsPath}", "--Http:Urls=http://127.0.0.1:0", "--Models:Profiling:MillisecondsPerSize=5"]);
        builder.Logging.ClearProviders();
        _app = GanServer.Build(builder);
        await _app.StartAsync();
        var listeners = _app.Services.GetRequiredService<ServerListeners>();
        Address = listeners.GrpcUrls[0];
        HttpAddress = listeners.HttpUrls[0];

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
