using Grpc.Core;
using Grpc.Core.Interceptors;
using GanInference.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// A stream that ends with OK before every image it was asked for has arrived (a faulty proxy or server) must not pass
/// for a complete dataset. The real server runs with one fault injected: every server stream delivers only its first
/// images and then ends normally.
/// </summary>
public sealed class DatasetStreamEndTests : IAsyncLifetime
{
    private const int Delivered = 3;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gan-end-" + Guid.NewGuid().ToString("N")[..8]);
    private WebApplication? _app;
    private string _address = string.Empty;

    public async Task InitializeAsync()
    {
        TinyModels.WriteRepository(Path.Combine(_root, "models"));
        var builder = GanServer.CreateBuilder(["--urls=http://127.0.0.1:0", $"--Models:Path={Path.Combine(_root, "models")}", "--Http:Urls=", "--Models:Watch=false"]);
        builder.Services.AddGrpc(options => options.Interceptors.Add<EndsStreamsEarly>());
        builder.Logging.ClearProviders();
        _app = GanServer.Build(builder);
        await _app.StartAsync();
        _address = _app.Services.GetRequiredService<GanInference.Server.Hosting.ServerListeners>().GrpcUrls[0];
    }

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task A_stream_that_ends_early_without_an_error_fails_the_run_and_keeps_what_arrived()
    {
        var output = Path.Combine(_root, "out");
        var result = await CliRun.InvokeAsync("dataset", "--server", _address, "--model", TinyModels.Unconditional, "--count", "10", "--out", output);

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Contains($"{Delivered} of the 10 images", result.Error);
        Assert.Contains("rerun", result.Error);
        // What did arrive is kept, so the rerun asks only for the rest.
        Assert.Equal(Delivered, Directory.GetFiles(output, "*.png", SearchOption.AllDirectories).Length);
    }

    private sealed class EndsStreamsEarly : Interceptor
    {
        public override Task ServerStreamingServerHandler<TRequest, TResponse>(
            TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
            => continuation(request, new FirstMessagesOnly<TResponse>(responseStream, Delivered), context);
    }

    private sealed class FirstMessagesOnly<T>(IServerStreamWriter<T> inner, int keep) : IServerStreamWriter<T>
    {
        private int _written;

        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public Task WriteAsync(T message, CancellationToken cancellationToken)
            => Interlocked.Increment(ref _written) <= keep ? inner.WriteAsync(message, cancellationToken) : Task.CompletedTask;
    }
}
