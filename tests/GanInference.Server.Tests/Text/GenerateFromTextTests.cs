using System.Security.Cryptography;
using System.Text;
using GanInference.Api.V1;
using GanInference.Core.Imaging;
using GanInference.Core.Sampling;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;

namespace GanInference.Server.Tests.Text;

[Collection(TextCollection.Name)]
public sealed class GenerateFromTextTests(TextFixture fixture)
{
    private Api.V1.GanInference.GanInferenceClient Client => fixture.Client;

    [Fact]
    public async Task ListModels_shows_text_models_and_bound_pipelines_and_skips_pipelines_that_cannot_run()
    {
        var models = await Client.ListModelsAsync(new ListModelsRequest());

        Assert.Equal(
            [TextFixture.Pipeline, TextFixture.SlowPipeline, TextFixture.SlowStage1, TextFixture.Stage1, TextFixture.Stage2, TextFixture.BigStage2, TextFixture.Unconditional],
            models.Models.Select(m => m.Name));
        var reload = await new GanAdmin.GanAdminClient(fixture.Server.Channel).ReloadModelsAsync(new ReloadModelsRequest());
        var failures = reload.Failures.ToDictionary(f => f.Folder, f => f.Reason);
        Assert.Equal([TextFixture.MismatchedPipeline, TextFixture.MissingStepPipeline], failures.Keys.Order(StringComparer.Ordinal));
        Assert.Contains("pipeline.steps[1].model: 't-nowhere' is not a loaded model", failures[TextFixture.MissingStepPipeline]);
        Assert.Contains("'t-stage2-big' input 'stage1_image' is [-1, 3, 5, 5] in [-1, 1], but step 0 ('t-stage1') outputs [-1, 3, 4, 4] in [-1, 1]", failures[TextFixture.MismatchedPipeline]);
    }

    [Fact]
    public async Task GetModel_of_a_text_model_lists_its_vocabulary_and_text_sizes()
    {
        var info = await Client.GetModelAsync(new GetModelRequest { Model = TextFixture.Stage1 });

        Assert.Equal(ModelKind.TextConditional, info.Kind);
        Assert.Equal(TinyTextModels.Vocabulary, info.Vocabulary);
        Assert.Equal(((uint)TinyTextModels.MaxTokens, (uint)TinyTextModels.EmbeddingDim), (info.MaxTextTokens, info.EmbeddingDim));
        Assert.Equal(["tokens", "embedding", "latent", "noise"], info.Inputs.Select(i => i.Role));
        Assert.Equal((uint)TinyTextModels.LatentDim, info.LatentDim);
        Assert.Empty(info.PipelineSteps);
        Assert.Equal((4u, 4u, 3u), (info.Width, info.Height, info.Channels));
    }

    [Fact]
    public async Task GetModel_of_a_pipeline_shows_a_text_model_with_its_steps_the_last_steps_geometry_and_a_hash_of_the_steps()
    {
        var info = await Client.GetModelAsync(new GetModelRequest { Model = TextFixture.Pipeline });
        var stage1 = await Client.GetModelAsync(new GetModelRequest { Model = TextFixture.Stage1 });
        var stage2 = await Client.GetModelAsync(new GetModelRequest { Model = TextFixture.Stage2 });

        Assert.Equal(ModelKind.TextConditional, info.Kind);
        Assert.Equal([TextFixture.Stage1, TextFixture.Stage2], info.PipelineSteps);
        Assert.Equal((8u, 8u, 3u), (info.Width, info.Height, info.Channels));
        Assert.Equal((-1f, 1f), (info.OutputMin, info.OutputMax));
        Assert.Equal(TinyTextModels.Vocabulary, info.Vocabulary);
        Assert.Equal((uint)TinyTextModels.MaxTokens, info.MaxTextTokens);
        Assert.Equal(stage1.Inputs, info.Inputs);
        Assert.Equal(stage2.Outputs, info.Outputs);
        Assert.Null(info.Batching);
        Assert.Equal("cpu", info.ExecutionProvider);
        Assert.Equal("none (fixed weights)", info.Provenance.Fields["dataset"].StringValue);
        var lines = $"{TextFixture.Stage1} {stage1.ContentHash}\n{TextFixture.Stage2} {stage2.ContentHash}";
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lines))), info.ContentHash);
    }

    [Fact]
    public async Task Images_come_text_major_with_consecutive_seeds_their_text_index_and_the_pipelines_size()
    {
        var response = await Client.GenerateFromTextAsync(new GenerateFromTextRequest
        {
            Model = TextFixture.Pipeline,
            Texts = { "A red seven on black", "thin blue one" },
            Count = 2,
            Seed = 10,
        });

        Assert.Equal(TextFixture.Pipeline, response.Model);
        Assert.Equal((await Client.GetModelAsync(new GetModelRequest { Model = TextFixture.Pipeline })).ContentHash, response.ContentHash);
        Assert.Equal([10UL, 11UL, 12UL, 13UL], response.Images.Select(i => i.Seed));
        Assert.Equal([0u, 0u, 1u, 1u], response.Images.Select(i => i.TextIndex));
        Assert.Equal([0u, 1u, 2u, 3u], response.Images.Select(i => i.Index));
        Assert.All(response.Images, image =>
        {
            Assert.False(image.HasLabel);
            Assert.Equal((8u, 8u, 3u), (image.Width, image.Height, image.Channels));
            var decoded = ImageFiles.Decode(image.Data.Span);
            Assert.Equal((8, 8, 3), (decoded.Width, decoded.Height, decoded.Channels));
        });
        Assert.Equal(4, response.Images.Select(i => Convert.ToHexString(i.Data.Span)).Distinct().Count());
    }

    [Fact]
    public async Task An_image_is_the_same_alone_and_inside_a_request_of_several_texts_and_counts()
    {
        var alone = await GenerateFloats(TextFixture.Pipeline, ["thick green seven"], seeds: [1_000_003]);
        var batch = await Client.GenerateFromTextAsync(new GenerateFromTextRequest
        {
            Model = TextFixture.Pipeline,
            Texts = { "a red one", "THICK green, seven!", "white digit on black background" },
            Count = 3,
            Seed = 1_000_000,
            Format = ImageFormat.RawF32,
        });

        // Image 3 is the first image of text 1, with seed 1_000_000 + 3.
        Assert.Equal((1_000_003UL, 1u), (batch.Images[3].Seed, batch.Images[3].TextIndex));
        Images.AssertClose(alone[0], Images.Floats(batch.Images[3]));
        var again = await GenerateFloats(TextFixture.Pipeline, ["thick green seven"], seeds: [1_000_003]);
        Assert.Equal(alone[0], again[0]);
    }

    [Fact]
    public async Task Stage_one_alone_makes_the_pipelines_intermediate_image_and_stage_two_draws_the_seeds_stream_after_it()
    {
        const ulong Seed = 77;
        var stage1 = await GenerateFloats(TextFixture.Stage1, ["blue seven on white"], seeds: [Seed]);
        var pipeline = await GenerateFloats(TextFixture.Pipeline, ["blue seven on white"], seeds: [Seed]);

        // The tiny stage 2 is 0.5·up2(stage-1 image) + 0.5·tanh(ε₂·W): recompute it from stage 1 alone, with ε₂ the
        // seed's stream after stage 1's latent (4 values) and noise (3 values).
        var stream = new LatentSampler.NormalSequence(Seed, 0);
        stream.Skip(TinyTextModels.LatentDim + TinyTextModels.NoiseDim);
        var noise = new float[TinyTextModels.NoiseDim];
        stream.Fill(noise);
        Images.AssertClose(TinyTextModels.Stage2(stage1[0], noise), pipeline[0]);

        // And stage 1's own draws are the start of the stream: another seed changes stage 1 alone.
        var other = await GenerateFloats(TextFixture.Stage1, ["blue seven on white"], seeds: [Seed + 1]);
        Assert.NotEqual(stage1[0], other[0]);
    }

    [Fact]
    public async Task An_embedding_equal_to_the_encoders_output_gives_the_same_image_as_the_text()
    {
        var tokens = TinyTextModels.Tokens("a", "thin", "red", "seven");
        var embedding = TinyTextModels.Encode(tokens);

        var fromText = await GenerateFloats(TextFixture.Stage1, ["a thin red seven"], seeds: [5, 6]);
        var fromEmbedding = await Client.GenerateFromTextAsync(new GenerateFromTextRequest
        {
            Model = TextFixture.Stage1,
            Embeddings = { embedding },
            Seeds = { 5, 6 },
            Format = ImageFormat.RawF32,
        });
        var otherEmbedding = await Client.GenerateFromTextAsync(new GenerateFromTextRequest
        {
            Model = TextFixture.Stage1,
            Embeddings = { embedding.Select(v => v + 0.5f) },
            Seeds = { 5 },
            Format = ImageFormat.RawF32,
        });

        Assert.Equal([0u, 0u], fromEmbedding.Images.Select(i => i.TextIndex));
        Images.AssertClose(fromText[0], Images.Floats(fromEmbedding.Images[0]));
        Images.AssertClose(fromText[1], Images.Floats(fromEmbedding.Images[1]));
        Assert.True(fromText[0].Zip(Images.Floats(otherEmbedding.Images[0])).Any(p => MathF.Abs(p.First - p.Second) > 1e-3f), "the embedding is not used");
    }

    [Fact]
    public async Task Several_embedding_rows_make_one_image_set_each_through_the_pipeline()
    {
        var red = TinyTextModels.Encode(TinyTextModels.Tokens("red", "seven"));
        var blue = TinyTextModels.Encode(TinyTextModels.Tokens("blue", "one"));

        var response = await Client.GenerateFromTextAsync(new GenerateFromTextRequest
        {
            Model = TextFixture.Pipeline,
            Embeddings = { red, blue },
            Seed = 40,
            Format = ImageFormat.RawF32,
        });
        var texts = await GenerateFloats(TextFixture.Pipeline, ["red seven", "blue one"], seeds: [40, 41]);

        Assert.Equal([0u, 1u], response.Images.Select(i => i.TextIndex));
        Images.AssertClose(texts[0], Images.Floats(response.Images[0]));
        Images.AssertClose(texts[1], Images.Floats(response.Images[1]));
    }

    [Fact]
    public async Task The_stream_returns_the_same_images_in_order()
    {
        var request = new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red seven", "green one" }, Count = 5, Seed = 3, Format = ImageFormat.RawU8 };
        var unary = await Client.GenerateFromTextAsync(request);
        using var call = Client.GenerateFromTextStream(request);
        var streamed = new List<GeneratedImage>();
        while (await call.ResponseStream.MoveNext(CancellationToken.None))
        {
            streamed.Add(call.ResponseStream.Current);
        }

        Assert.Equal(unary.Images, streamed);
    }

    [Fact]
    public async Task Jpeg_and_raw_formats_are_delivered_as_by_Generate()
    {
        var request = new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red seven" }, Seed = 9 };
        request.Format = ImageFormat.RawU8;
        var raw = (await Client.GenerateFromTextAsync(request)).Images[0];
        request.Format = ImageFormat.RawF32;
        var floats = (await Client.GenerateFromTextAsync(request)).Images[0];
        request.Format = ImageFormat.Jpeg;
        request.JpegQuality = 80;
        var jpeg = (await Client.GenerateFromTextAsync(request)).Images[0];

        Assert.Equal(8 * 8 * 3, raw.Data.Length);
        var expected = new byte[8 * 8 * 3];
        ImageCodec.ToHwcBytes(Images.Floats(floats), new ImageGeometry(3, 8, 8, -1, 1), expected);
        Assert.Equal(expected, raw.Data.ToByteArray());
        Assert.Equal(ImageFormat.Jpeg, jpeg.Format);
        Assert.Equal((8, 8, 3), (ImageFiles.Decode(jpeg.Data.Span).Width, ImageFiles.Decode(jpeg.Data.Span).Height, ImageFiles.Decode(jpeg.Data.Span).Channels));
    }

    [Fact]
    public async Task Concurrent_prompts_of_text_and_embedding_calls_share_one_stage_one_batch_and_each_gets_its_own_images()
    {
        // t-slow1 waits up to 2 s for a batch of 4: four single-image calls at once run as one batch.
        var red = TinyTextModels.Encode(TinyTextModels.Tokens("red", "seven"));
        GenerateFromTextRequest[] requests =
        [
            new() { Model = TextFixture.SlowPipeline, Texts = { "red seven" }, Seed = 100, Format = ImageFormat.RawF32 },
            new() { Model = TextFixture.SlowPipeline, Embeddings = { red }, Seed = 101, Format = ImageFormat.RawF32 },
            new() { Model = TextFixture.SlowPipeline, Texts = { "thick white one on black" }, Seed = 102, Format = ImageFormat.RawF32 },
            new() { Model = TextFixture.SlowPipeline, Texts = { "a green digit" }, Seed = 103, Format = ImageFormat.RawF32 },
        ];
        fixture.SlowBatchSizes.Clear();

        var responses = await Task.WhenAll(requests.Select(r => Client.GenerateFromTextAsync(r).ResponseAsync));

        Assert.Equal([4L], fixture.SlowBatchSizes);
        var expected = await GenerateFloats(TextFixture.Pipeline, ["red seven", "red seven", "thick white one on black", "a green digit"], seeds: [100, 101, 102, 103]);
        for (var i = 0; i < requests.Length; i++)
        {
            var image = Assert.Single(responses[i].Images);
            Assert.Equal((100UL + (ulong)i, 0u), (image.Seed, image.TextIndex));
            Images.AssertClose(expected[i], Images.Floats(image));
        }
    }

    public static TheoryData<string, GenerateFromTextRequest, string> BadFields => new()
    {
        { "missing model", new GenerateFromTextRequest { Texts = { "red" } }, "model: is required" },
        { "empty text", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red seven", "" } }, "texts[1]: has no words (words are runs of a-z and 0-9); give 1..6 words" },
        { "punctuation only", new GenerateFromTextRequest { Model = TextFixture.Stage1, Texts = { " ?! " } }, "texts[0]: has no words" },
        {
            "too many words", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "a thick red seven on black background" } },
            "texts[0]: 7 words is over the limit of 6 (max_text_tokens of model 't-pipe')"
        },
        {
            "unknown words", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red seven", "a Purple nine on purple" } },
            "texts[1]: unknown words 'purple', 'nine': not in the vocabulary of model 't-pipe' (GetModel lists it)"
        },
        { "unknown word", new GenerateFromTextRequest { Model = TextFixture.Stage1, Texts = { "red eight" } }, "texts[0]: unknown word 'eight'" },
        { "embedding length", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Embeddings = { 1f, 2f, 3f, 4f, 5f } }, "embeddings: length 5 is not a multiple of embedding_dim 4" },
        { "embedding not finite", new GenerateFromTextRequest { Model = TextFixture.Stage1, Embeddings = { 1f, float.NaN, 3f, 4f } }, "embeddings[1]: NaN is not a finite number" },
        { "both", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red" }, Embeddings = { 1f, 2f, 3f, 4f } }, "texts: texts and embeddings are exclusive: give one or the other" },
        { "neither", new GenerateFromTextRequest { Model = TextFixture.Pipeline }, "texts: give at least one text (or embeddings: rows of embedding_dim 4)" },
        { "seeds count", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red", "blue" }, Count = 2, Seeds = { 1, 2, 3 } }, "seeds: expected 4 values (one per image: 2 texts × count 2), got 3" },
        { "seeds split", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red", "blue" }, Seeds = { 1, 2, 3 } }, "seeds: 3 values do not split evenly over 2 texts" },
        { "text length", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { new string('a', TextFixture.MaxTextLength + 1) } }, $"texts[0]: text of {TextFixture.MaxTextLength + 1} characters is over the limit of {TextFixture.MaxTextLength} (Limits:MaxTextLength)" },
        { "too many texts", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { Enumerable.Repeat("red", TextFixture.MaxTextsPerRequest + 1) } }, $"texts: {TextFixture.MaxTextsPerRequest + 1} texts is outside 1..{TextFixture.MaxTextsPerRequest} for this call (Limits:MaxTextsPerRequest)" },
        { "too many images", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red", "blue" }, Count = 20 }, $"count: 40 images is outside 1..{TextFixture.MaxImagesPerRequest} for this call (Limits:MaxImagesPerRequest)" },
        { "truncation", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red" }, Truncation = -1 }, "truncation: -1 must be 0 or a finite number >= 0.01" },
        { "format", new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red" }, Format = (ImageFormat)9 }, "format: 9 is not one of PNG, JPEG, RAW_U8, RAW_F32" },
    };

    [Theory]
    [MemberData(nameof(BadFields))]
    public async Task A_bad_field_is_an_invalid_argument_naming_the_field_and_the_limit(string because, GenerateFromTextRequest request, string expected)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.GenerateFromTextAsync(request).ResponseAsync);

        Assert.True(error.StatusCode == StatusCode.InvalidArgument, $"{because}: got {error.StatusCode} {error.Status.Detail}");
        Assert.Contains(expected, error.Status.Detail);
    }

    [Fact]
    public async Task A_bad_text_on_the_stream_is_an_invalid_argument_before_any_image()
    {
        using var call = Client.GenerateFromTextStream(new GenerateFromTextRequest { Model = TextFixture.Pipeline, Texts = { "red", "mauve" } });

        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext(CancellationToken.None));

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Contains("texts[1]: unknown word 'mauve'", error.Status.Detail);
    }

    [Fact]
    public async Task An_unknown_model_is_not_found_and_the_message_lists_models_and_pipelines()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => Client.GenerateFromTextAsync(new GenerateFromTextRequest { Model = "nope", Texts = { "red" } }).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        Assert.Equal(
            $"model 'nope' is not loaded; loaded models: [{TextFixture.Pipeline}, {TextFixture.SlowPipeline}, {TextFixture.SlowStage1}, {TextFixture.Stage1}, {TextFixture.Stage2}, {TextFixture.BigStage2}, {TextFixture.Unconditional}]",
            error.Status.Detail);
        var skipped = await Assert.ThrowsAsync<RpcException>(() => Client.GenerateFromTextAsync(new GenerateFromTextRequest { Model = TextFixture.MissingStepPipeline, Texts = { "red" } }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, skipped.StatusCode);
    }

    [Fact]
    public async Task The_wrong_kind_is_a_failed_precondition_that_says_what_to_call_instead()
    {
        async Task<RpcException> Fails(Func<Task> call)
        {
            var error = await Assert.ThrowsAsync<RpcException>(call);
            Assert.Equal(StatusCode.FailedPrecondition, error.StatusCode);
            return error;
        }

        var notText = await Fails(() => Client.GenerateFromTextAsync(new GenerateFromTextRequest { Model = TextFixture.Unconditional, Texts = { "red" } }).ResponseAsync);
        Assert.Equal("model 't-uncond' is unconditional; GenerateFromText serves text-conditional models and pipelines", notText.Status.Detail);

        var stepOnly = await Fails(() => Client.GenerateFromTextAsync(new GenerateFromTextRequest { Model = TextFixture.Stage2, Texts = { "red" } }).ResponseAsync);
        Assert.Equal(
            $"model 't-stage2' takes an image from a previous step (input 'stage1_image'), so it runs only as a pipeline step; call GenerateFromText with the pipeline [{TextFixture.Pipeline}, {TextFixture.SlowPipeline}]",
            stepOnly.Status.Detail);
        var unused = await Fails(() => Client.GenerateFromTextAsync(new GenerateFromTextRequest { Model = TextFixture.BigStage2, Texts = { "red" } }).ResponseAsync);
        Assert.EndsWith("so it runs only as a pipeline step; no served pipeline uses it", unused.Status.Detail);

        var generateText = await Fails(() => Client.GenerateAsync(new GenerateRequest { Model = TextFixture.Stage1 }).ResponseAsync);
        Assert.Equal("model 't-stage1' is text-conditional; Generate serves unconditional and class-conditional models (use GenerateFromText)", generateText.Status.Detail);
        var generatePipeline = await Fails(() => Client.GenerateAsync(new GenerateRequest { Model = TextFixture.Pipeline }).ResponseAsync);
        Assert.Equal($"model 't-pipe' is a text-conditional pipeline of [{TextFixture.Stage1}, {TextFixture.Stage2}]; GenerateFromText serves it", generatePipeline.Status.Detail);
        var translate = await Fails(() => Client.TranslateAsync(new TranslateRequest { Model = TextFixture.Pipeline }).ResponseAsync);
        Assert.Contains("GenerateFromText serves it", translate.Status.Detail);
        await Fails(() => Client.TranslateAsync(new TranslateRequest { Model = TextFixture.Stage1 }).ResponseAsync);
    }

    private async Task<float[][]> GenerateFloats(string model, string[] texts, ulong[] seeds)
    {
        var request = new GenerateFromTextRequest { Model = model, Texts = { texts }, Seeds = { seeds }, Format = ImageFormat.RawF32 };
        var response = await Client.GenerateFromTextAsync(request);
        return response.Images.Select(Images.Floats).ToArray();
    }
}
