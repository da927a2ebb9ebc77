using GanInference.Trainers.Tests.Export;
using System.Globalization;
using System.Text.Json;
using GanInference.Core.Manifests;
using GanInference.Trainers.Data;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using static TorchSharp.torch;
using ModelKind = GanInference.Trainers.Models.ModelKind;

namespace GanInference.Trainers.Tests.Training;

/// <summary>
/// A few real Pix2Pix and CycleGAN steps on tiny generated digits with tiny networks, then the
/// export of what they trained: real checkpoints, real ONNX files, real evaluation.
/// </summary>
public sealed class ImageToImageTrainerTests
{
    private static TrainingOptions Options(string data, string run, ModelKind kind) => new()
    {
        Architecture = new GanArchitecture { Kind = kind, GeneratorWidth = 4, DiscriminatorWidth = 4, ResidualBlocks = kind == ModelKind.CycleGan ? 1 : null },
        DataDirectory = data,
        RunDirectory = run,
        Epochs = 2,
        BatchSize = 4,
        Seed = 3,
        Command = "test",
    };

    [Fact]
    public async Task Pix2Pix_trains_checkpoints_and_exports_a_model_the_server_accepts()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 12, testCount: 40, gzip: true);
        var options = Options(data, temp.Combine("run"), ModelKind.Pix2Pix);

        var result = await new Pix2PixTrainer(options).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(6, result.Steps); // 12 / 4 = 3 steps per epoch, 2 epochs
        AssertLossLog(new RunFolder(options.RunDirectory), "epoch,step,d_loss,g_gan,g_l1,d_real,d_fake,lr", rows: 6);
        AssertWeightsMoved(options, Checkpoint.GeneratorFileName, () => TranslationModels.CreatePix2PixGenerator(options.Architecture));

        var classifier = await TestClassifier.ExportAsync(temp, data);
        var output = temp.Combine("models", "tiny-pix2pix");
        var report = await new ImageToImagePackageWriter(new ImageToImageExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = result.LastCheckpoint, OutputDirectory = output, ClassifierPath = classifier, EvaluationSamples = 20 },
            CycleDirection.AToB,
            CancellationToken.None);

        Assert.Equal("outline2digit", report.Task);
        Assert.Null(report.CycleL1);
        Assert.InRange(report.RecognitionRate, 0, 1);
        Assert.InRange(report.MeanL1ToTarget, 0.0001, 1);
        Assert.Single(report.BackgroundColor);
        await AssertModelFolderAsync(output, inputChannels: 1, outputChannels: 1, TranslationTask.OutlineToDigit);
    }

    [Fact]
    public async Task CycleGan_trains_checkpoints_and_exports_both_directions()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 16, testCount: 40, gzip: false);
        var options = Options(data, temp.Combine("run"), ModelKind.CycleGan);

        var result = await new CycleGanTrainer(options).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(4, result.Steps); // 8 digits per domain / 4 = 2 steps per epoch, 2 epochs
        AssertLossLog(new RunFolder(options.RunDirectory), "epoch,step,d_a,d_b,g_a2b,g_b2a,cycle,identity,lr", rows: 4);
        AssertWeightsMoved(options, TranslationModels.GeneratorAToBFileName, () => TranslationModels.CreateCycleGenerator(options.Architecture, CycleDirection.AToB));
        AssertWeightsMoved(options, TranslationModels.GeneratorBToAFileName, () => TranslationModels.CreateCycleGenerator(options.Architecture, CycleDirection.BToA));

        var classifier = await TestClassifier.ExportAsync(temp, data);
        var writer = new ImageToImagePackageWriter(new ImageToImageExporter());
        var aToB = await writer.WriteAsync(
            new ExportOptions { CheckpointDirectory = result.LastCheckpoint, OutputDirectory = temp.Combine("models", "a2b"), ClassifierPath = classifier, EvaluationSamples = 20 },
            CycleDirection.AToB,
            CancellationToken.None);
        var bToA = await writer.WriteAsync(
            new ExportOptions { CheckpointDirectory = result.LastCheckpoint, OutputDirectory = temp.Combine("models", "b2a"), ClassifierPath = classifier, EvaluationSamples = 20 },
            CycleDirection.BToA,
            CancellationToken.None);

        Assert.Equal("digits-a2b", aToB.Task);
        Assert.Equal(3, aToB.BackgroundColor.Length);
        Assert.All(aToB.TargetBackgroundColor.Zip(InkDigits.Paper), c => Assert.InRange(c.First, (c.Second * 255) - 10, (c.Second * 255) + 1));
        Assert.InRange(aToB.CycleL1!.Value, 0.0001, 1);
        Assert.Equal("digits-b2a", bToA.Task);
        Assert.Single(bToA.StrokeColor);
        Assert.NotNull(bToA.CycleL1);
        await AssertModelFolderAsync(temp.Combine("models", "a2b"), inputChannels: 1, outputChannels: 3, TranslationTask.DigitsAToB);
        await AssertModelFolderAsync(temp.Combine("models", "b2a"), inputChannels: 3, outputChannels: 1, TranslationTask.DigitsBToA);

        // The standalone evaluation of the exported pair gives the export's figures.
        using var model = new OnnxTranslatorSession(Path.Combine(temp.Combine("models", "a2b"), "model.onnx"));
        using var reverse = new OnnxTranslatorSession(Path.Combine(temp.Combine("models", "b2a"), "model.onnx"));
        var again = await new ImageToImageEvaluator(classifier, data).EvaluateAsync(model, reverse, 20, CancellationToken.None);
        Assert.Equal(aToB.ToMetrics(), again.ToMetrics());
        await Assert.ThrowsAsync<ArgumentException>(() => new ImageToImageEvaluator(classifier, data).EvaluateAsync(model, model, 20, CancellationToken.None));
    }

    [Fact]
    public async Task Pix2Pix_resumed_run_with_short_epochs_equals_an_uninterrupted_one()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 12, testCount: 10, gzip: false);
        var straight = Options(data, temp.Combine("straight"), ModelKind.Pix2Pix);
        var split = Options(data, temp.Combine("split"), ModelKind.Pix2Pix);

        var whole = await new Pix2PixTrainer(straight, new TranslationSchedule { ImagesPerEpoch = 8 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        await new Pix2PixTrainer(split with { Epochs = 1 }, new TranslationSchedule { ImagesPerEpoch = 8 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var resumed = await new Pix2PixTrainer(split with { ResumeFrom = new RunFolder(split.RunDirectory).LatestCheckpoint }, new TranslationSchedule { ImagesPerEpoch = 8 })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(4, whole.Steps); // 8 images per epoch / 4 = 2 steps, 2 epochs
        Assert.Equal(whole.Steps, resumed.Steps);
        using var a = TranslationModels.LoadGenerator(whole.LastCheckpoint, straight.Architecture, CycleDirection.AToB);
        using var b = TranslationModels.LoadGenerator(resumed.LastCheckpoint, split.Architecture, CycleDirection.AToB);
        Assert.Equal(Parameters(a), Parameters(b));
        var info = await Checkpoint.ReadInfoAsync(resumed.LastCheckpoint, CancellationToken.None);
        Assert.Equal(["test"], info.EarlierCommands);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Pix2PixTrainer(straight, new TranslationSchedule { ImagesPerEpoch = -1 }));
    }

    [Theory]
    [InlineData(ModelKind.Pix2Pix)]
    [InlineData(ModelKind.CycleGan)]
    public async Task Learning_rate_decays_linearly_over_the_last_epochs_as_the_reference(ModelKind kind)
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 16, testCount: 10, gzip: false);
        var schedule = new TranslationSchedule { DecayEpochs = 2 };
        var decayed = Options(data, temp.Combine("decayed"), kind) with { Epochs = 3, LearningRate = 1e-3 };

        var whole = await Train(decayed, schedule);

        // The reference's rule for 1 constant + 2 decay epochs: 1, 1 − 1/3, 1 − 2/3 of the rate.
        double[] expected = [1e-3, 1e-3 * 2 / 3, 1e-3 / 3];
        var rates = File.ReadAllLines(new RunFolder(decayed.RunDirectory).LossCsv).Skip(1)
            .Select(r => r.Split(','))
            .GroupBy(r => int.Parse(r[0], CultureInfo.InvariantCulture))
            .Select(g => g.Select(r => double.Parse(r[^1], CultureInfo.InvariantCulture)).Distinct().Single())
            .ToArray();
        Assert.Equal(expected.Length, rates.Length);
        for (var i = 0; i < expected.Length; i++)
        {
            Assert.Equal(expected[i], rates[i], 1e-9); // loss.csv keeps 7 significant digits
        }

        if (kind == ModelKind.Pix2Pix)
        {
            // The optimizers really used it: the same schedule stopped after two epochs, then resumed for the third at a
            // constant lr/3, is the same run (CycleGAN's image pool restarts empty on resume, so only Pix2Pix is exact).
            var split = decayed with { RunDirectory = temp.Combine("split") };
            await Train(split with { MaxSteps = 8 }, schedule); // 16 / 4 = 4 steps per epoch: epochs 1 and 2
            var resumed = await Train(split with { LearningRate = 1e-3 / 3, ResumeFrom = new RunFolder(split.RunDirectory).Checkpoint(2) }, new TranslationSchedule());
            using var a = TranslationModels.CreatePix2PixGenerator(decayed.Architecture);
            using var b = TranslationModels.CreatePix2PixGenerator(decayed.Architecture);
            Checkpoint.LoadWeights(whole.LastCheckpoint, Checkpoint.GeneratorFileName, a);
            Checkpoint.LoadWeights(resumed.LastCheckpoint, Checkpoint.GeneratorFileName, b);
            Assert.Equal(Parameters(a), Parameters(b));
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => new TranslationSchedule { DecayEpochs = -1 }.Validate());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Train(decayed, new TranslationSchedule { DecayEpochs = 4 }));
    }

    private static Task<TrainingResult> Train(TrainingOptions options, TranslationSchedule schedule) =>
        options.Architecture.Kind == ModelKind.Pix2Pix
            ? new Pix2PixTrainer(options, schedule).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None)
            : new CycleGanTrainer(options, schedule).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

    [Fact]
    public async Task A_time_limit_stops_after_the_epoch_that_passes_it()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 12, testCount: 10, gzip: false);
        var options = Options(data, temp.Combine("run"), ModelKind.Pix2Pix) with { Epochs = 5 };

        var result = await new Pix2PixTrainer(options, new TranslationSchedule { MaxMinutes = 1e-6 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(3, result.Steps); // one whole epoch of 12 / 4 steps, then the limit
        Assert.Equal(1, (await Checkpoint.ReadInfoAsync(result.LastCheckpoint, CancellationToken.None)).Epoch);
        Assert.Throws<ArgumentOutOfRangeException>(() => new TranslationSchedule { MaxMinutes = -1 }.Validate());
    }

    private static void AssertLossLog(RunFolder run, string header, int rows)
    {
        var lines = File.ReadAllLines(run.LossCsv);
        Assert.Equal(header, lines[0]);
        Assert.Equal(rows + 1, lines.Length);
        Assert.All(lines.Skip(1).SelectMany(r => r.Split(',').Skip(2)), v => Assert.True(double.IsFinite(double.Parse(v, CultureInfo.InvariantCulture)), v));
        Assert.True(File.Exists(run.SampleGrid(1)) && File.Exists(run.SampleGrid(2)));
    }

    private static void AssertWeightsMoved(TrainingOptions options, string file, Func<nn.Module> create)
    {
        var run = new RunFolder(options.RunDirectory);
        using var first = create();
        using var second = create();
        Checkpoint.LoadWeights(run.Checkpoint(1), file, first);
        Checkpoint.LoadWeights(run.Checkpoint(2), file, second);
        var before = Parameters(first);
        var after = Parameters(second);
        Assert.NotEqual(before, after);
        Assert.All(after, p => Assert.True(float.IsFinite(p)));
    }

    private static float[] Parameters(nn.Module module) =>
        module.parameters().SelectMany(p => p.detach().cpu().contiguous().data<float>().ToArray()).ToArray();

    private static async Task AssertModelFolderAsync(string folder, int inputChannels, int outputChannels, TranslationTask task)
    {
        Assert.Equal(["gan.json", "model.onnx", "samples.png"], Directory.GetFiles(folder).Select(Path.GetFileName).Order());
        var read = await ManifestReader.ReadAsync(folder, CancellationToken.None);
        Assert.Equal("image-to-image", read.Manifest.Kind);
        var input = Assert.Single(read.Manifest.Inputs!);
        Assert.Equal(("input", "image", "float32"), (input.Name, input.Role, input.Dtype));
        Assert.Equal([-1L, inputChannels, 64, 64], input.Shape);
        Assert.Equal([-1f, 1f], input.Range);
        var output = Assert.Single(read.Manifest.Outputs!);
        Assert.Equal(("image", "image"), (output.Name, output.Role));
        Assert.Equal([-1L, outputChannels, 64, 64], output.Shape);
        Assert.Equal([-1f, 1f], output.Range);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(folder, "gan.json")));
        var provenance = manifest.RootElement.GetProperty("provenance");
        Assert.Equal(TranslationTasks.Name(task), provenance.GetProperty("translation").GetString());
        Assert.Contains("deterministic", provenance.GetProperty("exportedGraph").GetString(), StringComparison.Ordinal);
        Assert.True(provenance.GetProperty("metrics").TryGetProperty("recognitionRate", out _));

        // The file runs in ONNX Runtime with a dynamic batch, and is deterministic.
        using var session = new OnnxTranslatorSession(read.ModelPath);
        Assert.Equal((inputChannels, outputChannels, task), (session.InputChannels, session.OutputChannels, session.Task));
        var images = Enumerable.Range(0, 3 * inputChannels * 64 * 64).Select(i => (float)Math.Sin(i)).ToArray();
        var batch = session.Translate(images, CancellationToken.None);
        var single = session.Translate(images.AsMemory(0, inputChannels * 64 * 64), CancellationToken.None);
        Assert.Equal(3 * outputChannels * 64 * 64, batch.Length);
        Assert.All(batch, v => Assert.InRange(v, -1f, 1f));
        Assert.All(single.Zip(batch), p => Assert.InRange(Math.Abs(p.First - p.Second), 0f, 1e-5f));
    }
}
