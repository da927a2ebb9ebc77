using GanInference.Onnx;
using GanInference.Trainers.Export;
using GanInference.Trainers.Tests.Export;
using GanInference.Trainers.TextToImage;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>
/// The text encoder (GRU with per-row lengths), Conditioning Augmentation, each stage and the
/// two-stage pipeline with random weights: TorchSharp eval forward vs the exported ONNX in ONNX Runtime.
/// </summary>
public sealed class StackGanParityTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Text_encoder_matches_TorchSharp(int batch)
    {
        random.manual_seed(21);
        using var encoder = new TextEncoder(CaptionGrammar.Vocabulary.Count, 8, 12);
        var graph = new OnnxGraphBuilder("encoder");
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());
        var input = graph.Input("tokens", OnnxType.Int64, Dim.Batch, CaptionGrammar.MaxTokens);
        graph.Node("Identity", [context.Export(encoder, "encoder", input)], "sentence");
        graph.Output("sentence", OnnxType.Float, Dim.Batch, 12);

        using var tokens = SmallStackGan.Tokens(batch);
        using var expected = Forward(() => encoder.forward(tokens));
        var actual = OnnxParity.Run(graph.ToModel(), ("tokens", tokens))["sentence"];

        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    [Fact]
    public void Text_encoder_output_does_not_depend_on_padding_in_TorchSharp_or_ONNX()
    {
        random.manual_seed(22);
        using var encoder = new TextEncoder(CaptionGrammar.Vocabulary.Count, 8, 12);
        var graph = new OnnxGraphBuilder("encoder");
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());
        var input = graph.Input("tokens", OnnxType.Int64, Dim.Batch, CaptionGrammar.MaxTokens);
        graph.Node("Identity", [context.Export(encoder, "encoder", input)], "sentence");
        graph.Output("sentence", OnnxType.Float, Dim.Batch, 12);

        // A 4-word caption padded to 16 beside a 12-word one, so the batch runs 12 steps and the short row sees 8
        // steps of padding (id 0, whose embedding row is random, not zero): processing them would change its output.
        var shortRow = CaptionGrammar.Tokenize("red 7 on black");
        var longRow = CaptionGrammar.Tokenize("a thick red seven drawn on a black background a red seven");
        using var batch = tensor(shortRow.Concat(longRow).ToArray(), [2, CaptionGrammar.MaxTokens]);
        using var wordsOnly = tensor(shortRow.Take(4).ToArray(), [1, 4]);
        using var reference = Forward(() => encoder.forward(wordsOnly));
        using var padded = Forward(() => encoder.forward(batch));
        var onnx = OnnxParity.Run(graph.ToModel(), ("tokens", batch))["sentence"];

        Assert.Equal(12, longRow.Count(t => t != 0));
        Assert.InRange(OnnxParity.MaxAbsDifference(reference, padded[0].unsqueeze(0).data<float>().ToArray()), 0f, 1e-6f);
        Assert.InRange(OnnxParity.MaxAbsDifference(reference, onnx.AsSpan(0, 12).ToArray()), 0f, OnnxParity.Tolerance);

        // And the test could see a difference: one more word (or processed padding) changes the sentence.
        var longer = (long[])shortRow.Clone();
        longer[4] = 1;
        using var fiveWords = tensor(longer, [1, CaptionGrammar.MaxTokens]);
        using var changed = Forward(() => encoder.forward(fiveWords));
        Assert.True(OnnxParity.MaxAbsDifference(reference, changed.data<float>().ToArray()) > 1e-3f);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Conditioning_augmentation_matches_TorchSharp(int batch)
    {
        random.manual_seed(23);
        using var conditioning = new ConditioningAugmentation(12, 6);
        var graph = new OnnxGraphBuilder("ca");
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());
        var sentence = graph.Input("sentence", OnnxType.Float, Dim.Batch, 12);
        var noise = graph.Input("noise", OnnxType.Float, Dim.Batch, 6);
        graph.Node("Identity", [context.Export(conditioning, "ca", sentence, noise)], "c");
        graph.Output("c", OnnxType.Float, Dim.Batch, 6);

        using var e = randn(batch, 12);
        using var epsilon = randn(batch, 6);
        using var expected = Forward(() => conditioning.Sample(e, epsilon).Condition);
        var actual = OnnxParity.Run(graph.ToModel(), ("sentence", e), ("noise", epsilon))["c"];

        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Stage_one_matches_TorchSharp_from_text_and_from_embeddings(int batch)
    {
        random.manual_seed(24);
        using var generator = new StageOneGenerator(SmallStackGan.Networks);
        OnnxParity.RandomizeNormalization(generator);
        var model = new StackGanExporter().ExportStageOne(generator);

        using var tokens = SmallStackGan.Tokens(batch);
        using var z = randn(batch, SmallStackGan.Networks.LatentDimension);
        using var epsilon = randn(batch, SmallStackGan.Networks.ConditionDimension);
        using var embedding = randn(batch, SmallStackGan.Networks.EmbeddingDimension);

        // Text rows: the embedding input is ignored.
        using var expected = Forward(() => generator.Forward(tokens, embedding, z, epsilon).Image);
        var actual = OnnxParity.Run(model, (StackGanExporter.TokensInput, tokens), (StackGanExporter.EmbeddingInput, embedding), (StackGanExporter.LatentInput, z), (StackGanExporter.NoiseInput, epsilon))[StackGanExporter.ImageOutput];
        Assert.Equal([batch, 3, 32, 32], expected.shape);
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);

        // Rows of padding only: the embedding input is used.
        using var padding = zeros(batch, CaptionGrammar.MaxTokens, dtype: ScalarType.Int64);
        using var expectedBypass = Forward(() => generator.Forward(padding, embedding, z, epsilon).Image);
        var bypass = OnnxParity.Run(model, (StackGanExporter.TokensInput, padding), (StackGanExporter.EmbeddingInput, embedding), (StackGanExporter.LatentInput, z), (StackGanExporter.NoiseInput, epsilon))[StackGanExporter.ImageOutput];
        Assert.InRange(OnnxParity.MaxAbsDifference(expectedBypass, bypass), 0f, OnnxParity.Tolerance);
        Assert.True(expected.sub(expectedBypass).abs().max().item<float>() > 1e-3f, "the embedding input must change the image");
    }

    [Theory]
    [InlineData(1, false, false, false)]
    [InlineData(5, false, false, false)]
    [InlineData(1, true, false, false)]
    [InlineData(5, true, false, false)]
    [InlineData(1, false, true, false)]
    [InlineData(5, true, true, false)]
    [InlineData(1, false, true, true)]
    [InlineData(5, true, true, true)]
    public void Stage_two_matches_TorchSharp(int batch, bool residual, bool paper, bool antiAlias)
    {
        random.manual_seed(25);
        using var generator = new StageTwoGenerator(SmallStackGan.Networks with { StageTwoResidual = residual, StageTwoPaper = paper, StageTwoAntiAlias = antiAlias });
        OnnxParity.RandomizeNormalization(generator);
        var model = new StackGanExporter().ExportStageTwo(generator);

        using var tokens = SmallStackGan.Tokens(batch);
        using var image = (rand(batch, 3, 32, 32) * 2) - 1;
        using var epsilon = randn(batch, SmallStackGan.Networks.ConditionDimension);
        using var embedding = zeros(batch, SmallStackGan.Networks.EmbeddingDimension);
        using var expected = Forward(() => generator.Forward(tokens, embedding, image, epsilon).Image);
        var actual = OnnxParity.Run(model, (StackGanExporter.TokensInput, tokens), (StackGanExporter.EmbeddingInput, embedding), (StackGanExporter.StageOneImageInput, image), (StackGanExporter.NoiseInput, epsilon))[StackGanExporter.ImageOutput];

        Assert.Equal([batch, 3, 64, 64], expected.shape);
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    [Fact]
    public void Paper_stage_two_upsamples_without_transposed_convolutions_and_adds_detail_to_a_bilinear_base()
    {
        random.manual_seed(27);
        using var generator = new StageTwoGenerator(SmallStackGan.Networks with { StageTwoResidual = true, StageTwoPaper = true });
        Assert.DoesNotContain(generator.modules(), m => m is TorchSharp.Modules.ConvTranspose2d);
        Assert.DoesNotContain(generator.modules(), m => m is TorchSharp.Modules.InstanceNorm2d);
        Assert.Equal(SmallStackGan.Networks.ResidualBlocks, generator.modules().OfType<BatchNormResidualBlock>().Count());
        generator.ZeroRefinement();
        generator.eval();

        // With the refinement zeroed the output is Stage-I upsampled bilinearly: a horizontal ramp stays a ramp
        // (nearest would repeat each value twice); the ONNX export agrees.
        using var ramp = linspace(-0.9, 0.9, 32).reshape(1, 1, 1, 32).expand(1, 3, 32, 32).contiguous();
        using var tokens = SmallStackGan.Tokens(1);
        using var epsilon = randn(1, SmallStackGan.Networks.ConditionDimension);
        using var embedding = zeros(1, SmallStackGan.Networks.EmbeddingDimension);
        using var output = Forward(() => generator.Forward(tokens, embedding, ramp, epsilon).Image);
        using var expected = Forward(() => nn.functional.interpolate(ramp, scale_factor: [2, 2], mode: InterpolationMode.Bilinear, align_corners: false));
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, output.data<float>().ToArray()), 0f, 1e-6f);
        var row = output[0, 0, 10].data<float>().ToArray();
        Assert.NotEqual(row[20], row[21]);
        var model = new StackGanExporter().ExportStageTwo(generator);
        var actual = OnnxParity.Run(model, (StackGanExporter.TokensInput, tokens), (StackGanExporter.EmbeddingInput, embedding), (StackGanExporter.StageOneImageInput, ramp), (StackGanExporter.NoiseInput, epsilon))[StackGanExporter.ImageOutput];
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Pipeline_matches_TorchSharp_with_seeded_noise(int batch)
    {
        random.manual_seed(26);
        using var stageOne = new StageOneGenerator(SmallStackGan.Networks);
        using var stageTwo = new StageTwoGenerator(SmallStackGan.Networks);
        OnnxParity.RandomizeNormalization(stageOne);
        OnnxParity.RandomizeNormalization(stageTwo);
        var exporter = new StackGanExporter();
        using var pipeline = new OnnxStackGanPipeline(Google.Protobuf.MessageExtensions.ToByteArray(exporter.ExportStageOne(stageOne)), Google.Protobuf.MessageExtensions.ToByteArray(exporter.ExportStageTwo(stageTwo)), SmallStackGan.Networks);

        using var tokens = SmallStackGan.Tokens(batch);
        var seeds = Enumerable.Range(0, batch).Select(i => (ulong)(40 + i)).ToArray();
        var (zValues, oneValues, twoValues) = StackGanNoise.Draw(seeds, SmallStackGan.Networks);
        var (small, large) = pipeline.Generate(tokens.data<long>().ToArray(), null, seeds, CancellationToken.None);

        using var none = zeros(batch, SmallStackGan.Networks.EmbeddingDimension);
        using var expectedSmall = Forward(() => stageOne.Forward(tokens, none, tensor(zValues, [batch, SmallStackGan.Networks.LatentDimension]), tensor(oneValues, [batch, SmallStackGan.Networks.ConditionDimension])).Image);
        using var expectedLarge = Forward(() => stageTwo.Forward(tokens, none, expectedSmall, tensor(twoValues, [batch, SmallStackGan.Networks.ConditionDimension])).Image);
        Assert.InRange(OnnxParity.MaxAbsDifference(expectedSmall, small), 0f, OnnxParity.Tolerance);
        Assert.InRange(OnnxParity.MaxAbsDifference(expectedLarge, large), 0f, OnnxParity.Tolerance);
    }

    [Fact]
    public void A_residual_stage_two_with_its_refinement_zeroed_returns_the_stage_one_image_upsampled()
    {
        random.manual_seed(26);
        using var generator = new StageTwoGenerator(SmallStackGan.Networks with { StageTwoResidual = true });
        OnnxParity.RandomizeNormalization(generator);
        generator.ZeroRefinement();
        generator.eval();

        using var tokens = SmallStackGan.Tokens(3);
        using var image = (rand(3, 3, 32, 32) * 2) - 1;
        using var epsilon = randn(3, SmallStackGan.Networks.ConditionDimension);
        using var embedding = zeros(3, SmallStackGan.Networks.EmbeddingDimension);
        using var output = Forward(() => generator.Forward(tokens, embedding, image, epsilon).Image);
        using var upsampled = image.repeat_interleave(2, 2).repeat_interleave(2, 3);

        Assert.Equal(0f, OnnxParity.MaxAbsDifference(output, upsampled.data<float>().ToArray()));
    }

    private static Tensor Forward(Func<Tensor> forward)
    {
        using var _ = no_grad();
        return forward();
    }
}
