using System.Diagnostics;
using GanInference.Trainers.Data;
using GanInference.Trainers.Models;
using GanInference.Trainers.TextToImage;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary><c>train stackgan --d-warmup-steps N</c>: a fresh discriminator learns to judge the starting generator first.</summary>
public sealed class DiscriminatorWarmupTests
{
    private static readonly StackGanArchitecture Tiny = SmallStackGan.Trainable;

    [Fact]
    public async Task A_negative_count_or_a_resumed_run_is_refused_naming_the_option()
    {
        using var temp = new TempDirectory();
        var options = new TrainingOptions { Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageOne }, DataDirectory = temp.Combine("data"), RunDirectory = temp.Combine("run") };
        var negative = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options, new StackGanOptions { Stage = 1, DiscriminatorWarmupSteps = -1, Networks = Tiny }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--d-warmup-steps must be at least 0, got -1", negative.Message, StringComparison.Ordinal);
        var resumed = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options with { ResumeFrom = "x" }, new StackGanOptions { Stage = 1, DiscriminatorWarmupSteps = 5, Networks = Tiny }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--d-warmup-steps 5", resumed.Message, StringComparison.Ordinal);
        Assert.Contains("--resume", resumed.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Warm_up_teaches_the_discriminator_to_tell_real_from_generated_and_leaves_the_generator_weights_alone()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 64, testCount: 8, gzip: false);
        var data = await MnistDataset.LoadAsync(temp.Combine("data"), MnistSplit.Train, CancellationToken.None);
        var options = new TrainingOptions { Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageOne }, DataDirectory = temp.Combine("data"), RunDirectory = temp.Combine("run"), Seed = 4 };
        var trainer = new StackGanTrainer(options, new StackGanOptions { Stage = 1, DiscriminatorWarmupSteps = 30, AuxiliaryWeight = 1, Networks = Tiny });
        random.manual_seed(5);
        using var generator = new StageOneGenerator(Tiny);
        using var discriminator = new MatchingDiscriminator(Tiny, CaptionedDigits.SmallSize);
        generator.apply(GanTrainer.InitializeDcganWeights);
        discriminator.apply(GanTrainer.InitializeDcganWeights);
        using var optimizer = optim.Adam(discriminator.parameters(), 2e-3, 0.5, 0.999);
        var batches = new CaptionBatches(data, seed: 6);
        using var probe = batches.Next(Enumerable.Range(0, 32).Select(i => (long)i).ToArray());
        var generatorBefore = generator.state_dict().Where(p => p.Value.is_floating_point()).ToDictionary(p => p.Key, p => p.Value.clone());

        // Mean D(real with its caption) − D(generated), on a fixed batch and fixed z: how well D tells them apart.
        double Gap()
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            random.manual_seed(7);
            var sentence = generator.Encoder.forward(probe.Tokens);
            using var pass = generator.Forward(probe.Tokens, zeros(32, Tiny.EmbeddingDimension), randn(32, Tiny.LatentDimension), randn(32, Tiny.ConditionDimension));
            var real = discriminator.Forward(probe.Small, sentence).Logits.sigmoid().mean().item<float>();
            var fake = discriminator.Forward(pass.Image, sentence).Logits.sigmoid().mean().item<float>();
            return real - fake;
        }

        var before = Gap();
        var reports = new List<TrainingProgress>();
        trainer.WarmUpDiscriminator(generator, null, discriminator, generator.Encoder, optimizer, batches, data.Count, 16, new Recorder(reports), Stopwatch.StartNew(), CancellationToken.None);
        var after = Gap();

        Assert.True(after > before + 0.2, $"D(real) − D(generated) {before:F3} → {after:F3}");
        var generatorAfter = generator.state_dict();
        Assert.All(generatorBefore, p => Assert.True(p.Value.allclose(generatorAfter[p.Key], rtol: 0, atol: 0) || p.Key.Contains("running_", StringComparison.Ordinal), p.Key));
        Assert.Contains(generatorBefore.Keys, k => k.EndsWith(".weight", StringComparison.Ordinal));
        Assert.Equal([20L, 30L], reports.Select(r => r.Step));
        Assert.All(reports, r => Assert.Equal(30, r.TotalSteps));
    }

    [Fact]
    public async Task A_fine_tune_with_a_warm_up_trains_from_the_checkpoint()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 32, testCount: 8, gzip: false);
        TrainingOptions Options(string run) => new() { Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageOne }, DataDirectory = data, RunDirectory = temp.Combine(run), Epochs = 1, BatchSize = 16, Seed = 3 };
        var first = await new StackGanTrainer(Options("first"), new StackGanOptions { Stage = 1, EncoderSteps = 2, Networks = Tiny, ClassifierPath = temp.Combine("none.onnx") })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var reports = new List<TrainingProgress>();
        var tuned = await new StackGanTrainer(Options("tuned"), new StackGanOptions { Stage = 1, StageOneInitialization = first.LastCheckpoint, DiscriminatorWarmupSteps = 3, AuxiliaryWeight = 1, Networks = Tiny, ClassifierPath = temp.Combine("none.onnx") })
            .RunAsync(new Recorder(reports), CancellationToken.None);

        Assert.Equal(2, tuned.Steps);
        Assert.Contains(reports, r => r.Metrics.Any(m => m.Key == "D warm-up") && r.Step == 3);
        Assert.True(File.Exists(Path.Combine(tuned.LastCheckpoint, StackGanTrainer.StageOneFileName)));
    }

    /// <summary>Records every report on the calling thread (<see cref="Progress{T}"/> would post them later).</summary>
    private sealed class Recorder(List<TrainingProgress> reports) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => reports.Add(value);
    }
}
