using System.Diagnostics;
using GanInference.Trainers.Data;
using GanInference.Trainers.Imaging;
using GanInference.Trainers.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>
/// Pix2Pix (Isola et al. 2017) on outline → digit pairs: D minimises
/// ½[softplus(−D(x, y)) + softplus(D(x, G(x)))], G minimises softplus(−D(x, G(x))) + λ·|G(x) − y|₁ with
/// λ = 100; Adam for both. Writes loss.csv, a preview table (outline | output | digit of held-out test
/// digits) and a checkpoint per epoch.
/// </summary>
public sealed class Pix2PixTrainer
{
    public const double L1Weight = 100;
    private static readonly string[] LossColumns = ["d_loss", "g_gan", "g_l1", "d_real", "d_fake", "lr"];

    private readonly TrainingOptions options;
    private readonly TranslationSchedule schedule;

    public Pix2PixTrainer(TrainingOptions options, TranslationSchedule? schedule = null)
    {
        this.schedule = schedule ?? new TranslationSchedule();
        this.schedule.Validate();
        this.schedule.CheckDecay(options.Epochs);
        TranslationTraining.CheckKind(options, ModelKind.Pix2Pix);
        this.options = options;
    }

    public async Task<TrainingResult> RunAsync(IProgress<TrainingProgress> progress, CancellationToken cancellationToken)
    {
        var train = await MnistDataset.LoadAsync(options.DataDirectory, MnistSplit.Train, cancellationToken).ConfigureAwait(false);
        var test = await MnistDataset.LoadAsync(options.DataDirectory, MnistSplit.Test, cancellationToken).ConfigureAwait(false);
        var (outlines, digits) = OutlineDigits.Create(train, 0, train.Count);
        var (previewOutlines, previewDigits) = OutlineDigits.Create(test, 0, Math.Min(TranslationTraining.PreviewRows, test.Count));
        TorchSetup.Apply(options.Seed, options.Threads);
        var run = new RunFolder(options.RunDirectory);
        run.Create();
        var resumed = await TranslationTraining.ReadResumedAsync(options, cancellationToken).ConfigureAwait(false);
        var architecture = resumed?.Architecture ?? options.Architecture;

        using var generator = TranslationModels.CreatePix2PixGenerator(architecture);
        using var discriminator = TranslationModels.CreatePix2PixDiscriminator(architecture);
        generator.apply(TranslationTraining.InitializeWeights);
        discriminator.apply(TranslationTraining.InitializeWeights);
        using var generatorOptimizer = optim.Adam(generator.parameters(), options.LearningRate, options.Beta1, 0.999);
        using var discriminatorOptimizer = optim.Adam(discriminator.parameters(), options.LearningRate, options.Beta1, 0.999);
        var networks = new Dictionary<string, nn.Module> { [Checkpoint.GeneratorFileName] = generator, [Checkpoint.DiscriminatorFileName] = discriminator };
        var optimizers = new Dictionary<string, OptimizerHelper>
        {
            [Checkpoint.GeneratorOptimizerFileName] = generatorOptimizer,
            [Checkpoint.DiscriminatorOptimizerFileName] = discriminatorOptimizer,
        };
        if (resumed is not null)
        {
            TranslationTraining.Restore(options.ResumeFrom!, networks, optimizers);
        }

        using var inputs = outlines.ToTensor();
        using var targets = digits.ToTensor();
        var previewInput = TranslationTraining.Head(previewOutlines, TranslationTraining.PreviewRows);
        var previewTarget = TranslationTraining.Head(previewDigits, TranslationTraining.PreviewRows);
        using var previewTensor = TranslationTraining.AsTensor(previewInput, OutlineDigits.Channels);

        var batchSize = Math.Min(options.BatchSize, train.Count);
        var stepsPerEpoch = schedule.StepsPerEpoch(train.Count, batchSize);
        var (totalSteps, epochs) = options.StepBudget(stepsPerEpoch);
        await using var lossLog = await LossLog.OpenAsync(run.LossCsv, LossColumns, append: resumed is not null, cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var previousSeconds = resumed?.TrainingSeconds ?? 0;
        long step = resumed?.Step ?? 0;
        var lastCheckpoint = string.Empty;
        var row = new double[LossColumns.Length];
        for (var epoch = (resumed?.Epoch ?? 0) + 1; epoch <= epochs; epoch++)
        {
            // Reseeding per epoch makes a resumed run continue as an uninterrupted one would.
            random.manual_seed(unchecked((long)options.Seed + epoch));
            var learningRate = schedule.LearningRate(options.LearningRate, epoch, options.Epochs);
            TranslationTraining.SetLearningRate(optimizers.Values, learningRate);
            using var order = randperm(train.Count);
            for (var batch = 0; batch < stepsPerEpoch && step < totalSteps; batch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (GcQuietSection.Enter())
                using (NewDisposeScope())
                {
                    var index = order.narrow(0, batch * batchSize, batchSize);
                    Step(generator, discriminator, generatorOptimizer, discriminatorOptimizer, inputs.index_select(0, index), targets.index_select(0, index)).CopyTo(row, 0);
                    row[^1] = learningRate;
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
                    [new("D", row[0]), new("G", row[1]), new("L1", row[2])]));
            }

            await lossLog.FlushAsync(cancellationToken).ConfigureAwait(false);
            var previewOutput = TranslationTraining.Evaluate(generator, previewTensor);
            await File.WriteAllBytesAsync(
                run.SampleGrid(epoch),
                ImageTable.EncodePng([new(previewInput, 1), new(previewOutput, 1), new(previewTarget, 1)], DigitImaging.Size),
                cancellationToken).ConfigureAwait(false);
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
                TrainingImages = train.Count,
                BatchSize = batchSize,
            };
            lastCheckpoint = await Checkpoint.SaveEpochAsync(run, info, networks, cancellationToken, optimizers).ConfigureAwait(false);
            if (schedule.TimeIsUp(clock.Elapsed))
            {
                break;
            }
        }

        return new TrainingResult(run.Root, lastCheckpoint, step, previousSeconds + clock.Elapsed.TotalSeconds);
    }

    /// <summary>One D step, then one G step; returns D loss, G's GAN term, G's L1 term, mean D(x, y), mean D(x, G(x)).</summary>
    private static double[] Step(UnetGenerator generator, PatchDiscriminator discriminator, optim.Optimizer generatorOptimizer, optim.Optimizer discriminatorOptimizer, Tensor outline, Tensor digit)
    {
        var fake = generator.forward(outline);

        discriminatorOptimizer.zero_grad();
        var realLogits = discriminator.forward(cat([outline, digit], 1));
        var fakeLogits = discriminator.forward(cat([outline, fake.detach()], 1));
        var discriminatorLoss = 0.5 * (nn.functional.softplus(-realLogits).mean() + nn.functional.softplus(fakeLogits).mean());
        discriminatorLoss.backward();
        discriminatorOptimizer.step();

        generatorOptimizer.zero_grad();
        TranslationTraining.SetRequiresGrad(discriminator, false);
        var adversarial = nn.functional.softplus(-discriminator.forward(cat([outline, fake], 1))).mean();
        var l1 = (fake - digit).abs().mean();
        var generatorLoss = adversarial + (L1Weight * l1);
        generatorLoss.backward();
        generatorOptimizer.step();
        TranslationTraining.SetRequiresGrad(discriminator, true);

        return
        [
            discriminatorLoss.item<float>(),
            adversarial.item<float>(),
            l1.item<float>(),
            realLogits.sigmoid().mean().item<float>(),
            fakeLogits.sigmoid().mean().item<float>(),
        ];
    }
}
