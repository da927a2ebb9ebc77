using GanInference.Server;
using GanInference.Server.Hosting;
using GanInference.Tests.TestModels;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace GanInference.Server.Tests.Infrastructure;

/// <summary>A real server (Kestrel on a loopback port chosen by the OS) over a temporary model repository.</summary>
internal sealed class RunningServer : IAsyncDisposable
{
    private RunningServer(WebApplication app, TinyGanModels models)
    {
        App = app;
        Models = models;
        var listeners = app.Services.GetRequiredService<ServerListeners>();
        Address = listeners.GrpcUrls[0];
        HttpAddress = listeners.HttpUrls[0];
        Channel = GrpcChannel.ForAddress(Address, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 });
        Client = new Api.V1.GanInference.GanInferenceClient(Channel);
    }

    public WebApplication App { get; }

    public TinyGanModels Models { get; }

    /// <summary>The gRPC address, e.g. http://127.0.0.1:41234.</summary>
    public string Address { get; }

    /// <summary>The plain HTTP/1.1 listener (<c>/metrics</c>).</summary>
    public string HttpAddress { get; }

    public GrpcChannel Channel { get; }

    public Api.V1.GanInference.GanInferenceClient Client { get; }

    public static async Task<RunningServer> StartAsync(TinyGanModels models, params string[] extraArgs)
    {
        string[] args =
        [
            "--urls=http://127.0.0.1:0",
            "--Http:Urls=http://127.0.0.1:0",
            $"--Models:Path={models.Root}",
            "--Inference:IntraOpThreads=1",
            "--Logging:LogLevel:Default=Warning",

            // A profile holds a model's queue while it measures (200 ms per batch size by default): keep it short.
            "--Models:Profiling:MillisecondsPerSize=5",

            // Tests run many servers at once; each file watcher takes one of the user's inotify instances (128 by
            // default on Linux), so only the tests about watching turn it on (a later argument wins).
            "--Models:Watch=false",
            "--hostBuilder:reloadConfigOnChange=false",
            .. extraArgs,
        ];
        var app = GanServer.Create(args);
        await app.StartAsync();
        return new RunningServer(app, models);
    }

    public async ValueTask DisposeAsync()
    {
        Channel.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        Models.Dispose();
    }
}
