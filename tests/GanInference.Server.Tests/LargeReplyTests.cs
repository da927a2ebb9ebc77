using System.Diagnostics;
using GanInference.Api.V1;
using GanInference.Onnx.Benchmarks;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;

namespace GanInference.Server.Tests;

/// <summary>Replies at the sizes users serve (512²×3): refused up front when one message cannot hold them, streamed one image per message.</summary>
public sealed class LargeReplyTests
{
    private const string Model = "large-reply-512";
    private const int Size = 512;

    [Fact]
    public async Task A_64_image_512_squared_raw_f32_generate_is_refused_before_inference_and_the_stream_sends_one_image_per_message()
    {
        var models = new TinyGanModels();

        // The benchmark architecture at 512²×3, narrow (width 1) so that the few images streamed below are cheap.
        BenchmarkModels.Dcgan(Model, Size, width: 1).WriteTo(models.Root);
        using var metrics = new MetricRecorder();
        using var batches = new BatchSizeRecorder(Model);
        await using var server = await RunningServer.StartAsync(models);
        using var process = Process.GetCurrentProcess();
        GC.Collect();
        process.Refresh();
        var before = process.WorkingSet64;

        // 64 × 512 × 512 × 3 × 4 bytes = 201 MB, past the default Limits:MaxSendMessageBytes (64 MiB).
        var refused = await Assert.ThrowsAsync<RpcException>(() =>
            server.Client.GenerateAsync(new GenerateRequest { Model = Model, Count = 64, Seed = 1, Format = ImageFormat.RawF32 }).ResponseAsync);

        process.Refresh();
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("64 RAW_F32 images of 512x512x3", refused.Status.Detail);
        Assert.Contains($"over the limit of {64 * 1024 * 1024} bytes", refused.Status.Detail);
        Assert.Contains("Limits:MaxSendMessageBytes", refused.Status.Detail);
        Assert.Contains("GenerateStream", refused.Status.Detail);
        Assert.Empty(batches.Sizes);
        Assert.Equal(1, metrics.Total("gan.requests", Model, "ResourceExhausted"));
        Assert.InRange(process.WorkingSet64 - before, long.MinValue, 64L * 1024 * 1024);

        // The same images through GenerateStream: one 3 MB message per image (under any client's 4 MB default).
        using var stream = server.Client.GenerateStream(new GenerateRequest { Model = Model, Count = 3, Seed = 1, Format = ImageFormat.RawF32 });
        var received = new List<GeneratedImage>();
        await foreach (var image in stream.ResponseStream.ReadAllAsync())
        {
            received.Add(image);
        }

        Assert.Equal([0u, 1u, 2u], received.Select(i => i.Index));
        Assert.All(received, i => Assert.Equal(Size * Size * 3 * sizeof(float), i.Data.Length));
        Assert.NotEmpty(batches.Sizes);
    }
}
