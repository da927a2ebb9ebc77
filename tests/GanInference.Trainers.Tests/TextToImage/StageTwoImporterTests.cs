using GanInference.Onnx.Proto;
using GanInference.Trainers.Models;
using GanInference.Trainers.TextToImage;
using GanInference.Trainers.Training;
using Google.Protobuf;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>
/// <c>import-stage2</c> (StageTwoImporter): the shipped Stage-II file reads back into a Stage-II generator that exports
/// to the very same file; a Stage-I checkpoint goes under it in one Stage-II checkpoint with the provenance of both; a
/// Stage-I with another text encoder, or a file with weights the architecture has no place for, is refused.
/// </summary>
public sealed class StageTwoImporterTests
{
    private static string StageOneFolder => ShippedFiles.Model("stackgan-digits-stage1");

    private static string StageTwoFolder => ShippedFiles.Model("stackgan-digits-stage2");

    private static string StageTwoOnnx => Path.Combine(StageTwoFolder, "model.onnx");

    private static string StageTwoManifest => Path.Combine(StageTwoFolder, "gan.json");

    [Fact]
    public void The_shipped_stage_two_reads_back_and_exports_to_the_same_bytes()
    {
        var networks = StageOneImporter.ReadArchitecture(StageTwoManifest);
        var bytes = File.ReadAllBytes(StageTwoOnnx);
        using var generator = new StageTwoGenerator(networks);
        StageTwoImporter.Load(ModelProto.Parser.ParseFrom(bytes), generator, StageTwoOnnx);
        generator.eval();

        var again = new StackGanExporter().ExportStageTwo(generator).ToByteArray();

        Assert.Equal(bytes.Length, again.Length);
        Assert.True(bytes.AsSpan().SequenceEqual(again), "the re-exported Stage-II differs from the shipped file");
    }

    [Fact]
    public async Task A_stage_one_goes_under_the_shipped_stage_two_with_the_provenance_of_both()
    {
        using var folder = new TempDirectory();
        var stageOne = folder.Combine("s1");
        await StageOneImporter.ImportAsync(Path.Combine(StageOneFolder, "model.onnx"), Path.Combine(StageOneFolder, "gan.json"), stageOne, 3786.7, "import stage 1", CancellationToken.None);

        var info = await StageTwoImporter.ImportAsync(StageTwoOnnx, StageTwoManifest, stageOne, average: 1, truncation: 0, stageTwoSeconds: 2726.1, folder.Combine("s2"), "import stage 2", CancellationToken.None);

        var read = await Checkpoint.ReadInfoAsync(folder.Combine("s2"), CancellationToken.None);
        Assert.Equal(ModelKind.StackGanStageTwo, read.Architecture.Kind);
        Assert.Equal((20, 2800L, 64, 2UL), (read.Epoch, read.Step, read.BatchSize, read.Seed));
        Assert.Equal(6512.8, read.TrainingSeconds, 6);
        Assert.Equal("import stage 2", read.Command);
        // The chain: the Stage-I's commands, its import, then every Stage-II command of the shipped manifest (a
        // resumed Stage-II has more than one), read from the manifest rather than assumed.
        var stageTwoCommands = ShippedStageTwoCommands();
        Assert.NotEmpty(stageTwoCommands);
        Assert.Equal(stageTwoCommands, read.EarlierCommands.TakeLast(stageTwoCommands.Length));
        Assert.Equal("import stage 1", read.EarlierCommands[^(stageTwoCommands.Length + 1)]);
        Assert.StartsWith("dotnet run", read.EarlierCommands[0], StringComparison.Ordinal);
        Assert.Null(read.Architecture.StackGan!.StageOneStatisticsTruncation);
        Assert.Equal(info.Architecture.StackGan, read.Architecture.StackGan);

        // Both networks of the checkpoint export to the shipped files: nothing was lost or mixed up on the way.
        var networks = read.Architecture.StackGan;
        using var one = new StageOneGenerator(networks);
        using var two = new StageTwoGenerator(networks);
        Checkpoint.LoadWeights(folder.Combine("s2"), StackGanTrainer.StageOneFileName, one);
        Checkpoint.LoadWeights(folder.Combine("s2"), StackGanTrainer.StageTwoFileName, two);
        one.eval();
        two.eval();
        var exporter = new StackGanExporter();
        Assert.True(File.ReadAllBytes(Path.Combine(StageOneFolder, "model.onnx")).AsSpan().SequenceEqual(exporter.ExportStageOne(one).ToByteArray()));
        Assert.True(File.ReadAllBytes(StageTwoOnnx).AsSpan().SequenceEqual(exporter.ExportStageTwo(two).ToByteArray()));
    }

    [Fact]
    public async Task A_stage_one_with_another_text_encoder_is_refused()
    {
        using var folder = new TempDirectory();
        var stageOne = folder.Combine("s1");
        var imported = await StageOneImporter.ImportAsync(Path.Combine(StageOneFolder, "model.onnx"), Path.Combine(StageOneFolder, "gan.json"), stageOne, 0, "import stage 1", CancellationToken.None);
        using (var generator = new StageOneGenerator(imported.Architecture.StackGan!))
        {
            Checkpoint.LoadWeights(stageOne, StackGanTrainer.StageOneFileName, generator);
            using (no_grad())
            {
                generator.Encoder.state_dict()["words.weight"].add_(1e-3);
            }

            await Checkpoint.SaveAsync(stageOne, imported, new Dictionary<string, nn.Module> { [StackGanTrainer.StageOneFileName] = generator }, CancellationToken.None);
        }

        var error = await Assert.ThrowsAsync<ArgumentException>(() => StageTwoImporter.ImportAsync(StageTwoOnnx, StageTwoManifest, stageOne, 1, 0, 0, folder.Combine("s2"), "import", CancellationToken.None));

        Assert.Contains("--stage1", error.Message, StringComparison.Ordinal);
        Assert.Contains("text encoder differs", error.Message, StringComparison.Ordinal);
        Assert.Contains("0.001", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(folder.Combine("s2")));
    }

    [Fact]
    public async Task A_missing_file_or_a_negative_time_is_refused_naming_the_option()
    {
        using var folder = new TempDirectory();
        var missing = await Assert.ThrowsAsync<FileNotFoundException>(() => StageTwoImporter.ImportAsync(folder.Combine("none.onnx"), StageTwoManifest, "s1", 1, 0, 0, folder.Combine("s2"), "import", CancellationToken.None));
        Assert.StartsWith("--onnx: ", missing.Message, StringComparison.Ordinal);
        var manifest = await Assert.ThrowsAsync<FileNotFoundException>(() => StageTwoImporter.ImportAsync(StageTwoOnnx, folder.Combine("gan.json"), "s1", 1, 0, 0, folder.Combine("s2"), "import", CancellationToken.None));
        Assert.Contains("the Stage-II sizes", manifest.Message, StringComparison.Ordinal);
        var seconds = await Assert.ThrowsAsync<ArgumentException>(() => StageTwoImporter.ImportAsync(StageTwoOnnx, StageTwoManifest, "s1", 1, 0, -1, folder.Combine("s2"), "import", CancellationToken.None));
        Assert.Equal("--stage2-seconds must be 0 or more, got -1.", seconds.Message);
    }

    [Fact]
    public void A_file_with_weights_the_architecture_has_no_place_for_is_refused_but_the_graph_constants_are_not()
    {
        var networks = StageOneImporter.ReadArchitecture(StageTwoManifest);
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(StageTwoOnnx));
        model.Graph.Initializer.Add(GanInference.Onnx.OnnxTensors.Create("up.conv128.weight", new float[4], 2, 2));
        using var generator = new StageTwoGenerator(networks);

        var error = Assert.Throws<InvalidDataException>(() => StageTwoImporter.Load(model, generator, "extra.onnx"));

        Assert.Contains("up.conv128.weight [2, 2]", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("binomial_kernel", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("scales", error.Message, StringComparison.Ordinal);
    }

    private static string[] ShippedStageTwoCommands() =>
        System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(StageTwoManifest))!["provenance"]!["commands"]!.AsArray()
            .Select(c => c!.GetValue<string>())
            .Where(c => c.Contains("--stage 2", StringComparison.Ordinal))
            .ToArray();
}
