using System.Globalization;
using System.Text.Json;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using GanInference.Trainers.Tests.Export;
using GanInference.Trainers.TextToImage;
using GanInference.Trainers.Training;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>A few real steps of both stages with tiny networks on tiny generated digits, then the export of all three folders.</summary>
public sealed class StackGanTrainerTests
{
    private static readonly StackGanArchitecture Tiny = new() { WordDimension = 8, EmbeddingDimension = 12, ConditionDimension = 6, LatentDimension = 10, StageOneWidth = 4, StageTwoWidth = 8, DiscriminatorWidth = 4, ResidualBlocks = 1 };

    private static TrainingOptions Options(string data, string run, ModelKind kind) => new()
    {
        Architecture = new GanArchitecture { Kind = kind },
        DataDirectory = data,
        RunDirectory = run,
        Epochs = 1,
        BatchSize = 16,
        Seed = 3,
        Command = $"test {kind}",
    };

    [Fact]
    public async Task Trains_both_stages_with_finite_losses_and_exports_stages_and_pipeline()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 48, testCount: 20, gzip: false);

        var classifier = await TestClassifier.ExportAsync(temp, data);

        // Stage 1 with the auxiliary attribute classifier on; both stages score the held-out captions after each epoch.
        // Stage 2 takes Stage-I's shapes from its checkpoint, whatever its command line says.
        var one = await new StackGanTrainer(Options(data, temp.Combine("s1"), ModelKind.StackGanStageOne), new StackGanOptions { Stage = 1, EncoderSteps = 3, Networks = Tiny, AuxiliaryWeight = 1, KlWeight = 0.1, ClassifierPath = classifier })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var two = await new StackGanTrainer(Options(data, temp.Combine("s2"), ModelKind.StackGanStageTwo), new StackGanOptions { Stage = 2, StageOneCheckpoint = one.LastCheckpoint, Networks = Tiny with { StageOneWidth = 8 }, ClassifierPath = classifier })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(3, one.Steps);
        Assert.Equal(3, two.Steps);
        foreach (var run in new[] { "s1", "s2" })
        {
            var rows = File.ReadAllLines(new RunFolder(temp.Combine(run)).LossCsv);
            Assert.Equal(4, rows.Length);
            Assert.All(rows.Skip(1).SelectMany(r => r.Split(',').Skip(2)), v => Assert.True(double.IsFinite(double.Parse(v, CultureInfo.InvariantCulture)), v));
            var heldOut = File.ReadAllLines(Path.Combine(temp.Combine(run), HeldOutMonitor.FileName));
            Assert.Equal(["epoch,digit,colour,background,thickness"], heldOut.Take(1));
            Assert.Equal(5, heldOut[1].Split(',').Length);
            var figures = heldOut[1].Split(',');
            Assert.Equal("1", figures[0]);
            Assert.All(figures.Skip(1), v => Assert.InRange(double.Parse(v, CultureInfo.InvariantCulture), 0, 1));
        }

        var info = await Checkpoint.ReadInfoAsync(two.LastCheckpoint, CancellationToken.None);
        Assert.Equal(["test StackGanStageOne"], info.EarlierCommands);
        Assert.Equal(Tiny, info.Architecture.StackGan);

        var models = temp.Combine("models");
        var report = await new StackGanPackageWriter(new StackGanExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = two.LastCheckpoint, OutputDirectory = Path.Combine(models, "tiny-stackgan"), ClassifierPath = classifier, EvaluationSamples = 20, Truncation = 1.5f },
            CancellationToken.None);

        Assert.Equal(20, report.Captions);
        Assert.Equal(1.5f, report.Truncation);
        Assert.InRange(report.RealBackgroundAccuracy, 0.95, 1.0); // the reader reads real renders
        Assert.InRange(report.RealColourAccuracy, 0.95, 1.0);
        Assert.InRange(report.EmbeddingPathMaxDifference!.Value, 0, 1e-4);
        foreach (var stage in new[] { "tiny-stackgan-stage1", "tiny-stackgan-stage2" })
        {
            Assert.True(File.Exists(Path.Combine(models, stage, "model.onnx")), stage);
            Assert.True(File.Exists(Path.Combine(models, stage, "samples.png")), stage);
            using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(models, stage, "gan.json")));
            Assert.Equal("text-conditional", manifest.RootElement.GetProperty("kind").GetString());
            Assert.Equal(CaptionGrammar.Vocabulary.Count, manifest.RootElement.GetProperty("text").GetProperty("vocabulary").GetArrayLength());
        }

        using var pipeline = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(models, "tiny-stackgan", "gan.json")));
        var steps = pipeline.RootElement.GetProperty("pipeline").GetProperty("steps").EnumerateArray().Select(s => s.GetProperty("model").GetString()!).ToArray();
        Assert.Equal(["tiny-stackgan-stage1", "tiny-stackgan-stage2"], steps);
        Assert.Equal(1.5f, pipeline.RootElement.GetProperty("defaults").GetProperty("truncation").GetSingle()); // what the server uses when a request gives none
        Assert.False(File.Exists(Path.Combine(models, "tiny-stackgan", "model.onnx")));
    }

    [Fact]
    public async Task A_resumed_stage_one_run_continues_from_its_checkpoint_with_optimizer_state()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        // Test digits of every class: the export's thickness figures paint real renders of all held-out combinations.
        TinyMnist.Write(data, trainCount: 32, testCount: 10, gzip: false);
        var run = temp.Combine("s1");
        var stack = new StackGanOptions { Stage = 1, EncoderSteps = 2, Networks = Tiny, AuxiliaryWeight = 1 };
        var first = await new StackGanTrainer(Options(data, run, ModelKind.StackGanStageOne), stack).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        Assert.True(File.Exists(Path.Combine(first.LastCheckpoint, Checkpoint.GeneratorOptimizerFileName)));

        // The command line asks for other widths: a resumed run keeps the checkpoint's.
        var resumed = await new StackGanTrainer(
                Options(data, run, ModelKind.StackGanStageOne) with { Epochs = 2, ResumeFrom = first.LastCheckpoint },
                stack with { Networks = Tiny with { StageOneWidth = 8 } })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(2 * first.Steps, resumed.Steps);
        Assert.Equal(1 + (2 * first.Steps), File.ReadAllLines(new RunFolder(run).LossCsv).Length);
        var info = await Checkpoint.ReadInfoAsync(resumed.LastCheckpoint, CancellationToken.None);
        Assert.Equal(2, info.Epoch);
        Assert.Equal(Tiny, info.Architecture.StackGan);
        Assert.Equal(["test StackGanStageOne"], info.EarlierCommands);

        // evaluate-stage1 reads the mean of the two epochs on held-out captions, per digit too.
        var classifier = await TestClassifier.ExportAsync(temp, data);
        var figures = await StageOneCheckpointEvaluator.EvaluateAsync(resumed.LastCheckpoint, 2, 1f, 30, classifier, null, CancellationToken.None);
        Assert.Equal((30, 2, 1f), (figures.Captions, figures.AveragedEpochs, figures.Truncation));
        Assert.All(new[] { figures.Digit, figures.Colour, figures.Background, figures.Thickness, figures.RealThickness }, v => Assert.InRange(v, 0, 1));
        Assert.Equal(10, figures.DigitByClass.Count);
        Assert.Equal(3, figures.ThicknessByCaption.Count);
        // The reader, calibrated on the training bars, tells real renders of the same captions apart without a miss.
        Assert.Equal(1.0, figures.RealThickness);

        // Stage 2 on the mean of the two Stage-I epochs: its checkpoint carries that mean.
        var two = await new StackGanTrainer(Options(data, temp.Combine("s2"), ModelKind.StackGanStageTwo), new StackGanOptions { Stage = 2, StageOneCheckpoint = resumed.LastCheckpoint, StageOneAverageEpochs = 2, Networks = Tiny with { StageTwoPaper = true, StageTwoResidual = true, StageTwoAntiAlias = true } })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        using var epochOne = new StageOneGenerator(Tiny);
        using var epochTwo = new StageOneGenerator(Tiny);
        using var averaged = new StageOneGenerator(Tiny);
        Checkpoint.LoadWeights(first.LastCheckpoint, StackGanTrainer.StageOneFileName, epochOne);
        Checkpoint.LoadWeights(resumed.LastCheckpoint, StackGanTrainer.StageOneFileName, epochTwo);
        Checkpoint.LoadWeights(two.LastCheckpoint, StackGanTrainer.StageOneFileName, averaged);
        var (a, b, mean) = (epochOne.state_dict(), epochTwo.state_dict(), averaged.state_dict());
        Assert.Contains(a.Keys, name => a[name].is_floating_point() && !a[name].allclose(b[name])); // the epochs differ
        foreach (var name in a.Keys.Where(name => a[name].is_floating_point()))
        {
            using var expected = (a[name] + b[name]) / 2;
            // Weights are the mean; BatchNorm statistics are re-estimated for the mean weights (GeneratorAveragingTests).
            Assert.True(expected.allclose(mean[name], rtol: 1e-5, atol: 1e-6) != name.Contains(".running_", StringComparison.Ordinal), name);
        }

        var twoInfo = await Checkpoint.ReadInfoAsync(two.LastCheckpoint, CancellationToken.None);
        Assert.Equal(0f, twoInfo.Architecture.StackGan!.StageOneStatisticsTruncation);
        Assert.True(twoInfo.Architecture.StackGan.StageTwoPaper);
        Assert.True(twoInfo.Architecture.StackGan.StageTwoAntiAlias);

        // The paper's Stage-II exports and evaluates; the export refuses a truncation other than the one the averaged
        // Stage-I's statistics were estimated at.
        var export = new ExportOptions { CheckpointDirectory = two.LastCheckpoint, OutputDirectory = temp.Combine("models", "paper"), ClassifierPath = classifier, EvaluationSamples = 20 };
        var refused = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanPackageWriter(new StackGanExporter()).WriteAsync(export with { Truncation = 1f }, CancellationToken.None));
        Assert.Contains("--stage1-truncation", refused.Message, StringComparison.Ordinal);
        var report = await new StackGanPackageWriter(new StackGanExporter()).WriteAsync(export, CancellationToken.None);
        Assert.Equal(20, report.Captions);
        Assert.Equal(3, report.BorderRoughness!.Count);
        Assert.Equal(TextToImageEvaluator.DefaultThicknessCaptions, report.ThicknessCaptions);
        Assert.All(new[] { report.ThicknessAccuracy, report.StageOneThicknessAccuracy, report.RealThicknessAccuracy, report.RealStageOneThicknessAccuracy }, v => Assert.InRange(v!.Value, 0, 1));
        Assert.True(File.Exists(Path.Combine(temp.Combine("models", "paper-stage2"), "model.onnx")));

        // The report set (the thickness captions, seeds 20000..) is read for digit, colour and background too: real renders
        // of those captions read back with every background and nearly every colour right, which they would not if the
        // figures were read against another set's captions; the manifest carries them beside the selection set's.
        Assert.Equal(1.0, report.RealReportAccuracy!.Value.Background);
        Assert.InRange(report.RealReportAccuracy.Value.Colour, 0.9, 1);
        Assert.All(new[] { report.ReportAccuracy!.Value.Digit, report.ReportAccuracy.Value.Colour, report.ReportAccuracy.Value.Background }, v => Assert.InRange(v, 0, 1));
        using var manifest = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(temp.Combine("models", "paper"), "gan.json")));
        var metrics = manifest.RootElement.GetProperty("provenance").GetProperty("metrics");
        Assert.Equal(Math.Round(report.ReportAccuracy.Value.Colour, 4), metrics.GetProperty("reportColourAccuracy").GetDouble());
        Assert.Contains("report set", manifest.RootElement.GetProperty("provenance").GetProperty("evaluation").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stage_two_without_a_stage_one_checkpoint_is_a_clear_error()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 16, testCount: 4, gzip: false);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(Options(data, temp.Combine("s2"), ModelKind.StackGanStageTwo), new StackGanOptions { Stage = 2, Networks = Tiny })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--stage1", error.Message, StringComparison.Ordinal);
    }
}
