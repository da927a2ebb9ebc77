using System.Text;
using GanInference.Api.Inference;
using GanInference.Api.V1;
using GanInference.Server.Tests.Translation;
using GanInference.Tests.TestModels;
using Google.Protobuf;
using Grpc.Core;
using static GanInference.Server.Tests.OpenInference.OipTensorsForTests;

namespace GanInference.Server.Tests.OpenInference;

/// <summary>The Open Inference Protocol over gRPC: metadata, the mapping of every model kind, equality with gan.v1.</summary>
[Collection(OipCollection.Name)]
public sealed class OipGrpcTests(OipFixture fixture)
{
    private GRPCInferenceService.GRPCInferenceServiceClient Oip => fixture.Oip;

    [Fact]
    public async Task Server_is_live_and_ready_and_lists_the_extensions_it_implements()
    {
        Assert.True((await Oip.ServerLiveAsync(new ServerLiveRequest())).Live);
        Assert.True((await Oip.ServerReadyAsync(new ServerReadyRequest())).Ready);
        Assert.True((await Oip.ModelReadyAsync(new ModelReadyRequest { Name = OipFixture.Conditional })).Ready);
        Assert.True((await Oip.ModelReadyAsync(new ModelReadyRequest { Name = OipFixture.Pipeline, Version = "1" })).Ready);
        Assert.False((await Oip.ModelReadyAsync(new ModelReadyRequest { Name = "nope" })).Ready);
        Assert.False((await Oip.ModelReadyAsync(new ModelReadyRequest { Name = OipFixture.Conditional, Version = "2" })).Ready);

        var metadata = await Oip.ServerMetadataAsync(new ServerMetadataRequest());
        Assert.Equal("gan-inference", metadata.Name);
        Assert.Equal(["model_configuration", "statistics", "model_repository", "binary_tensor_data"], metadata.Extensions);
    }

    [Fact]
    public async Task RepositoryIndex_lists_every_model_and_pipeline_as_ready()
    {
        var index = await Oip.RepositoryIndexAsync(new RepositoryIndexRequest());

        Assert.Equal(
            [OipFixture.Conditional, OipFixture.Pipeline, OipFixture.ImageToImage, OipFixture.Stage1, OipFixture.Stage2, OipFixture.Unconditional],
            index.Models.Select(m => m.Name));
        Assert.All(index.Models, m => Assert.Equal(("1", "READY"), (m.Version, m.State)));
    }

    [Fact]
    public async Task ModelMetadata_maps_each_kind_onto_tensors()
    {
        var conditional = await Oip.ModelMetadataAsync(new ModelMetadataRequest { Name = OipFixture.Conditional });
        Assert.Equal(("onnxruntime_onnx", "1"), (conditional.Platform, conditional.Versions.Single()));
        Assert.Equal(["seed UINT64 [-1]", "latent FP32 [-1,8]", "label INT32 [-1]"], conditional.Inputs.Select(Describe));
        Assert.Equal(["image UINT8 [-1,8,8,3]", "image_f32 FP32 [-1,3,8,8]", "png BYTES [-1]", "seed UINT64 [-1]", "label INT32 [-1]"], conditional.Outputs.Select(Describe));

        var pix = await Oip.ModelMetadataAsync(new ModelMetadataRequest { Name = OipFixture.ImageToImage, Version = "1" });
        Assert.Equal(["image UINT8 [-1,8,8,1]"], pix.Inputs.Select(Describe));
        Assert.Equal(["image UINT8 [-1,8,8,1]", "image_f32 FP32 [-1,1,8,8]", "png BYTES [-1]"], pix.Outputs.Select(Describe));

        var pipeline = await Oip.ModelMetadataAsync(new ModelMetadataRequest { Name = OipFixture.Pipeline });
        Assert.Equal(["text BYTES [-1]", "seed UINT64 [-1]"], pipeline.Inputs.Select(Describe));
        Assert.Equal(["image UINT8 [-1,8,8,3]", "image_f32 FP32 [-1,3,8,8]", "png BYTES [-1]", "seed UINT64 [-1]"], pipeline.Outputs.Select(Describe));

        static string Describe(ModelMetadataResponse.Types.TensorMetadata t) => $"{t.Name} {t.Datatype} [{string.Join(",", t.Shape)}]";
    }

    [Fact]
    public async Task ModelConfig_reports_the_batcher_and_tensors_without_the_batch_dimension()
    {
        var info = await fixture.Gan.GetModelAsync(new GetModelRequest { Model = OipFixture.Unconditional });
        var config = (await Oip.ModelConfigAsync(new ModelConfigRequest { Name = OipFixture.Unconditional })).Config;

        Assert.Equal((OipFixture.Unconditional, "onnxruntime_onnx"), (config.Name, config.Platform));
        Assert.Equal((int)info.Batching.MaxBatchSize, config.MaxBatchSize);
        Assert.Equal((ulong)(info.Batching.MaxQueueDelayMs * 1000), config.DynamicBatching.MaxQueueDelayMicroseconds);
        Assert.Equal(["seed", "latent"], config.Input.Select(i => i.Name));
        Assert.Equal([DataType.TypeUint64, DataType.TypeFp32], config.Input.Select(i => i.DataType));
        Assert.Equal([8L], config.Input[1].Dims);
        Assert.Equal([8L, 8, 1], config.Output[0].Dims);
    }

    [Fact]
    public async Task Unconditional_seeds_in_raw_form_give_the_bytes_of_gan_v1_RAW_U8()
    {
        ulong[] seeds = [100, 7, 123456789012345];
        var gan = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Unconditional, Seeds = { seeds }, Format = ImageFormat.RawU8 });
        var request = new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "UINT64", 3) }, RawInputContents = { Raw(seeds) } };

        var response = await Oip.ModelInferAsync(request);

        Assert.Equal(["image", "seed"], response.Outputs.Select(o => o.Name));
        Assert.Equal([3L, 8, 8, 1], response.Outputs[0].Shape);
        Assert.Equal("UINT8", response.Outputs[0].Datatype);
        Assert.Equal(Concat(gan.Images.Select(i => i.Data)), response.RawOutputContents[0].ToByteArray());
        Assert.Equal(Raw(seeds), response.RawOutputContents[1]);
        Assert.Equal(gan.ContentHash, response.Parameters["content_hash"].StringParam);
        Assert.Equal(2, response.RawOutputContents.Count);
    }

    [Fact]
    public async Task Conditional_seeds_and_labels_as_typed_contents_give_the_bytes_of_gan_v1_RAW_U8_and_the_other_outputs_match_too()
    {
        ulong[] seeds = [1, 2, 3, 4];
        int[] labels = [0, 2, 1, 2];
        var request = new GenerateRequest { Model = OipFixture.Conditional, Seeds = { seeds }, Labels = { labels }, Format = ImageFormat.RawU8 };
        var u8 = await fixture.Gan.GenerateAsync(request);
        request.Format = ImageFormat.RawF32;
        var f32 = await fixture.Gan.GenerateAsync(request);
        request.Format = ImageFormat.Png;
        var png = await fixture.Gan.GenerateAsync(request);

        var seed = Input("seed", "UINT64", 4, 1);
        seed.Contents = new InferTensorContents { Uint64Contents = { seeds } };
        var label = Input("label", "INT32", 4);
        label.Contents = new InferTensorContents { IntContents = { labels } };
        var response = await Oip.ModelInferAsync(new ModelInferRequest
        {
            ModelName = OipFixture.Conditional,
            Id = "req-1",
            Inputs = { seed, label },
            Outputs = { new[] { "png", "image", "image_f32", "label" }.Select(n => new ModelInferRequest.Types.InferRequestedOutputTensor { Name = n }) },
        });

        Assert.Equal("req-1", response.Id);
        Assert.Equal(["png", "image", "image_f32", "label"], response.Outputs.Select(o => o.Name));
        Assert.All(response.Outputs, o => Assert.Null(o.Contents));
        Assert.Equal(png.Images.Select(i => i.Data.ToByteArray()), SplitBytes(Output(response, "png")));
        Assert.Equal(Concat(u8.Images.Select(i => i.Data)), Output(response, "image").ToByteArray());
        Assert.Equal(Concat(f32.Images.Select(i => i.Data)), Output(response, "image_f32").ToByteArray());
        Assert.Equal([4L, 3, 8, 8], response.Outputs[2].Shape);
        Assert.Equal(Raw(labels), Output(response, "label"));
    }

    [Fact]
    public async Task Explicit_latents_and_truncation_reach_the_generator_as_through_gan_v1()
    {
        var latents = Enumerable.Range(0, 2 * TinyGanModels.LatentDim).Select(i => (i % 5) * 0.3f - 0.6f).ToArray();
        var gan = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Unconditional, Latents = { latents }, Format = ImageFormat.RawU8 });
        var truncated = await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Unconditional, Seeds = { 9 }, Truncation = 0.5f, Format = ImageFormat.RawU8 });

        var fromLatents = await Oip.ModelInferAsync(new ModelInferRequest
        {
            ModelName = OipFixture.Unconditional,
            Inputs = { Input("latent", "FP32", 2, TinyGanModels.LatentDim) },
            RawInputContents = { Raw(latents) },
            Outputs = { new ModelInferRequest.Types.InferRequestedOutputTensor { Name = "image" } },
        });
        var fromTruncation = await Oip.ModelInferAsync(new ModelInferRequest
        {
            ModelName = OipFixture.Unconditional,
            Parameters = { ["truncation"] = new InferParameter { DoubleParam = 0.5 } },
            Inputs = { Input("seed", "UINT64", 1) },
            RawInputContents = { Raw(9UL) },
        });

        Assert.Equal(Concat(gan.Images.Select(i => i.Data)), fromLatents.RawOutputContents.Single().ToByteArray());
        Assert.Equal(truncated.Images[0].Data, fromTruncation.RawOutputContents[0]);
    }

    [Fact]
    public async Task Image_to_image_as_UINT8_pixels_or_BYTES_files_gives_the_bytes_of_gan_v1_Translate_RAW_U8()
    {
        var grey = TestImages.GreyPixels(8, 8);
        var other = TestImages.GreyPixels(8, 8, salt: 3);
        var png = TestImages.Png(other, 8, 8, 1);
        var gan = await fixture.Gan.TranslateAsync(new TranslateRequest
        {
            Model = OipFixture.ImageToImage,
            Format = ImageFormat.RawU8,
            Images =
            {
                new InputImage { Data = ByteString.CopyFrom(grey), Encoding = InputEncoding.RawU8, Width = 8, Height = 8, Channels = 1 },
                new InputImage { Data = ByteString.CopyFrom(other), Encoding = InputEncoding.RawU8, Width = 8, Height = 8, Channels = 1 },
            },
        });

        var pixels = await Oip.ModelInferAsync(new ModelInferRequest
        {
            ModelName = OipFixture.ImageToImage,
            Inputs = { Input("image", "UINT8", 2, 8, 8, 1) },
            RawInputContents = { ByteString.CopyFrom([.. grey, .. other]) },
        });
        var files = await Oip.ModelInferAsync(new ModelInferRequest
        {
            ModelName = OipFixture.ImageToImage,
            Inputs = { Input("image", "BYTES", 1) },
            RawInputContents = { RawBytes(png) },
        });

        Assert.Equal(["image"], pixels.Outputs.Select(o => o.Name));
        Assert.Equal([2L, 8, 8, 1], pixels.Outputs[0].Shape);
        Assert.Equal(Concat(gan.Images.Select(i => i.Data)), pixels.RawOutputContents[0].ToByteArray());
        Assert.Equal(gan.Images[1].Data, files.RawOutputContents[0]);
    }

    [Fact]
    public async Task Text_to_image_pipeline_texts_and_seeds_give_the_bytes_of_gan_v1_GenerateFromText_RAW_U8()
    {
        string[] texts = ["a red seven on black", "thin blue one"];
        ulong[] seeds = [5, 6];
        var gan = await fixture.Gan.GenerateFromTextAsync(new GenerateFromTextRequest { Model = OipFixture.Pipeline, Texts = { texts }, Seeds = { seeds }, Format = ImageFormat.RawU8 });

        var text = Input("text", "BYTES", 2);
        text.Contents = new InferTensorContents { BytesContents = { texts.Select(t => ByteString.CopyFromUtf8(t)) } };
        var seed = Input("seed", "UINT64", 2);
        seed.Contents = new InferTensorContents { Uint64Contents = { seeds } };
        var response = await Oip.ModelInferAsync(new ModelInferRequest { ModelName = OipFixture.Pipeline, Inputs = { text, seed } });

        Assert.Equal([2L, 8, 8, 3], response.Outputs[0].Shape);
        Assert.Equal(Concat(gan.Images.Select(i => i.Data)), response.RawOutputContents[0].ToByteArray());
        Assert.Equal(Raw(seeds), Output(response, "seed"));
    }

    [Fact]
    public async Task ModelStatistics_counts_successes_failures_and_batched_executions()
    {
        var before = (await Oip.ModelStatisticsAsync(new ModelStatisticsRequest { Name = OipFixture.Unconditional })).ModelStats.Single();
        await Oip.ModelInferAsync(new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "UINT64", 2) }, RawInputContents = { Raw(1UL, 2UL) } });
        await Oip.ModelMetadataAsync(new ModelMetadataRequest { Name = OipFixture.Unconditional }); // not an inference
        await Assert.ThrowsAsync<RpcException>(async () => await Oip.ModelInferAsync(new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "FP32", 1) }, RawInputContents = { Raw(1f) } }));

        var after = (await Oip.ModelStatisticsAsync(new ModelStatisticsRequest { Name = OipFixture.Unconditional })).ModelStats.Single();
        Assert.Equal((OipFixture.Unconditional, "1"), (after.Name, after.Version));
        Assert.Equal(before.InferenceStats.Success.Count + 1, after.InferenceStats.Success.Count);
        Assert.True(after.InferenceStats.Success.Ns > before.InferenceStats.Success.Ns);
        Assert.Equal(before.InferenceStats.Fail.Count + 1, after.InferenceStats.Fail.Count);
        Assert.True(after.InferenceCount >= before.InferenceCount + 2);
        Assert.True(after.ExecutionCount >= before.ExecutionCount + 1);
        Assert.True(after.InferenceStats.ComputeInfer.Count >= before.InferenceStats.ComputeInfer.Count + 1);
        Assert.True(after.InferenceStats.Queue.Count >= before.InferenceStats.Queue.Count + 1);
        Assert.True(after.LastInference > 0);

        var all = await Oip.ModelStatisticsAsync(new ModelStatisticsRequest());
        Assert.Equal(6, all.ModelStats.Count);
    }

    [Fact]
    public async Task Grpc_reflection_lists_the_service()
    {
        var reflection = new Grpc.Reflection.V1Alpha.ServerReflection.ServerReflectionClient(fixture.Server.Channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new Grpc.Reflection.V1Alpha.ServerReflectionRequest { ListServices = string.Empty });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext());
        Assert.Contains("inference.GRPCInferenceService", call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name));
    }

    [Fact]
    public async Task Request_metrics_are_labelled_by_protocol()
    {
        var seen = new System.Collections.Concurrent.ConcurrentBag<(string Model, string Rpc, string Protocol, string Status)>();
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Name == "gan.requests")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            var all = tags.ToArray();
            string Tag(string key) => all.FirstOrDefault(t => t.Key == key).Value as string ?? string.Empty;
            seen.Add((Tag("model"), Tag("rpc"), Tag("protocol"), Tag("status")));
        });
        listener.Start();

        await fixture.Gan.GenerateAsync(new GenerateRequest { Model = OipFixture.Unconditional, Seeds = { 1 } });
        await Oip.ModelInferAsync(new ModelInferRequest { ModelName = OipFixture.Unconditional, Inputs = { Input("seed", "UINT64", 1) }, RawInputContents = { Raw(1UL) } });
        await Assert.ThrowsAsync<RpcException>(async () => await Oip.ModelInferAsync(new ModelInferRequest { ModelName = OipFixture.Unconditional }));
        using var http = new HttpClient();
        using var rest = await http.PostAsync(
            fixture.Server.HttpAddress + $"/v2/models/{OipFixture.Unconditional}/infer",
            new StringContent("""{"inputs": [{"name": "seed", "shape": [1], "datatype": "UINT64", "data": [1]}]}"""));
        Assert.True(rest.IsSuccessStatusCode);

        Assert.Contains((OipFixture.Unconditional, "Generate", "gan.v1", "OK"), seen);
        Assert.Contains((OipFixture.Unconditional, "ModelInfer", "oip", "OK"), seen);
        Assert.Contains((OipFixture.Unconditional, "ModelInfer", "oip", "InvalidArgument"), seen);
        Assert.Contains((OipFixture.Unconditional, "ModelInfer", "oip-rest", "OK"), seen);
    }

    private static byte[] Concat(IEnumerable<ByteString> parts) => parts.SelectMany(p => p.ToByteArray()).ToArray();
}
