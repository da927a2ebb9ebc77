using GanInference.Api.Inference;
using Google.Protobuf;
using Grpc.Core;
using static GanInference.Server.Tests.OpenInference.OipTensorsForTests;

namespace GanInference.Server.Tests.OpenInference;

/// <summary>Bad Open Inference Protocol requests, each answered with the documented status and a message naming the problem.</summary>
[Collection(OipCollection.Name)]
public sealed class OipErrorTests(OipFixture fixture)
{
    private GRPCInferenceService.GRPCInferenceServiceClient Oip => fixture.Oip;

    [Fact]
    public async Task Unknown_model_is_NOT_FOUND_everywhere()
    {
        await AssertStatus(StatusCode.NotFound, "model 'nope' is not loaded", Oip.ModelInferAsync(SeedRequest("nope")).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "model 'nope' is not loaded", Oip.ModelMetadataAsync(new ModelMetadataRequest { Name = "nope" }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "model 'nope' is not loaded", Oip.ModelConfigAsync(new ModelConfigRequest { Name = "nope" }).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "model 'nope' is not loaded", Oip.ModelStatisticsAsync(new ModelStatisticsRequest { Name = "nope" }).ResponseAsync);
    }

    [Fact]
    public async Task Unknown_version_is_NOT_FOUND()
    {
        var request = SeedRequest(OipFixture.Unconditional);
        request.ModelVersion = "7";
        await AssertStatus(StatusCode.NotFound, "model 'o-uncond' has no version '7'; its versions: [1]", Oip.ModelInferAsync(request).ResponseAsync);
        await AssertStatus(StatusCode.NotFound, "has no version '2'", Oip.ModelMetadataAsync(new ModelMetadataRequest { Name = OipFixture.Unconditional, Version = "2" }).ResponseAsync);
    }

    [Fact]
    public async Task An_input_the_model_lacks_is_INVALID_ARGUMENT_listing_its_inputs()
    {
        var request = SeedRequest(OipFixture.Unconditional);
        request.Inputs.Add(Input("label", "INT32", 1));
        request.RawInputContents.Add(Raw(0));
        await AssertStatus(StatusCode.InvalidArgument, "input 'label': is not an input of model 'o-uncond'; its inputs: [seed UINT64, latent FP32]", Oip.ModelInferAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task Wrong_datatype_is_INVALID_ARGUMENT()
    {
        var request = new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "INT64", 1) }, RawInputContents = { Raw(1L) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'seed': datatype 'INT64' is not UINT64", Oip.ModelInferAsync(request).ResponseAsync);

        var unknown = new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "U64", 1) }, RawInputContents = { Raw(1L) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'seed': datatype 'U64' is not a tensor data type", Oip.ModelInferAsync(unknown).ResponseAsync);
    }

    [Fact]
    public async Task Wrong_shape_is_INVALID_ARGUMENT()
    {
        var request = new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "UINT64", 1, 2) }, RawInputContents = { Raw(1UL, 2UL) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'seed': shape [1,2] is not [-1] or [-1,1]", Oip.ModelInferAsync(request).ResponseAsync);

        var latent = new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("latent", "FP32", 1, 3) }, RawInputContents = { Raw(1f, 2f, 3f) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'latent': shape [1,3] is not [-1,8]", Oip.ModelInferAsync(latent).ResponseAsync);

        var labels = new ModelInferRequest { ModelName = OipFixture.Conditional, Inputs = { Input("seed", "UINT64", 2), Input("label", "INT32", 3) }, RawInputContents = { Raw(1UL, 2UL), Raw(0, 1, 2) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'label': shape [3] is not [2] or [2,1]", Oip.ModelInferAsync(labels).ResponseAsync);
    }

    [Fact]
    public async Task Raw_data_whose_length_does_not_match_the_shape_is_INVALID_ARGUMENT()
    {
        var request = new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "UINT64", 2) }, RawInputContents = { Raw(1UL) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'seed': raw data is 8 bytes; shape [2] of UINT64 needs 16", Oip.ModelInferAsync(request).ResponseAsync);

        var typed = Input("seed", "UINT64", 3);
        typed.Contents = new InferTensorContents { Uint64Contents = { 1, 2 } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'seed': has 2 values in 'contents'; shape [3] needs 3", Oip.ModelInferAsync(new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { typed } }).ResponseAsync);

        var count = new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "UINT64", 1) }, RawInputContents = { Raw(1UL), Raw(2UL) } };
        await AssertStatus(StatusCode.InvalidArgument, "raw_input_contents: has 2 entries for 1 inputs", Oip.ModelInferAsync(count).ResponseAsync);
    }

    [Fact]
    public async Task Both_contents_and_raw_is_INVALID_ARGUMENT()
    {
        var seed = Input("seed", "UINT64", 1);
        seed.Contents = new InferTensorContents { Uint64Contents = { 1 } };
        var request = new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { seed }, RawInputContents = { Raw(1UL) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'seed': has both 'contents' and raw_input_contents", Oip.ModelInferAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task BYTES_with_a_length_prefix_past_the_end_is_INVALID_ARGUMENT()
    {
        var data = RawBytes("a red seven"u8.ToArray()).ToByteArray();
        data[0] = 200; // the prefix now claims 200 bytes
        var request = new ModelInferRequest { ModelName = OipFixture.Pipeline, Inputs = { Input("text", "BYTES", 1) }, RawInputContents = { ByteString.CopyFrom(data) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'text': raw BYTES element 0: its length prefix 200 runs past the end of the data (11 bytes left)", Oip.ModelInferAsync(request).ResponseAsync);

        var cut = new ModelInferRequest { ModelName = OipFixture.ImageToImage, Inputs = { Input("image", "BYTES", 2) }, RawInputContents = { ByteString.CopyFrom(RawBytes([1, 2, 3]).ToByteArray().Concat(new byte[] { 9, 0 }).ToArray()) } };
        await AssertStatus(StatusCode.InvalidArgument, "input 'image': raw BYTES data ends at byte 9 inside the length prefix of element 1 of 2", Oip.ModelInferAsync(cut).ResponseAsync);
    }

    [Fact]
    public async Task An_output_the_model_lacks_is_INVALID_ARGUMENT_listing_its_outputs()
    {
        var request = SeedRequest(OipFixture.Unconditional);
        request.Outputs.Add(new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "label" });
        await AssertStatus(StatusCode.InvalidArgument, "output 'label': is not an output of model 'o-uncond'; its outputs: [image, image_f32, png, seed]", Oip.ModelInferAsync(request).ResponseAsync);
    }

    [Fact]
    public async Task Missing_inputs_and_kind_errors_are_answered_like_gan_v1()
    {
        await AssertStatus(StatusCode.InvalidArgument, "inputs: give exactly one of 'seed'", Oip.ModelInferAsync(new ModelInferRequest { ModelName = OipFixture.Unconditional }).ResponseAsync);
        await AssertStatus(StatusCode.InvalidArgument, "labels[0]: 5 is outside 0..2", Oip.ModelInferAsync(new ModelInferRequest
        {
            ModelName = OipFixture.Conditional,
            Inputs = { Input("seed", "UINT64", 1), Input("label", "INT32", 1) },
            RawInputContents = { Raw(1UL), Raw(5) },
        }).ResponseAsync);
        var text = Input("text", "BYTES", 1);
        text.Contents = new InferTensorContents { BytesContents = { ByteString.CopyFromUtf8("a red seven") } };
        await AssertStatus(StatusCode.FailedPrecondition, "runs only as a pipeline step", Oip.ModelInferAsync(new ModelInferRequest { ModelName = OipFixture.Stage2, Inputs = { text } }).ResponseAsync);
    }

    [Fact]
    public async Task A_call_past_its_deadline_is_DEADLINE_EXCEEDED_and_a_malformed_message_INVALID_ARGUMENT()
    {
        await AssertStatus(StatusCode.DeadlineExceeded, string.Empty, Oip.ModelInferAsync(SeedRequest(OipFixture.Unconditional), deadline: DateTime.UtcNow.AddSeconds(-1)).ResponseAsync);

        // A ModelInferRequest whose field 7 (raw_input_contents) claims more bytes than the message holds.
        var method = new Method<byte[], byte[]>(MethodType.Unary, "inference.GRPCInferenceService", "ModelInfer", Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        var invoker = fixture.Server.Channel.CreateCallInvoker();
        await AssertStatus(StatusCode.InvalidArgument, "request message: not a valid ModelInferRequest", invoker.AsyncUnaryCall(method, null, default, [0x3a, 0x10, 0x01]).ResponseAsync);
    }

    private static ModelInferRequest SeedRequest(string model) =>
        new() { ModelName = model, Inputs = { Input("seed", "UINT64", 1) }, RawInputContents = { Raw(1UL) } };

    private static async Task AssertStatus<T>(StatusCode expected, string message, Task<T> call)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => call);
        Assert.Equal(expected, error.StatusCode);
        Assert.Contains(message, error.Status.Detail, StringComparison.Ordinal);
    }
}
