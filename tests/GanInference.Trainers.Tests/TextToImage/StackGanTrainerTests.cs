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

        var one = await new StackGanTrainer(Options(data, temp.Combine("s1"), ModelKind.StackGanStageOne), new StackGanOptions { Stage = 1, EncoderSteps = 3, Networks = Tiny })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var two = await new StackGanTrainer(Options(data, temp.Combine("s2"), ModelKind.StackGanStageTwo), new StackGanOptions { Stage = 2, StageOneCheckpoint = one.LastCheckpoint, Networks = Tiny })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(3, one.Steps);
        Assert.Equal(3, two.Steps);
        foreach (var run in new[] { "s1", "s2" })
        {
            var rows = File.ReadAllLines(new RunFolder(temp.Combine(run)).LossCsv);
            Assert.Equal(4, rows.Length);
            Assert.All(rows.Skip(1).SelectMany(r => r.Split(',').Skip(2)), v => Assert.True(double.IsFinite(double.Parse(v, CultureInfo.InvariantCulture)), v));
        }

        var info = await Checkpoint.ReadInfoAsync(two.LastCheckpoint, CancellationToken.None);
        Assert.Equal(["test StackGanStageOne"], info.EarlierCommands);
        Assert.Equal(Tiny, info.Architecture.StackGan);

        var classifier = await TestClassifier.ExportAsync(temp, data);
        var models = temp.Combine("models");
        var report = await new StackGanPackageWriter(new StackGanExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = two.LastCheckpoint, OutputDirectory = Path.Combine(models, "tiny-stackgan"), ClassifierPath = classifier, EvaluationSamples = 20 },
            CancellationToken.None);

        Assert.Equal(20, report.Captions);
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
        Assert.False(File.Exists(Path.Combine(models, "tiny-stackgan", "model.onnx")));
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
