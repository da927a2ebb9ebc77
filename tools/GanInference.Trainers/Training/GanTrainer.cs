using System.Diagnostics;
using GanInference.Trainers.Data;
using GanInference.Trainers.Imaging;
using GanInference.Trainers.Models;
using GanInference.Trainers.Sampling;
using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>The result of a training run.</summary>
public sealed record TrainingResult(string RunDirectory, string LastCheckpoint, long Steps, double TrainingSeconds);

/// <summary>
/// DCGAN / class-conditional DCGAN training with the non-saturating loss: D minimises
/// softplus(-D(x)) + softplus(D(G(z))), G minimises softplus(-D(G(z))); Adam for both.
/// Writes a loss CSV row per step, and a checkpoint and a sample grid per epoch; with
/// <see cref="TrainingOptions.GeneratorEmaDecay"/>, keeps and saves an exponential moving average of the generator too.
/// </summary>
public sealed class GanTrainer
{
    private const int GridColumns = 10;
    private static readonly string[] LossColumns = ["d_loss", "g_loss", "d_real", "d_fake"];

    private readonly TrainingOptions options;

    /// <summary>The networks' shapes: the checkpoint's when resuming, else the options'.</summary>
    private GanArchitecture architecture;

    public GanTrainer(TrainingOptions options)
    {
        options.Validate();
        if (options.Architecture.Kind == ModelKind.Classifier)
        {
            throw new ArgumentException("use ClassifierTrainer for the classifier.", nameof(options));
        }

        this.options = options;
        architecture = options.Architecture;
    }

    public async Task<TrainingResult> RunAsync(IProgress<TrainingProgress> progress, CancellationToken cancellationToken)
    {
        var data = await MnistDataset.LoadAsync(options.DataDirectory, MnistSplit.Train, cancellationToken).ConfigureAwait(false);
        TorchSetup.Apply(options.Seed, options.Threads);
        var run = new RunFolder(options.RunDirectory);
        run.Create();

        var resumed = options.ResumeFrom is null ? null : await Checkpoint.ReadInfoAsync(options.ResumeFrom, cancellationToken).ConfigureAwait(false);
        if (resumed is not null && resumed.Architecture.Kind != options.Architecture.Kind)
        {
            throw new ArgumentException($"--resume: {options.ResumeFrom} holds a {resumed.Architecture.Kind} checkpoint, not {options.Architecture.Kind}.");
        }

        // A resumed run keeps the checkpoint's shapes; a shape given explicitly on the command line that
        // disagrees with them is refused rather than silently ignored.
        if (resumed is not null)
        {
            CheckExplicitArchitecture(resumed.Architecture);
        }

        architecture = resumed?.Architecture ?? options.Architecture;
        var generator = ModelFactory.CreateGenerator(architecture);
        var discriminator = ModelFactory.CreateDiscriminator(architecture);
        using var generatorModule = generator.Module;
        using var discriminatorModule = discriminator.Module;
        generatorModule.apply(InitializeDcganWeights);
        discriminatorModule.apply(InitializeDcganWeights);
        using var generatorOptimizer = optim.Adam(generatorModule.parameters(), options.LearningRate, options.Beta1, 0.999);
        using var discriminatorOptimizer = optim.Adam(discriminatorModule.parameters(), options.LearningRate, options.Beta1, 0.999);
        if (resumed is not null)
        {
            Checkpoint.LoadWeights(options.ResumeFrom!, Checkpoint.GeneratorFileName, generatorModule);
            Checkpoint.LoadWeights(options.ResumeFrom!, Checkpoint.DiscriminatorFileName, discriminatorModule);
            Checkpoint.LoadOptimizerState(options.ResumeFrom!, Checkpoint.GeneratorOptimizerFileName, generatorOptimizer);
            Checkpoint.LoadOptimizerState(options.ResumeFrom!, Checkpoint.DiscriminatorOptimizerFileName, discriminatorOptimizer);
        }

        // The averaged generator: continued from the checkpoint's when it has one (a resume without --g-ema keeps its
        // decay), else started from the online weights.
        var averageDecay = options.GeneratorEmaDecay > 0 ? options.GeneratorEmaDecay : resumed?.GeneratorEmaDecay ?? 0;
        using var averageModule = averageDecay > 0 ? ModelFactory.CreateGenerator(architecture).Module : null;
        GeneratorEma? average = null;
        if (averageModule is not null)
        {
            var savedAverage = resumed?.GeneratorEmaUpdates is not null;
            average = new GeneratorEma(averageModule, generatorModule, averageDecay, savedAverage ? resumed!.GeneratorEmaUpdates!.Value : 0);
            average.Reset();
            if (savedAverage)
            {
                Checkpoint.LoadWeights(options.ResumeFrom!, Checkpoint.GeneratorEmaFileName, averageModule);
            }
        }

        using var images = data.ImagesTensor();
        using var labels = data.LabelsTensor();
        var batchSize = Math.Min(options.BatchSize, data.Count);
        var stepsPerEpoch = data.Count / batchSize; // drop the ragged last batch: BatchNorm dislikes tiny batches
        var (totalSteps, epochs) = options.StepBudget(stepsPerEpoch);

        await using var lossLog = await LossLog.OpenAsync(run.LossCsv, LossColumns, append: resumed is not null, cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var previousSeconds = resumed?.TrainingSeconds ?? 0;
        long step = resumed?.Step ?? 0;
        var lastCheckpoint = string.Empty;
        var row = new double[LossColumns.Length];
        for (var epoch = (resumed?.Epoch ?? 0) + 1; epoch <= epochs; epoch++)
        {
            // Reseeding per epoch makes a resumed run continue exactly as an uninterrupted one would.
            random.manual_seed(unchecked((long)options.Seed + epoch));
            using var order = randperm(data.Count);
            for (var batch = 0; batch < stepsPerEpoch && step < totalSteps; batch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (GcQuietSection.Enter())
                using (NewDisposeScope())
                {
                    var index = order.narrow(0, batch * batchSize, batchSize);
                    var real = images.index_select(0, index);
                    var realLabels = architecture.UsesLabels ? labels.index_select(0, index) : null;
                    Step(generator, discriminator, generatorOptimizer, discriminatorOptimizer, real, realLabels).CopyTo(row, 0);
                    average?.Update();
                }

                step++;
                await lossLog.AppendAsync(epoch, step, row, cancellationToken).ConfigureAwait(false);
                progress.Report(new TrainingProgress(
                    epoch,
                    epochs,
                    step,
                    totalSteps,
                    (step - (resumed?.Step ?? 0)) * batchSize / Math.Max(clock.Elapsed.TotalSeconds, 1e-9),
                    clock.Elapsed + TimeSpan.FromSeconds(previousSeconds),
                    [new("D", row[0]), new("G", row[1]), new("Dx", row[2]), new("DGz", row[3])]));
            }

            await lossLog.FlushAsync(cancellationToken).ConfigureAwait(false);
            await WriteSampleGridAsync(generator, run.SampleGrid(epoch), cancellationToken).ConfigureAwait(false);
            var info = new CheckpointInfo
            {
                Architecture = architecture,
                Epoch = epoch,
                Step = step,
                Seed = options.Seed,
                TrainingSeconds = Math.Round(previousSeconds + clock.Elapsed.TotalSeconds, 1),
                Command = options.Command,
                EarlierCommands = resumed is null ? [] : [.. resumed.EarlierCommands, resumed.Command],
                DataDirectory = options.DataDirectory,
                TrainingImages = data.Count,
                BatchSize = batchSize,
                GeneratorEmaDecay = average?.Decay,
                GeneratorEmaUpdates = average?.Updates,
            };
            var networks = new Dictionary<string, nn.Module>
            {
                [Checkpoint.GeneratorFileName] = generatorModule,
                [Checkpoint.DiscriminatorFileName] = discriminatorModule,
            };
            if (averageModule is not null)
            {
                networks[Checkpoint.GeneratorEmaFileName] = averageModule;
            }
            var optimizers = new Dictionary<string, TorchSharp.Modules.OptimizerHelper>
            {
                [Checkpoint.GeneratorOptimizerFileName] = generatorOptimizer,
                [Checkpoint.DiscriminatorOptimizerFileName] = discriminatorOptimizer,
            };
            lastCheckpoint = await Checkpoint.SaveEpochAsync(run, info, networks, cancellationToken, optimizers).ConfigureAwait(false);
        }

        return new TrainingResult(run.Root, lastCheckpoint, step, previousSeconds + clock.Elapsed.TotalSeconds);
    }

    /// <summary>One discriminator step then one generator step; returns D loss, G loss, mean D(x), mean D(G(z)).</summary>
    internal double[] Step(IGenerator generator, IDiscriminator discriminator, optim.Optimizer generatorOptimizer, optim.Optimizer discriminatorOptimizer, Tensor real, Tensor? realLabels)
    {
        var batchSize = real.shape[0];
        Tensor? GeneratorLabels(Tensor? labels) => architecture.LatentClasses ? null : labels;

        // Discriminator: real → 1, fake → 0 (as logits through softplus, i.e. BCE-with-logits).
        discriminatorOptimizer.zero_grad();
        var (fakeLatents, fakeLabels) = DrawGenerated(architecture, batchSize);
        Tensor fake;
        using (no_grad())
        {
            fake = generator.Generate(fakeLatents, GeneratorLabels(fakeLabels));
        }

        var realLogits = discriminator.Score(Augment(real), realLabels);
        var fakeLogits = discriminator.Score(Augment(fake), fakeLabels);
        var discriminatorLoss = nn.functional.softplus(-realLogits).mean() + nn.functional.softplus(fakeLogits).mean();
        discriminatorLoss.backward();
        discriminatorOptimizer.step();

        // Generator, non-saturating: maximise log D(G(z)).
        generatorOptimizer.zero_grad();
        var (generatorLatents, generatorLabels) = DrawGenerated(architecture, batchSize);
        var generated = generator.Generate(generatorLatents, GeneratorLabels(generatorLabels));
        var generatorLoss = nn.functional.softplus(-discriminator.Score(Augment(generated), generatorLabels)).mean();
        generatorLoss.backward();
        generatorOptimizer.step();

        return
        [
            discriminatorLoss.item<float>(),
            generatorLoss.item<float>(),
            realLogits.sigmoid().mean().item<float>(),
            fakeLogits.sigmoid().mean().item<float>(),
        ];
    }

    /// <summary>
    /// Latents for a batch of generated images and the labels D is given with them: drawn uniformly for a conditional
    /// generator (which is given them too), read from z for a latent-class one (which reads the same from z itself),
    /// none for an unconditional one.
    /// </summary>
    internal static (Tensor Latents, Tensor? Labels) DrawGenerated(GanArchitecture architecture, long batchSize)
    {
        // Labels before z: the order the shipped cdcgan run drew them in, so its command still reproduces it.
        var drawn = architecture.IsConditional ? randint(0, architecture.ClassCount, [batchSize], dtype: ScalarType.Int64) : null;
        var latents = randn(batchSize, architecture.LatentDimension);
        return (latents, architecture.LatentClasses ? ConditionalDcganGenerator.LatentClass(latents, architecture.ClassCount) : drawn);
    }

    /// <summary>What the discriminator sees of a batch: the batch itself, or each image shifted (<see cref="TrainingOptions.TranslationAugment"/>).</summary>
    private Tensor Augment(Tensor images) => options.TranslationAugment > 0 ? DifferentiableTranslation.Apply(images, options.TranslationAugment) : images;

    private async Task WriteSampleGridAsync(IGenerator generator, string path, CancellationToken cancellationToken)
    {
        var (seeds, gridLabels) = SeededLatents.GridLayout(architecture.IsConditional, architecture.ClassCount, GridColumns, GridColumns);
        var latents = SeededLatents.Create(seeds, architecture.LatentDimension);
        float[] pixels;
        generator.Module.eval();
        using (NewDisposeScope())
        using (no_grad())
        {
            var z = tensor(latents, [seeds.Length, architecture.LatentDimension]);
            var y = gridLabels is null ? null : tensor(gridLabels, [gridLabels.Length]);
            pixels = generator.Generate(z, y).data<float>().ToArray();
        }

        generator.Module.train();
        await File.WriteAllBytesAsync(path, ImageGrid.EncodePng(pixels, GridColumns), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Throws when an architecture option the user gave explicitly (<see cref="TrainingOptions.ExplicitOptions"/>)
    /// differs from the resumed checkpoint's value: the checkpoint's shapes win, so the flag would be ignored.
    /// </summary>
    private void CheckExplicitArchitecture(GanArchitecture saved)
    {
        var given = options.Architecture;
        (string Option, object Saved, object Given)[] fields =
        [
            ("--latent", saved.LatentDimension, given.LatentDimension),
            ("--ngf", saved.GeneratorWidth, given.GeneratorWidth),
            ("--ndf", saved.DiscriminatorWidth, given.DiscriminatorWidth),
            ("--label-embedding", saved.LabelEmbeddingDimension, given.LabelEmbeddingDimension),
            ("--d-head", saved.DiscriminatorHead, given.DiscriminatorHead),
            ("--latent-classes", saved.LatentClasses, given.LatentClasses),
        ];
        foreach (var (option, savedValue, givenValue) in fields)
        {
            if (options.ExplicitOptions.Contains(option) && !Equals(savedValue, givenValue))
            {
                throw new ArgumentException(
                    $"--resume: {options.ResumeFrom} was trained with {option} {savedValue}, but the command line says {option} {givenValue}; a resumed run keeps the checkpoint's architecture, so leave {option} out (or start a new run).");
            }
        }
    }

    /// <summary>DCGAN's initialisation: conv weights ~ N(0, 0.02), BatchNorm γ ~ N(1, 0.02), β = 0.</summary>
    internal static void InitializeDcganWeights(nn.Module module)
    {
        using var _ = no_grad();
        switch (module)
        {
            case TorchSharp.Modules.Conv2d conv:
                nn.init.normal_(conv.weight, 0, 0.02);
                break;
            case TorchSharp.Modules.ConvTranspose2d deconv:
                nn.init.normal_(deconv.weight, 0, 0.02);
                break;
            case TorchSharp.Modules.BatchNorm2d norm:
                nn.init.normal_(norm.weight, 1, 0.02);
                nn.init.zeros_(norm.bias);
                break;
        }
    }
}
