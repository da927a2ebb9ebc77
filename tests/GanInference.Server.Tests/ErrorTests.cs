using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using Grpc.Core;

namespace GanInference.Server.Tests;

[Collection(ServerCollection.Name)]
public sealed class ErrorTests(ServerFixture fixture)
{
    private Api.V1.GanInference.GanInferenceClient Client => fixture.Client;

    [Fact]
    public async Task An_unknown_model_is_not_found_and_the_message_lists_the_loaded_models()
    {
        var generate = await Assert.ThrowsAsync<RpcException>(() => Client.GenerateAsync(new GenerateRequest { Model = "nope" }).ResponseAsync);
        var get = await Assert.ThrowsAsync<RpcException>(() => Client.GetModelAsync(new GetModelRequest { Model = "nope" }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, generate.StatusCode);
        Assert.Equal(StatusCode.NotFound, get.StatusCode);
        Assert.Contains("'nope'", generate.Status.Detail);
        Assert.Contains($"{ServerFixture.Conditional}, {ServerFixture.Narrow}, {ServerFixture.ImageToImage}, {ServerFixture.Unconditional}, {ServerFixture.Wide}", generate.Status.Detail);
    }

    public static TheoryData<string, GenerateRequest, string> BadFields => new()
    {
        { "missing model", new GenerateRequest(), "model: is required" },
        { "label out of range", new GenerateRequest { Model = ServerFixture.Conditional, Count = 2, Labels = { 1, 3 } }, "labels[1]: 3 is outside 0..2" },
        { "labels on unconditional", new GenerateRequest { Model = ServerFixture.Unconditional, Labels = { 0 } }, "labels: model 'tiny-uncond' is unconditional and takes no labels" },
        { "label count", new GenerateRequest { Model = ServerFixture.Conditional, Count = 3, Labels = { 0, 1 } }, "labels: expected 0, 1 or 3 values" },
        { "latent length", new GenerateRequest { Model = ServerFixture.Unconditional, Latents = { 1f, 2f, 3f } }, "latents: length 3 is not a multiple of latent_dim 8" },
        { "too many images", new GenerateRequest { Model = ServerFixture.Unconditional, Count = ServerFixture.MaxImagesPerRequest + 1 }, $"count: {ServerFixture.MaxImagesPerRequest + 1} images is outside 1..{ServerFixture.MaxImagesPerRequest}" },
        { "count vs seeds", new GenerateRequest { Model = ServerFixture.Unconditional, Count = 4, Seeds = { 1, 2 } }, "count: 4 does not match the 2 values in seeds" },
        { "negative truncation", new GenerateRequest { Model = ServerFixture.Unconditional, Truncation = -0.5f }, "truncation: -0.5 must be 0 or a finite number >= 0.01" },
        { "jpeg quality", new GenerateRequest { Model = ServerFixture.Unconditional, Format = ImageFormat.Jpeg, JpegQuality = 101 }, "jpeg_quality: 101 is outside 1..100" },
        { "unknown format", new GenerateRequest { Model = ServerFixture.Unconditional, Format = (ImageFormat)9 }, "format: 9 is not one of PNG, JPEG, RAW_U8, RAW_F32" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task A_bad_field_is_an_invalid_argument_naming_the_field_and_range(string because, GenerateRequest request, string expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.GenerateAsync(request).ResponseAsync);

        Assert.True(error.StatusCode == StatusCode.InvalidArgument, $"{because}: got {error.StatusCode}");
        Assert.Contains(expected, error.Status.Detail);
    }

    [Fact]
    public async Task A_bad_field_on_a_stream_is_an_invalid_argument_before_any_image()
    {
        using var call = Client.GenerateStream(new GenerateRequest { Model = ServerFixture.Conditional, Labels = { 7 } });
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("labels[0]", error.Status.Detail);
    }

    [Fact]
    public async Task Generate_on_an_image_to_image_model_is_a_failed_precondition()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.ImageToImage }).ResponseAsync);

        Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
        Assert.Contains("image-to-image", error.Status.Detail);
    }

    [Fact]
    public async Task A_full_queue_answers_resource_exhausted_at_once_and_the_others_succeed()
    {
        // tiny-narrow: one item per batch, one request in its queue, no delay. 48 callers overflow it.
        var codes = new System.Collections.Concurrent.ConcurrentBag<StatusCode>();
        for (var round = 0; round < 5 && !codes.Contains(StatusCode.ResourceExhausted); round++)
        {
            var callers = Enumerable.Range(0, 48).Select(i => Task.Run(async () =>
            {
                try
                {
                    await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Narrow, Count = 16, Seed = (ulong)i, Format = ImageFormat.RawU8 });
                    codes.Add(StatusCode.OK);
                }
                catch (RpcException ex)
                {
                    codes.Add(ex.StatusCode);
                    if (ex.StatusCode == StatusCode.ResourceExhausted)
                    {
                        Assert.Contains("maxQueueSize", ex.Status.Detail);
                    }
                }
            }));
            await Task.WhenAll(callers).WaitAsync(TimeSpan.FromSeconds(60));
        }

        Assert.Contains(StatusCode.ResourceExhausted, codes);
        Assert.Contains(StatusCode.OK, codes);
        Assert.All(codes, code => Assert.True(code is StatusCode.OK or StatusCode.ResourceExhausted, $"unexpected {code}"));
    }

    [Fact]
    public async Task A_stream_that_outlives_its_deadline_ends_with_deadline_exceeded()
    {
        // Warm the streaming path first: run alone on a cold server, JIT and first-run costs used to eat the
        // whole deadline before the first image, so the call expired having streamed nothing.
        using (var warm = Client.GenerateStream(new GenerateRequest { Model = ServerFixture.Wide, Count = 8, Seed = 3, Format = ImageFormat.RawF32 }))
        {
            while (await warm.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
        }

        var deadline = DateTime.UtcNow.AddMilliseconds(1000);
        using var call = Client.GenerateStream(
            new GenerateRequest { Model = ServerFixture.Wide, Count = 1_000_000, Seed = 3, Format = ImageFormat.RawF32 },
            deadline: deadline);
        var received = 0;

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await call.ResponseStream.MoveNext(CancellationToken.None))
            {
                received++;
            }
        });
        var ended = DateTime.UtcNow;

        // Client and server each time the deadline. The server ends an expired stream with an HTTP/2 RST_STREAM,
        // which cannot carry DEADLINE_EXCEEDED; when it outruns the client's own timer (a loaded CI machine), the
        // client reports the reset as UNAVAILABLE or CANCELLED. Either way the call ended at its deadline, not
        // after a million images (docs/errors.md, "Deadlines on streams").
        Assert.True(
            error.StatusCode == StatusCode.DeadlineExceeded || (error.StatusCode is StatusCode.Unavailable or StatusCode.Cancelled && ended >= deadline.AddMilliseconds(-50)),
            $"unexpected {error.StatusCode} ({error.Status.Detail}) at {(ended - deadline).TotalMilliseconds:F0} ms from the deadline");
        Assert.True(ended - deadline < TimeSpan.FromSeconds(5), $"the stream ran {(ended - deadline).TotalSeconds:F1} s past its deadline");
        Assert.InRange(received, 1, 999_999);
    }

    [Fact]
    public async Task The_server_keeps_serving_after_errors()
    {
        await Assert.ThrowsAsync<RpcException>(() => Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Conditional, Labels = { 99 } }).ResponseAsync);
        var response = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Conditional, Seed = 1 });
        Assert.Single(response.Images);
    }
}
