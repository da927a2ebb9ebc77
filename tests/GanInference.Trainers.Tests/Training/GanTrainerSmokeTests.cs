using System.Globalization;
using GanInference.Trainers.Imaging;
using GanInference.Trainers.Models;
using GanInference.Trainers.Sampling;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Training;

/// <summary>A few real training steps on tiny generated data with tiny networks.</summary>
public sealed class GanTrainerSmokeTests
{
    private static TrainingOptions Options(string data, string run, ModelKind kind, ulong seed = 5) => new()
    {
        Architecture = new GanArchitecture { Kind = kind, GeneratorWidth = 4, DiscriminatorWidth = 4, LabelEmbeddingDimension = 4 },
        DataDirectory = data,
        RunDirectory = run,
        Epochs = 2,
        BatchSize = 16,
        Seed = seed,
        Command = "test",
    };

    [Theory]
    [InlineData(ModelKind.Dcgan)]
    [InlineData(ModelKind.Cdcgan)]
    public async Task Trains_with_finite_losses_moving_weights_and_round_tripping_checkpoints(ModelKind kind)
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 48, testCount: 10, gzip: true);
        var options = Options(temp.Combine("data"), temp.Combine("run"), kind);

        var result = await new GanTrainer(options).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(6, result.Steps); // 48 / 16 = 3 steps per epoch, 2 epochs
        var run = new RunFolder(options.RunDirectory);
        var rows = File.ReadAllLines(run.LossCsv);
        Assert.Equal("epoch,step,d_loss,g_loss,d_real,d_fake", rows[0]);
        Assert.Equal(7, rows.Length);
        Assert.All(rows.Skip(1).SelectMany(r => r.Split(',').Skip(2)), v => Assert.True(double.IsFinite(double.Parse(v, CultureInfo.InvariantCulture)), v));
        Assert.True(File.Exists(run.SampleGrid(1)) && File.Exists(run.SampleGrid(2)));

        // Weights moved between epochs, and a reloaded checkpoint reproduces the in-memory generator's grid exactly.
        using var first = LoadGenerator(run.Checkpoint(1), options.Architecture);
        using var second = LoadGenerator(run.Checkpoint(2), options.Architecture);
        Assert.NotEqual(Parameters(first.Module), Parameters(second.Module));
        Assert.All(Parameters(second.Module), p => Assert.True(float.IsFinite(p)));
        Assert.Equal(File.ReadAllBytes(run.SampleGrid(2)), Grid(second, options.Architecture));

        var info = await Checkpoint.ReadInfoAsync(run.LatestCheckpoint, CancellationToken.None);
        Assert.Equal(2, info.Epoch);
        Assert.Equal(kind, info.Architecture.Kind);
    }

    [Fact]
    public async Task Same_seed_gives_the_same_run()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 32, testCount: 10, gzip: false);
        await new GanTrainer(Options(temp.Combine("data"), temp.Combine("a"), ModelKind.Dcgan) with { Epochs = 1 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        await new GanTrainer(Options(temp.Combine("data"), temp.Combine("b"), ModelKind.Dcgan) with { Epochs = 1 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        await new GanTrainer(Options(temp.Combine("data"), temp.Combine("c"), ModelKind.Dcgan, seed: 6) with { Epochs = 1 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var a = File.ReadAllText(temp.Combine("a", "loss.csv"));
        Assert.Equal(a, File.ReadAllText(temp.Combine("b", "loss.csv")));
        Assert.NotEqual(a, File.ReadAllText(temp.Combine("c", "loss.csv")));
    }

    [Fact]
    public async Task A_resumed_run_continues_exactly_like_an_uninterrupted_one()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 32, testCount: 10, gzip: false);
        var straight = Options(temp.Combine("data"), temp.Combine("straight"), ModelKind.Cdcgan);
        await new GanTrainer(straight).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var interrupted = Options(temp.Combine("data"), temp.Combine("resumed"), ModelKind.Cdcgan);
        await new GanTrainer(interrupted with { Epochs = 1 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var firstHalf = new RunFolder(interrupted.RunDirectory).Checkpoint(1);
        var result = await new GanTrainer(interrupted with { ResumeFrom = firstHalf, Command = "resume" }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        Assert.Equal(File.ReadAllText(temp.Combine("straight", "loss.csv")), File.ReadAllText(temp.Combine("resumed", "loss.csv")));
        using var a = LoadGenerator(new RunFolder(straight.RunDirectory).Checkpoint(2), straight.Architecture);
        using var b = LoadGenerator(result.LastCheckpoint, interrupted.Architecture);
        Assert.Equal(Parameters(a.Module), Parameters(b.Module));
        var info = await Checkpoint.ReadInfoAsync(result.LastCheckpoint, CancellationToken.None);
        Assert.Equal(["test"], info.EarlierCommands);
        Assert.Equal("resume", info.Command);
    }

    [Fact]
    public async Task A_resumed_run_keeps_the_checkpoint_architecture_when_the_command_line_leaves_it_out()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 32, testCount: 10, gzip: false);
        var narrow = Options(temp.Combine("data"), temp.Combine("straight"), ModelKind.Dcgan);
        narrow = narrow with { Architecture = narrow.Architecture with { LatentDimension = 64 } };
        await new GanTrainer(narrow).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var interrupted = narrow with { RunDirectory = temp.Combine("resumed") };
        await new GanTrainer(interrupted with { Epochs = 1 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        // The resumed command does not repeat --latent 64: its options carry the default 100.
        var resumedOptions = Options(temp.Combine("data"), temp.Combine("resumed"), ModelKind.Dcgan) with { ResumeFrom = new RunFolder(interrupted.RunDirectory).Checkpoint(1) };
        Assert.Equal(100, resumedOptions.Architecture.LatentDimension);
        var result = await new GanTrainer(resumedOptions).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var info = await Checkpoint.ReadInfoAsync(result.LastCheckpoint, CancellationToken.None);
        Assert.Equal(64, info.Architecture.LatentDimension);
        // Same batches, same shapes: the resumed run is the uninterrupted 64-d run, step for step.
        Assert.Equal(File.ReadAllText(temp.Combine("straight", "loss.csv")), File.ReadAllText(temp.Combine("resumed", "loss.csv")));
        using var generator = LoadGenerator(result.LastCheckpoint, info.Architecture);
        Assert.Equal(File.ReadAllBytes(new RunFolder(resumedOptions.RunDirectory).SampleGrid(2)), Grid(generator, info.Architecture));
    }

    [Fact]
    public async Task A_resumed_run_refuses_an_explicit_architecture_option_that_contradicts_the_checkpoint()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 32, testCount: 10, gzip: false);
        var first = Options(temp.Combine("data"), temp.Combine("run"), ModelKind.Dcgan) with { Epochs = 1 };
        first = first with { Architecture = first.Architecture with { LatentDimension = 64 } };
        await new GanTrainer(first).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var conflicting = Options(temp.Combine("data"), temp.Combine("run"), ModelKind.Dcgan) with
        {
            ResumeFrom = new RunFolder(first.RunDirectory).Checkpoint(1),
            ExplicitOptions = new HashSet<string> { "--latent" },
        };
        var error = await Assert.ThrowsAsync<ArgumentException>(() => new GanTrainer(conflicting).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--latent 64", error.Message, StringComparison.Ordinal);
        Assert.Contains("--latent 100", error.Message, StringComparison.Ordinal);

        // An explicit option that agrees with the checkpoint is fine.
        var agreeing = conflicting with { Architecture = conflicting.Architecture with { LatentDimension = 64 } };
        var result = await new GanTrainer(agreeing).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        Assert.Equal(2, (await Checkpoint.ReadInfoAsync(result.LastCheckpoint, CancellationToken.None)).Epoch);
    }

    [Fact]
    public async Task A_run_with_a_generator_average_saves_it_beside_the_generator_and_a_resume_continues_it_exactly()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 48, testCount: 10, gzip: false);
        var straight = Options(temp.Combine("data"), temp.Combine("straight"), ModelKind.Dcgan) with { GeneratorEmaDecay = 0.999 };
        var result = await new GanTrainer(straight).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var info = await Checkpoint.ReadInfoAsync(result.LastCheckpoint, CancellationToken.None);
        Assert.Equal(0.999, info.GeneratorEmaDecay);
        Assert.Equal(6, info.GeneratorEmaUpdates); // one update per generator step
        using var online = LoadGenerator(result.LastCheckpoint, straight.Architecture);
        using var average = LoadGenerator(result.LastCheckpoint, straight.Architecture, Checkpoint.GeneratorEmaFileName);
        Assert.NotEqual(Parameters(online.Module), Parameters(average.Module));

        // Stopped after epoch 1 and resumed without repeating --g-ema: the average carries on from the checkpoint's.
        var interrupted = straight with { RunDirectory = temp.Combine("resumed") };
        await new GanTrainer(interrupted with { Epochs = 1 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var resumed = await new GanTrainer(interrupted with { GeneratorEmaDecay = 0, ResumeFrom = new RunFolder(interrupted.RunDirectory).Checkpoint(1) })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        using var continued = LoadGenerator(resumed.LastCheckpoint, straight.Architecture, Checkpoint.GeneratorEmaFileName);
        Assert.Equal(Parameters(average.Module), Parameters(continued.Module));
        Assert.Equal(6, (await Checkpoint.ReadInfoAsync(resumed.LastCheckpoint, CancellationToken.None)).GeneratorEmaUpdates);
    }

    [Fact]
    public async Task Translation_of_the_discriminator_inputs_changes_the_run_and_keeps_the_losses_finite()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 32, testCount: 10, gzip: false);
        var plain = Options(temp.Combine("data"), temp.Combine("plain"), ModelKind.Dcgan) with { Epochs = 1 };
        await new GanTrainer(plain).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        await new GanTrainer(plain with { RunDirectory = temp.Combine("shifted"), TranslationAugment = 0.125 }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var shifted = File.ReadAllLines(temp.Combine("shifted", "loss.csv")).Skip(1).ToArray();
        Assert.All(shifted.SelectMany(r => r.Split(',').Skip(2)), v => Assert.True(double.IsFinite(double.Parse(v, CultureInfo.InvariantCulture)), v));
        Assert.NotEqual(File.ReadAllLines(temp.Combine("plain", "loss.csv")).Skip(1), shifted);

        var invalid = plain with { TranslationAugment = 0.6 };
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new GanTrainer(invalid));
        Assert.Contains("--d-translate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_generator_average_with_a_tiny_decay_is_the_generator_after_each_step()
    {
        // d = 1e-9 keeps almost nothing of the old average: what is saved is the online generator after its last step,
        // so the average is updated after the step, from the trained network, and saved under its own name.
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 32, testCount: 10, gzip: false);
        var options = Options(temp.Combine("data"), temp.Combine("run"), ModelKind.Cdcgan) with { GeneratorEmaDecay = 1e-9 };
        var result = await new GanTrainer(options).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        using var online = LoadGenerator(result.LastCheckpoint, options.Architecture);
        using var average = LoadGenerator(result.LastCheckpoint, options.Architecture, Checkpoint.GeneratorEmaFileName);
        var a = Parameters(online.Module);
        var b = Parameters(average.Module);
        Assert.Equal(a.Length, b.Length);
        Assert.All(a.Zip(b), pair => Assert.Equal(pair.First, pair.Second, 1e-6f));
    }

    [Fact]
    public void Minibatch_std_discriminator_has_finite_gradients_on_a_collapsed_batch()
    {
        random.manual_seed(11);
        using var discriminator = new MinibatchStdDiscriminator(new GanArchitecture { Kind = ModelKind.Dcgan, DiscriminatorWidth = 4, DiscriminatorHead = DiscriminatorHead.MinibatchStd });
        using var scope = NewDisposeScope();
        // A generator that collapsed to one image: every sample of the batch is the same.
        var collapsed = randn(1, 1, 28, 28).expand(8, -1, -1, -1).contiguous();
        var score = discriminator.forward(collapsed);
        score.sum().backward();

        Assert.All(score.data<float>().ToArray(), v => Assert.True(float.IsFinite(v), $"score {v}"));
        foreach (var (name, parameter) in discriminator.named_parameters())
        {
            Assert.All(parameter.grad!.data<float>().ToArray(), g => Assert.True(float.IsFinite(g), $"{name}: gradient {g}"));
        }
    }

    private sealed class LoadedGenerator(IGenerator generator) : IDisposable
    {
        public IGenerator Generator { get; } = generator;

        public nn.Module Module => Generator.Module;

        public void Dispose() => Generator.Module.Dispose();
    }

    private static LoadedGenerator LoadGenerator(string checkpoint, GanArchitecture architecture, string fileName = Checkpoint.GeneratorFileName)
    {
        var generator = ModelFactory.CreateGenerator(architecture);
        Checkpoint.LoadWeights(checkpoint, fileName, generator.Module);
        return new LoadedGenerator(generator);
    }

    private static float[] Parameters(nn.Module module) =>
        module.parameters().SelectMany(p => p.detach().contiguous().data<float>().ToArray()).ToArray();

    private static byte[] Grid(LoadedGenerator loaded, GanArchitecture architecture)
    {
        var (seeds, labels) = SeededLatents.GridLayout(architecture.IsConditional, architecture.ClassCount, 10, 10);
        loaded.Module.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var z = tensor(SeededLatents.Create(seeds, architecture.LatentDimension), [seeds.Length, architecture.LatentDimension]);
        var y = labels is null ? null : tensor(labels, [labels.Length]);
        return ImageGrid.EncodePng(loaded.Generator.Generate(z, y).data<float>().ToArray(), 10);
    }
}
