using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Onnx.Proto;
using GanInference.Trainers.Models;
using GanInference.Trainers.Tests.Export;
using GanInference.Trainers.TextToImage;
using GanInference.Trainers.Training;
using Google.Protobuf;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>
/// <c>import-stage1</c> (StageOneImporter): an exported Stage-I ONNX file read back into a Stage-I checkpoint gives a
/// network whose TorchSharp forward is the original's (so every exporter mapping, the GRU's gate reordering included,
/// is undone exactly); a file of other sizes is refused; the shipped file imports and re-exports to the same outputs.
/// </summary>
public sealed class StageOneImporterTests
{
    [Fact]
    public async Task An_imported_checkpoint_computes_what_the_exported_network_computed()
    {
        using var folder = new TempDirectory();
        var (original, onnx, manifest) = await ExportRandomStageOneAsync(folder, seed: 31);
        using var _ = original;

        var info = await StageOneImporter.ImportAsync(onnx, manifest, folder.Combine("checkpoint"), 12.5, "import command", CancellationToken.None);
        random.manual_seed(32);
        using var imported = new StageOneGenerator(SmallStackGan.Networks);
        using var untouched = new StageOneGenerator(SmallStackGan.Networks);
        Checkpoint.LoadWeights(folder.Combine("checkpoint"), StackGanTrainer.StageOneFileName, imported);
        var read = await Checkpoint.ReadInfoAsync(folder.Combine("checkpoint"), CancellationToken.None);

        Assert.Equal(ModelKind.StackGanStageOne, read.Architecture.Kind);
        Assert.Equal(SmallStackGan.Networks.StageOneWidth, read.Architecture.StackGan!.StageOneWidth);
        Assert.Equal(12.5, read.TrainingSeconds);
        Assert.Equal(["train stackgan --stage 1 --run a"], read.EarlierCommands); // the Stage-II command of the manifest is not carried
        Assert.Equal(0.75, read.TestAccuracy);
        Assert.Equal(info.Command, read.Command);

        // Text rows of every length (the GRU's gates and per-row lengths) and rows of padding only (the embedding input).
        using var tokens = SmallStackGan.Tokens(6);
        using var padding = zeros(2, CaptionGrammar.MaxTokens, dtype: ScalarType.Int64);
        using var allTokens = cat([tokens, padding]);
        using var embedding = randn(8, SmallStackGan.Networks.EmbeddingDimension);
        using var z = randn(8, SmallStackGan.Networks.LatentDimension);
        using var epsilon = randn(8, SmallStackGan.Networks.ConditionDimension);
        using var expected = Image(original, allTokens, embedding, z, epsilon);
        using var actual = Image(imported, allTokens, embedding, z, epsilon);
        using var other = Image(untouched, allTokens, embedding, z, epsilon);
        using var sentence = Sentence(original, tokens);
        using var importedSentence = Sentence(imported, tokens);

        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual.data<float>().ToArray()), 0f, 1e-6f);
        Assert.InRange(OnnxParity.MaxAbsDifference(sentence, importedSentence.data<float>().ToArray()), 0f, 1e-6f);
        // The comparison can fail: a network that was not imported draws something else.
        Assert.True(OnnxParity.MaxAbsDifference(expected, other.data<float>().ToArray()) > 1e-2f);
    }

    [Fact]
    public async Task Stage_two_trains_on_an_imported_stage_one_and_keeps_it_frozen()
    {
        using var folder = new TempDirectory();
        var (original, onnx, manifest) = await ExportRandomStageOneAsync(folder, seed: 38);
        using var _ = original;
        var imported = folder.Combine("imported");
        await StageOneImporter.ImportAsync(onnx, manifest, imported, 100, "import command", CancellationToken.None);
        var data = folder.Combine("data");
        TinyMnist.Write(data, trainCount: 32, testCount: 4, gzip: false);

        var options = new TrainingOptions
        {
            Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageTwo },
            DataDirectory = data,
            RunDirectory = folder.Combine("s2"),
            Epochs = 1,
            BatchSize = 16,
            Seed = 3,
            Command = "stage 2 command",
        };
        var networks = SmallStackGan.Networks with { DiscriminatorWidth = 4, StageTwoResidual = true, StageTwoPaper = true };
        var two = await new StackGanTrainer(options, new StackGanOptions { Stage = 2, StageOneCheckpoint = imported, Networks = networks })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var info = await Checkpoint.ReadInfoAsync(two.LastCheckpoint, CancellationToken.None);
        Assert.Equal(["train stackgan --stage 1 --run a", "import command"], info.EarlierCommands);
        Assert.True(info.TrainingSeconds >= 100);
        Assert.True(info.Architecture.StackGan!.StageTwoPaper);
        using var carried = new StageOneGenerator(SmallStackGan.Networks);
        Checkpoint.LoadWeights(two.LastCheckpoint, StackGanTrainer.StageOneFileName, carried);
        var (expected, actual) = (original.state_dict(), carried.state_dict());
        foreach (var name in expected.Keys.Where(name => !name.EndsWith("num_batches_tracked", StringComparison.Ordinal)))
        {
            Assert.True(expected[name].allclose(actual[name], rtol: 0, atol: 0), name);
        }
    }

    [Fact]
    public void Swapping_the_GRU_gates_back_is_what_makes_the_text_encoder_agree()
    {
        // The exporter writes the gates (z, r, h); an import that copied them unchanged into PyTorch's (r, z, n) would give
        // another sentence embedding. Build that wrong import by hand and check the encoder's output changes with it.
        random.manual_seed(33);
        using var original = new StageOneGenerator(SmallStackGan.Networks);
        var model = new StackGanExporter().ExportStageOne(original);
        using var imported = new StageOneGenerator(SmallStackGan.Networks);
        StageOneImporter.Load(model, imported, "test.onnx");
        using var tokens = SmallStackGan.Tokens(4);
        using var expected = Sentence(original, tokens);
        using var right = Sentence(imported, tokens);

        using (no_grad())
        {
            var state = imported.state_dict();
            foreach (var name in new[] { "encoder.inputGates.weight", "encoder.hiddenGates.weight", "encoder.inputGates.bias", "encoder.hiddenGates.bias" })
            {
                var parts = state[name].split(SmallStackGan.Networks.EmbeddingDimension, 0);
                using var unswapped = cat([parts[1], parts[0], parts[2]]);
                state[name].copy_(unswapped);
            }
        }

        using var wrong = Sentence(imported, tokens);
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, right.data<float>().ToArray()), 0f, 1e-6f);
        Assert.True(OnnxParity.MaxAbsDifference(expected, wrong.data<float>().ToArray()) > 1e-3f);
    }

    [Fact]
    public void A_file_of_other_sizes_is_refused_naming_the_initializer_and_both_shapes()
    {
        random.manual_seed(34);
        using var narrow = new StageOneGenerator(SmallStackGan.Networks);
        var model = new StackGanExporter().ExportStageOne(narrow);
        using var wide = new StageOneGenerator(SmallStackGan.Networks with { StageOneWidth = 8 });

        var error = Assert.Throws<InvalidDataException>(() => StageOneImporter.Load(model, wide, "narrow.onnx"));

        Assert.Contains("narrow.onnx", error.Message);
        Assert.Contains("project.weight_t", error.Message);
        Assert.Contains("[16, 512]", error.Message); // the file: (c + z) × 16 · 8 · 4
        Assert.Contains("[16, 1024]", error.Message); // the architecture: (c + z) × 16 · 8 · 8
    }

    [Fact]
    public void A_file_with_weights_the_architecture_has_no_place_for_is_refused()
    {
        random.manual_seed(35);
        using var generator = new StageOneGenerator(SmallStackGan.Networks);
        var model = new StackGanExporter().ExportStageOne(generator);
        model.Graph.Initializer.Add(GanInference.Onnx.OnnxTensors.Create("body.up64.weight", new float[4], 2, 2));
        using var target = new StageOneGenerator(SmallStackGan.Networks);

        var error = Assert.Throws<InvalidDataException>(() => StageOneImporter.Load(model, target, "extra.onnx"));

        Assert.Contains("body.up64.weight [2, 2]", error.Message);
    }

    [Fact]
    public void Files_whose_linear_layers_are_Gemm_with_transposed_weights_import_too()
    {
        // Exports before MatMul + Add wrote a Linear as Gemm(transB = 1) with the weight W itself under X.weight (the
        // first shipped Stage-I was such a file): rewrite an export that way and the import must give the same network.
        random.manual_seed(37);
        using var original = new StageOneGenerator(SmallStackGan.Networks);
        OnnxParity.RandomizeNormalization(original);
        var model = new StackGanExporter().ExportStageOne(original);
        var state = original.state_dict();
        foreach (var initializer in model.Graph.Initializer.Where(t => t.Name.EndsWith(".weight_t", StringComparison.Ordinal)).ToList())
        {
            var name = initializer.Name[..^2];
            using var weight = state[name].detach().contiguous();
            model.Graph.Initializer.Remove(initializer);
            model.Graph.Initializer.Add(GanInference.Onnx.OnnxTensors.Create(name, weight.data<float>().ToArray(), weight.shape));
        }

        Assert.Contains(model.Graph.Initializer, t => t.Name == "project.weight");
        Assert.DoesNotContain(model.Graph.Initializer, t => t.Name.EndsWith(".weight_t", StringComparison.Ordinal));
        using var imported = new StageOneGenerator(SmallStackGan.Networks);
        StageOneImporter.Load(model, imported, "gemm.onnx");
        using var tokens = SmallStackGan.Tokens(5);
        using var embedding = randn(5, SmallStackGan.Networks.EmbeddingDimension);
        using var z = randn(5, SmallStackGan.Networks.LatentDimension);
        using var epsilon = randn(5, SmallStackGan.Networks.ConditionDimension);
        using var expected = Image(original, tokens, embedding, z, epsilon);
        using var actual = Image(imported, tokens, embedding, z, epsilon);

        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual.data<float>().ToArray()), 0f, 1e-6f);
    }

    [Fact]
    public void The_shipped_stage_one_imports_and_re_exports_to_an_ONNX_file_with_the_same_outputs()
    {
        var folder = ShippedFiles.Model("stackgan-digits-stage1");
        var networks = StageOneImporter.ReadArchitecture(Path.Combine(folder, "gan.json"));
        var shipped = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(folder, "model.onnx")));
        using var generator = new StageOneGenerator(networks);
        StageOneImporter.Load(shipped, generator, "shipped");
        var again = new StackGanExporter().ExportStageOne(generator);

        random.manual_seed(36);
        var captions = TextToImageEvaluator.HeldOutCaptions(14);
        using var text = tensor(captions.SelectMany(c => CaptionGrammar.Tokenize(c.Caption)).ToArray(), [captions.Count, CaptionGrammar.MaxTokens]);
        using var tokens = cat([text, zeros(2, CaptionGrammar.MaxTokens, dtype: ScalarType.Int64)]);
        using var embedding = randn(16, networks.EmbeddingDimension);
        using var z = randn(16, networks.LatentDimension);
        using var epsilon = randn(16, networks.ConditionDimension);
        (string, Tensor)[] inputs = [(StackGanExporter.TokensInput, tokens), (StackGanExporter.EmbeddingInput, embedding), (StackGanExporter.LatentInput, z), (StackGanExporter.NoiseInput, epsilon)];
        var expected = OnnxParity.Run(shipped, inputs)[StackGanExporter.ImageOutput];
        var actual = OnnxParity.Run(again, inputs)[StackGanExporter.ImageOutput];
        using var torchImage = Image(generator, tokens, embedding, z, epsilon);

        Assert.Equal(16 * 3 * 32 * 32, expected.Length);
        Assert.InRange(expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max(), 0f, 1e-5f);
        Assert.InRange(OnnxParity.MaxAbsDifference(torchImage, expected), 0f, OnnxParity.Tolerance);
        Assert.True(expected.Max() - expected.Min() > 1f, "the shipped Stage-I draws digits, not a flat image");
    }

    /// <summary>A Stage-I with random weights and normalisation statistics, exported and written to <paramref name="folder"/>; the caller disposes it.</summary>
    private static async Task<(StageOneGenerator Original, string Onnx, string Manifest)> ExportRandomStageOneAsync(TempDirectory folder, int seed)
    {
        random.manual_seed(seed);
        var original = new StageOneGenerator(SmallStackGan.Networks);
        OnnxParity.RandomizeNormalization(original);
        var (onnx, manifest) = await WriteModelAsync(folder, new StackGanExporter().ExportStageOne(original), SmallStackGan.Networks);
        return (original, onnx, manifest);
    }

    private static async Task<(string Onnx, string Manifest)> WriteModelAsync(TempDirectory folder, ModelProto model, StackGanArchitecture networks)
    {
        var onnx = folder.Combine("model.onnx");
        await File.WriteAllBytesAsync(onnx, model.ToByteArray());
        var manifest = new JsonObject
        {
            ["provenance"] = new JsonObject
            {
                ["commands"] = new JsonArray("train stackgan --stage 1 --run a", "train stackgan --stage 2 --run b"),
                ["textEncoderAccuracy"] = 0.75,
                ["architecture"] = JsonSerializer.SerializeToNode(networks, Checkpoint.JsonOptions),
            },
        };
        var manifestPath = folder.Combine("gan.json");
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());
        return (onnx, manifestPath);
    }

    private static Tensor Image(StageOneGenerator generator, Tensor tokens, Tensor embedding, Tensor z, Tensor epsilon)
    {
        generator.eval();
        using var _ = no_grad();
        using var pass = generator.Forward(tokens, embedding, z, epsilon);
        return pass.Image.clone();
    }

    private static Tensor Sentence(StageOneGenerator generator, Tensor tokens)
    {
        using var _ = no_grad();
        return generator.Encoder.forward(tokens);
    }
}
