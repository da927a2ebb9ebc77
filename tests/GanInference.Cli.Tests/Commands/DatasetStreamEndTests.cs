using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;

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
    private InProcessGanServer? _server;

    public async Task InitializeAsync()
    {
        TinyModels.WriteRepository(Path.Combine(_root, "models"));
        _server = await InProcessGanServer.StartAsync(
            Path.Combine(_root, "models"), configure: builder => builder.Services.AddGrpc(options => options.Interceptors.Add<EndsStreamsEarly>()));
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task A_stream_that_ends_early_without_an_error_fails_the_run_and_keeps_what_arrived()
    {
        var output = Path.Combine(_root, "out");
        var result = await CliRun.InvokeAsync("dataset", "--server", _server!.Address, "--model", TinyModels.Unconditional, "--count", "10", "--out", output);

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
