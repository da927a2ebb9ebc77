using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;

namespace GanInference.Server.Tests;

/// <summary>
/// A client that reads a stream of large images (256×256×3 RAW_U8: 192 KiB a message) and then stops reading: HTTP/2
/// flow control holds the server's writer, the writer holds the generator (no more than one chunk inferred ahead), so
/// what the server produced stays a few chunks past what the client read, however many images the call asked for;
/// and the caller's deadline still ends the call: DEADLINE_EXCEEDED for the caller, and the server's handler finishes.
/// </summary>
public sealed class SlowReaderTests : IDisposable
{
    private const string Model = "big";
    private const int ChunkSize = 4;

    // 400 × 196,608 bytes: 79 MB of replies, were the server to run ahead of the reader.
    private const int Count = 400;

    private readonly MetricRecorder _metrics = new();

    public void Dispose() => _metrics.Dispose();

    [Fact]
    public async Task A_stalled_reader_of_a_large_image_stream_holds_the_producer_within_a_few_chunks_until_its_deadline_ends_the_call()
    {
        var models = new TinyGanModels();
        models.AddUnconditional(Model, channels: 3, size: 256);
        await using var server = await RunningServer.StartAsync(models, $"--Generation:ChunkSize={ChunkSize}");

        // Long enough for the first images to arrive on a loaded machine; the stall then lasts until it passes.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        using var call = server.Client.GenerateStream(
            new GenerateRequest { Model = Model, Count = Count, Seed = 1, Format = ImageFormat.RawU8 }, deadline: deadline);

        // Read slowly: two images, then nothing more.
        var read = 0;
        while (read < 2 && await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            Assert.Equal(256 * 256 * 3, call.ResponseStream.Current.Data.Length);
            read++;
            await Task.Delay(200);
        }

        Assert.Equal(2, read);

        // Stalled past the deadline: the next read reports it, and the server's handler ends (the client resets the
        // stream when its deadline passes, moments before the server's copy of it does, so the server may count the
        // call as cancelled rather than expired; either way it stops producing and finishes the call).
        await Task.Delay(deadline - DateTime.UtcNow + TimeSpan.FromMilliseconds(200));
        var ended = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                read++;
            }
        });
        Assert.Equal(StatusCode.DeadlineExceeded, ended.StatusCode);
        await WaitForAsync(() => _metrics.Total("gan.requests", Model) == 1);
        Assert.Equal(1, _metrics.Total("gan.requests", Model, "DeadlineExceeded") + _metrics.Total("gan.requests", Model, "Cancelled"));

        // What the server inferred while the reader stalled: what the client read or its HTTP/2 window held, the chunk
        // being written, the one waiting for it and the one being inferred. Far from the whole request.
        var inferred = _metrics.Total("gan.inference.count", Model);
        var windowImages = 16 * 1024 * 1024 / (256 * 256 * 3); // the client's largest HTTP/2 stream window (16 MiB)
        Assert.True(
            inferred <= read + windowImages + 3 * ChunkSize,
            $"the server inferred {inferred} of {Count} images while the client read {read}; metrics: {_metrics}");
    }

    private async Task WaitForAsync(Func<bool> condition)
    {
        var limit = DateTime.UtcNow.AddSeconds(10);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < limit, $"the condition did not hold within 10 s; metrics: {_metrics}");
            await Task.Delay(20);
        }
    }
}
