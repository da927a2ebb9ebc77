using System.Diagnostics;
using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using static GanInference.Server.Tests.Translation.TestImages;

namespace GanInference.Server.Tests;

/// <summary>
/// The seven defects the hardening review reproduced on the request path (issue 11), one test each, named after
/// the defect; every one failed on the code before the fix. They measure memory, allocation and timing, so they
/// run alone (<see cref="SoloCollection"/>).
/// </summary>
[Collection(SoloCollection.Name)]
public sealed class RequestPathDefectTests
{
    private const int Megabyte = 1024 * 1024;

    [Fact]
    public async Task Defect1_a_100_MB_TranslateStream_completes_and_a_unary_message_over_our_limit_is_resource_exhausted()
    {
        var models = new TinyGanModels();
        models.AddImageToImage("p");
        await using var server = await RunningServer.StartAsync(models, $"--Limits:MaxReceiveMessageBytes={40 * Megabyte}");

        // 100 raw 1024×1024 grey images of 1 MB each: past Kestrel's 30 MB default body limit.
        var image = new InputImage { Data = ByteString.CopyFrom(GreyPixels(1024, 1024)), Encoding = InputEncoding.RawU8, Width = 1024, Height = 1024, Channels = 1 };
        using var call = server.Client.TranslateStream();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < 100; i++)
            {
                await call.RequestStream.WriteAsync(new TranslateStreamRequest { Model = i == 0 ? "p" : string.Empty, Format = ImageFormat.RawU8, Image = image });
            }

            await call.RequestStream.CompleteAsync();
        });
        var answers = 0;
        await foreach (var answer in call.ResponseStream.ReadAllAsync())
        {
            Assert.True(answer.Image is not null, $"image {answer.Index}: {answer.Error}");
            answers++;
        }

        await writer;
        Assert.Equal(100, answers);

        // A 33.5 MB unary call under the 40 MB limit works; one over it names the limit, as RESOURCE_EXHAUSTED.
        var under = new TranslateRequest { Model = "p", Format = ImageFormat.RawU8 };
        under.Images.AddRange(Enumerable.Repeat(image, 32));
        Assert.Equal(32, (await server.Client.TranslateAsync(under)).Images.Count);
        var over = new TranslateRequest { Model = "p", Format = ImageFormat.RawU8 };
        over.Images.AddRange(Enumerable.Repeat(image, 41));
        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Client.TranslateAsync(over).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("Limits:MaxReceiveMessageBytes", refused.Status.Detail);
    }

    [Fact]
    public async Task Defect2_a_reply_past_MaxSendMessageBytes_or_the_pixel_budget_is_refused_before_anything_is_decoded_and_counted_as_failed()
    {
        using var metrics = new MetricRecorder();
        var models = new TinyGanModels();
        models.AddImageToImage("p");
        models.AddUnconditional("g", size: 48);
        await using var server = await RunningServer.StartAsync(models, $"--Limits:MaxSendMessageBytes={4 * Megabyte}");

        // Eight solid 4096² PNGs of a few KB each; with resize_back as RAW_F32 the reply would be 8 × 64 MB.
        var solid = Png(new byte[4096 * 4096], 4096, 4096, 1);
        var request = new TranslateRequest { Model = "p", Format = ImageFormat.RawF32, ResizeBack = true };
        request.Images.AddRange(Enumerable.Range(0, 8).Select(_ => new InputImage { Data = ByteString.CopyFrom(solid) }));
        using var process = Process.GetCurrentProcess();
        GC.Collect();
        process.Refresh();
        var before = process.WorkingSet64;

        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Client.TranslateAsync(request).ResponseAsync);

        process.Refresh();
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);
        Assert.Contains("Limits:MaxSendMessageBytes", refused.Status.Detail);
        Assert.InRange(process.WorkingSet64 - before, long.MinValue, 200L * Megabyte);

        // The same images with a small reply still pass the per-call pixel budget (8 × 16 Mpx > 64 Mpx): refused too.
        request.Format = ImageFormat.RawU8;
        request.ResizeBack = false;
        var pixels = await Assert.ThrowsAsync<RpcException>(() => server.Client.TranslateAsync(request).ResponseAsync);
        process.Refresh();
        Assert.Equal(StatusCode.InvalidArgument, pixels.StatusCode);
        Assert.Contains("Limits:MaxPixelsPerRequest", pixels.Status.Detail);
        Assert.InRange(process.WorkingSet64 - before, long.MinValue, 200L * Megabyte);

        // A unary Generate whose images cannot fit one reply is refused up front, pointing at GenerateStream.
        var generate = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(new GenerateRequest { Model = "g", Count = 500, Format = ImageFormat.RawF32 }).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, generate.StatusCode);
        Assert.Contains("Limits:MaxSendMessageBytes", generate.Status.Detail);
        Assert.Contains("GenerateStream", generate.Status.Detail);
        Assert.Equal(1, metrics.Total("gan.requests", "p", "ResourceExhausted"));
        Assert.Equal(1, metrics.Total("gan.requests", "p", "InvalidArgument"));
        Assert.Equal(1, metrics.Total("gan.requests", "g", "ResourceExhausted"));
        Assert.Equal(0, metrics.Total("gan.requests", "g", "OK"));
    }

    [Fact]
    public async Task Defect3_when_the_drain_runs_out_an_idle_watch_and_a_stalled_stream_end_unavailable_and_the_host_stops_within_drain_plus_2s()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", size: 48);
        const double drain = 2;
        await using var server = await RunningServer.StartAsync(models, $"--Shutdown:DrainTimeoutSeconds={drain}", "--Generation:ChunkSize=16");
        using var watch = new Health.HealthClient(server.Channel).Watch(new HealthCheckRequest());
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));

        // A stream whose reader stops after the first image: its writes stall on HTTP/2 flow control.
        using var stalled = server.Client.GenerateStream(new GenerateRequest { Model = "m", Count = 1_000_000, Seed = 1, Format = ImageFormat.RawF32 });
        Assert.True(await stalled.ResponseStream.MoveNext(CancellationToken.None));
        await Task.Delay(500);

        var clock = Stopwatch.StartNew();
        var stopping = server.App.StopAsync();

        // The watch sees NOT_SERVING, then ends as soon as stopping starts.
        Assert.True(await watch.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, watch.ResponseStream.Current.Status);
        var watchEnd = await Assert.ThrowsAsync<RpcException>(() => watch.ResponseStream.MoveNext(CancellationToken.None));
        Assert.Equal(StatusCode.Unavailable, watchEnd.StatusCode);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1));

        await stopping.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(drain - 0.5), TimeSpan.FromSeconds(drain + 2));
        var end = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await stalled.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
        });
        Assert.Equal(StatusCode.Unavailable, end.StatusCode);
    }

    [Fact]
    public async Task Defect4_during_NotServingDelaySeconds_health_is_not_serving_but_calls_are_still_served_then_refused()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, "--Shutdown:NotServingDelaySeconds=2", "--Shutdown:DrainTimeoutSeconds=2");
        var health = new Health.HealthClient(server.Channel);
        var clock = Stopwatch.StartNew();

        server.App.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.Single((await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Seed = 1 })).Images);
        Assert.InRange(clock.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(1.5));

        await Task.Delay(TimeSpan.FromSeconds(2.5) - clock.Elapsed);
        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(new GenerateRequest { Model = "m", Seed = 1 }).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
    }

    [Fact]
    public async Task Defect5_a_caller_without_a_key_learns_nothing_from_the_guard_and_a_message_is_parsed_once()
    {
        var models = new TinyGanModels();
        models.AddImageToImage("p");
        await using var server = await RunningServer.StartAsync(models, "--Security:ApiKeys:0=the-key", $"--Limits:MaxReceiveMessageBytes={Megabyte}");
        var invoker = server.Channel.CreateCallInvoker();
        var raw = new Method<byte[], byte[]>(MethodType.Unary, "gan.v1.GanInference", "Translate", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

        // Keyless: an oversized message and a corrupt one are both UNAUTHENTICATED, and the limit is not told.
        var oversized = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(raw, null, default, new byte[2 * Megabyte]).ResponseAsync);
        var corrupt = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(raw, null, default, new byte[] { 0x0A, 0x7F, 0x41 }).ResponseAsync);
        Assert.All([oversized, corrupt], error => Assert.Equal(StatusCode.Unauthenticated, error.StatusCode));
        Assert.DoesNotContain("1048576", oversized.Status.Detail);

        // Keyed: the guard still refuses a corrupt message (INVALID_ARGUMENT naming it) ...
        var headers = new Metadata { { "authorization", "Bearer the-key" } };
        var keyedCorrupt = await Assert.ThrowsAsync<RpcException>(() => invoker.AsyncUnaryCall(raw, null, new CallOptions(headers), new byte[] { 0x0A, 0x7F, 0x41 }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, keyedCorrupt.StatusCode);
        Assert.StartsWith("request message: not a valid TranslateRequest:", keyedCorrupt.Status.Detail);

        // ... without copying the image bytes again: a 900 KB call allocates about one copy (gRPC's), not two.
        var request = new TranslateRequest { Model = "p", Format = ImageFormat.RawU8 };
        request.Images.Add(new InputImage { Data = ByteString.CopyFrom(GreyPixels(960, 960)), Encoding = InputEncoding.RawU8, Width = 960, Height = 960, Channels = 1 });
        var message = request.ToByteArray();
        for (var i = 0; i < 3; i++)
        {
            await invoker.AsyncUnaryCall(raw, null, new CallOptions(headers), message).ResponseAsync;
        }

        var allocated = long.MaxValue;
        for (var attempt = 0; attempt < 6; attempt++)
        {
            var start = GC.GetTotalAllocatedBytes(precise: true);
            await invoker.AsyncUnaryCall(raw, null, new CallOptions(headers), message).ResponseAsync;
            allocated = Math.Min(allocated, GC.GetTotalAllocatedBytes(precise: true) - start);
        }

        Assert.True(allocated < 1.6 * message.Length, $"a {message.Length}-byte call allocated {allocated} bytes");
    }

    [Fact]
    public async Task Defect6_batch_spans_of_a_model_loaded_by_a_reload_are_not_in_the_reload_trace_and_link_the_requests_they_serve()
    {
        var spans = new System.Collections.Concurrent.ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "GanInference" or "Microsoft.AspNetCore",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var models = new TinyGanModels();
        models.AddUnconditional("first");
        await using var server = await RunningServer.StartAsync(models);

        var reloadTrace = ActivityTraceId.CreateRandom();
        models.AddUnconditional("reloaded-model");
        await new GanAdmin.GanAdminClient(server.Channel).ReloadModelsAsync(new ReloadModelsRequest(), Traceparent(reloadTrace));
        var requestTrace = ActivityTraceId.CreateRandom();
        await server.Client.GenerateAsync(new GenerateRequest { Model = "reloaded-model", Seed = 1 }, Traceparent(requestTrace));

        var batch = Assert.Single(spans, s => s.OperationName == "gan.batch.inference" && (s.GetTagItem("model") as string) == "reloaded-model" && s.Links.Any());
        Assert.NotEqual(reloadTrace, batch.TraceId);
        Assert.Contains(batch.Links, link => link.Context.TraceId == requestTrace);
    }

    [Fact]
    public async Task Defect7_ten_concurrent_TranslateStreams_on_a_small_queue_wait_for_room_and_lose_no_image()
    {
        var models = new TinyGanModels();
        models.AddImageToImage("p");
        await using var server = await RunningServer.StartAsync(models, "--Models:Overrides:p:MaxQueueSize=2", "--Models:Overrides:p:MaxBatchSize=1", "--Models:Overrides:p:MaxQueueDelayMs=0");
        var image = new InputImage { Data = ByteString.CopyFrom(Png(GreyPixels(8, 8), 8, 8, 1)) };

        async Task<int> StreamAsync()
        {
            using var call = server.Client.TranslateStream();
            var writer = Task.Run(async () =>
            {
                for (var i = 0; i < 30; i++)
                {
                    await call.RequestStream.WriteAsync(new TranslateStreamRequest { Model = "p", Format = ImageFormat.RawU8, Image = image });
                }

                await call.RequestStream.CompleteAsync();
            });
            var images = 0;
            await foreach (var answer in call.ResponseStream.ReadAllAsync())
            {
                Assert.True(answer.Image is not null, $"image {answer.Index} was lost: {answer.Error}");
                images++;
            }

            await writer;
            return images;
        }

        var counts = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Task.Run(StreamAsync)));
        Assert.All(counts, count => Assert.Equal(30, count));
    }

    private static Metadata Traceparent(ActivityTraceId trace) =>
        new() { { "traceparent", $"00-{trace.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01" } };
}

/// <summary>Test classes that measure process memory, allocations or timing: they run alone, after the parallel ones.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SoloCollection
{
    public const string Name = "solo";
}
