using GanInference.Client;
using GanInference.Server;
using GanInference.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests;

/// <summary>
/// The real server in the test process, on loopback port 0, over a models folder of the tests' own (TinyModels),
/// handed out once its models have loaded. For test classes with a server of their own (their own models, configuration,
/// a listener, an injected fault); the shared fixtures (<see cref="ServerFixture"/>, <see cref="TextServerFixture"/>) serve the rest.
/// </summary>
internal sealed class InProcessGanServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private InProcessGanServer(WebApplication app, string address, string? httpAddress)
    {
        _app = app;
        Address = address;
        HttpAddress = httpAddress;
    }

    /// <summary>The gRPC listener, http://127.0.0.1:PORT.</summary>
    public string Address { get; }

    /// <summary>The HTTP/1.1 listener, when <c>http: true</c>.</summary>
    public string? HttpAddress { get; }

    /// <summary>Starts a server on <paramref name="modelsPath"/> and waits (up to 60 s) until it lists <paramref name="models"/> models.</summary>
    /// <param name="modelsPath">The models folder.</param>
    /// <param name="http">Also open the HTTP/1.1 listener on a free port.</param>
    /// <param name="configure">Changes to the builder before the server is built (configuration, services, Kestrel).</param>
    /// <param name="apiKey">The key to list models with, when the configuration asks for one.</param>
    /// <param name="models">How many models must be loaded before the server is handed out.</param>
    public static async Task<InProcessGanServer> StartAsync(
        string modelsPath, bool http = false, Action<WebApplicationBuilder>? configure = null, string? apiKey = null, int models = 2)
    {
        var builder = GanServer.CreateBuilder(
            ["--urls=http://127.0.0.1:0", $"--Models:Path={modelsPath}", http ? "--Http:Urls=http://127.0.0.1:0" : "--Http:Urls=", "--Models:Watch=false", "--Models:Profiling:MillisecondsPerSize=5"]);
        builder.Logging.ClearProviders();
        configure?.Invoke(builder);
        var app = GanServer.Build(builder);
        await app.StartAsync();
        var listeners = app.Services.GetRequiredService<ServerListeners>();
        var server = new InProcessGanServer(app, listeners.GrpcUrls[0], http ? listeners.HttpUrls[0] : null);

        // Models load in the background after the host starts.
        using var client = new GanClient(new GanClientOptions { Address = new Uri(server.Address), ApiKey = apiKey });
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await client.ListModelsAsync()).Count < models && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
