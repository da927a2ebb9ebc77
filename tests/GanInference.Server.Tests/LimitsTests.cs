using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;
using Grpc.Net.Client;

namespace GanInference.Server.Tests;

/// <summary>Configured limits: each breach is INVALID_ARGUMENT naming the field and the configuration key.</summary>
public sealed class LimitsTests : IAsyncLifetime
{
    private RunningServer _server = null!;

    public async Task InitializeAsync()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        _server = await RunningServer.StartAsync(
            models,
            "--Limits:MaxReceiveMessageBytes=4096",
            "--Limits:MaxImagesPerRequest=10",
            "--Limits:MaxImagesPerStream=100000",
            "--Limits:MaxConcurrentCallsPerConnection=1");
    }

    public Task DisposeAsync() => _server.DisposeAsync().AsTask();

    [Fact]
    public async Task A_request_message_over_the_size_limit_is_refused_before_it_is_read_naming_the_limit()
    {
        var big = new GenerateRequest { Model = "m", Latents = { new float[TinyGanModels.LatentDim * 200] } };
        var small = new GenerateRequest { Model = "m", Latents = { new float[TinyGanModels.LatentDim * 10] } };

        var unary = await Assert.ThrowsAsync<RpcException>(() => _server.Client.GenerateAsync(big).ResponseAsync);
        using var stream = _server.Client.GenerateStream(big);
        var streamed = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(CancellationToken.None));

        foreach (var error in new[] { unary, streamed })
        {
            Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
            Assert.Contains("request message:", error.Status.Detail);
            Assert.Contains("over the limit of 4096 bytes (Limits:MaxReceiveMessageBytes)", error.Status.Detail);
        }

        Assert.Equal(10, (await _server.Client.GenerateAsync(small)).Images.Count);
    }

    [Fact]
    public async Task A_request_that_is_not_valid_protobuf_is_an_invalid_argument_not_an_unknown_error()
    {
        var raw = new Method<byte[], byte[]>(MethodType.Unary, "gan.v1.GanInference", "Generate", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));

        // Field 1 (model) claims 127 bytes; 2 follow.
        var error = await Assert.ThrowsAsync<RpcException>(() => _server.Channel.CreateCallInvoker().AsyncUnaryCall(raw, null, default, new byte[] { 0x0A, 0x7F, 0x41, 0x42 }).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith("request message: not a valid GenerateRequest:", error.Status.Detail);
    }

    [Fact]
    public async Task Image_counts_over_the_per_request_and_per_stream_limits_name_their_configuration_keys()
    {
        var unary = await Assert.ThrowsAsync<RpcException>(() => _server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = 11 }).ResponseAsync);
        using var stream = _server.Client.GenerateStream(new GenerateRequest { Model = "m", Count = 100_001 });
        var streamed = await Assert.ThrowsAsync<RpcException>(() => stream.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.InvalidArgument, unary.StatusCode);
        Assert.Equal("count: 11 images is outside 1..10 for this call (Limits:MaxImagesPerRequest)", unary.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, streamed.StatusCode);
        Assert.Equal("count: 100001 images is outside 1..100000 for this call (Limits:MaxImagesPerStream)", streamed.Status.Detail);
    }

    [Fact]
    public async Task One_connection_runs_at_most_the_configured_number_of_calls_at_once()
    {
        // One HTTP/2 connection per channel, so the connection's stream limit is what the client meets.
        using var first = GrpcChannel.ForAddress(_server.Address, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = false } });
        var client = new Api.V1.GanInference.GanInferenceClient(first);

        // 100,000 float images (25 MB) outgrow HTTP/2 flow control, so the unread stream stays open and holds the slot.
        var holding = client.GenerateStream(new GenerateRequest { Model = "m", Count = 100_000, Seed = 1, Format = ImageFormat.RawF32 });
        Assert.True(await holding.ResponseStream.MoveNext(CancellationToken.None));

        // A second call on the same connection waits for the slot...
        var waiting = await Assert.ThrowsAsync<RpcException>(() =>
            client.ListModelsAsync(new ListModelsRequest(), deadline: DateTime.UtcNow.AddMilliseconds(500)).ResponseAsync);
        Assert.Equal(StatusCode.DeadlineExceeded, waiting.StatusCode);

        // ...while another connection is served at once.
        Assert.Single((await _server.Client.ListModelsAsync(new ListModelsRequest())).Models);

        // Ending the stream frees the slot.
        holding.Dispose();
        Assert.Single((await client.ListModelsAsync(new ListModelsRequest())).Models);
    }
}
