using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.DependencyInjection;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// A replica that resets a dataset's stream (HTTP/2 RST_STREAM: a draining replica, a proxy that drops it) before it
/// starts or part-way through: `gan dataset` asks again for the images it has not stored, and the run completes.
/// The real server runs with one fault injected: the first stream is aborted after <see cref="FaultyStreams.After"/> images.
/// </summary>
public sealed class DatasetStreamResetTests : IAsyncLifetime
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gan-reset-" + Guid.NewGuid().ToString("N")[..8]);
    private readonly FaultyStreams _fault = new();
    private InProcessGanServer? _server;

    public async Task InitializeAsync()
    {
        TinyModels.WriteRepository(Path.Combine(_root, "models"));
        _server = await InProcessGanServer.StartAsync(
            Path.Combine(_root, "models"), configure: builder =>
            {
                builder.Services.AddSingleton(_fault);
                builder.Services.AddGrpc(options => options.Interceptors.Add<ResetsTheFirstStream>());
            });
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    public async Task A_stream_the_server_resets_is_asked_again_for_what_did_not_arrive(int after)
    {
        _fault.After = after;
        var output = Path.Combine(_root, "out" + after);
        var result = await CliRun.InvokeAsync("dataset", "--server", _server!.Address, "--model", TinyModels.Unconditional, "--count", "10", "--out", output);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(_fault.Streams >= 2, $"{_fault.Streams} stream(s): the fault was not exercised");
        Assert.Contains("1 interrupted stream(s) resumed", string.Join(' ', result.Output.Split((char[])['\n', ' '], StringSplitOptions.RemoveEmptyEntries)));
        Assert.Equal(10, Directory.GetFiles(output, "*.png", SearchOption.AllDirectories).Length);

        // The same files (images and manifests), byte for byte, as a run the fault does not touch (only the first
        // stream is reset).
        var clean = Path.Combine(_root, "clean" + after);
        var reference = await CliRun.InvokeAsync("dataset", "--server", _server.Address, "--model", TinyModels.Unconditional, "--count", "10", "--out", clean);
        Assert.True(reference.ExitCode == 0, reference.ToString());
        Assert.Equal(DatasetShardTests.Snapshot(clean), DatasetShardTests.Snapshot(output));
    }

    internal sealed class FaultyStreams
    {
        public int After { get; set; }

        public int Streams;
    }

    private sealed class ResetsTheFirstStream(FaultyStreams fault) : Interceptor
    {
        public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
            TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
        {
            if (Interlocked.Increment(ref fault.Streams) != 1)
            {
                await continuation(request, responseStream, context);
                return;
            }

            try
            {
                await continuation(request, new AbortsAfter<TResponse>(responseStream, fault.After, context.GetHttpContext()), context);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private sealed class AbortsAfter<T>(IServerStreamWriter<T> inner, int after, Microsoft.AspNetCore.Http.HttpContext http) : IServerStreamWriter<T>
    {
        private int _written;

        public WriteOptions? WriteOptions
        {
            get => inner.WriteOptions;
            set => inner.WriteOptions = value;
        }

        public Task WriteAsync(T message) => WriteAsync(message, CancellationToken.None);

        public async Task WriteAsync(T message, CancellationToken cancellationToken)
        {
            if (_written == after)
            {
                http.Abort();
                throw new OperationCanceledException("the test's fault: the stream is reset");
            }

            await inner.WriteAsync(message, cancellationToken);
            _written++;
        }
    }
}
