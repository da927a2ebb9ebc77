using System.Diagnostics;
using System.Text.Json;
using GanInference.Trainers.Data;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>What <c>train stackgan</c> needs beyond the common training options.</summary>
public sealed record StackGanOptions
{
    /// <summary>1 trains the text encoder (pre-training) and Stage-I; 2 trains Stage-II on a frozen Stage-I.</summary>
    public required int Stage { get; init; }

    /// <summary>Stage 2: the Stage-I checkpoint folder.</summary>
    public string? StageOneCheckpoint { get; init; }

    /// <summary>
    /// Stage 1: start from this Stage-I checkpoint's generator and text encoder (a training checkpoint or an
    /// <c>import-stage1</c> folder) instead of random weights and encoder pre-training; the discriminator and both
    /// optimizers start fresh, the architecture is the checkpoint's, and epochs count from 1 (a fine-tune, e.g. to train
    /// thickness into the shipped Stage-I).
    /// </summary>
    public string? StageOneInitialization { get; init; }

    /// <summary>
    /// Stage 2: Stage-I is the mean of the weights of this many epoch checkpoints up to --stage1 (Polyak averaging;
    /// 1 = that checkpoint alone). The Stage-II checkpoint stores the averaged Stage-I, so the export ships it.
    /// </summary>
    public int StageOneAverageEpochs { get; init; } = 1;

    /// <summary>
    /// Stage 2 with <see cref="StageOneAverageEpochs"/> &gt; 1: the truncation at which the averaged Stage-I's
    /// BatchNorm statistics are re-estimated; it should be the truncation the export will ship (<c>export
    /// --truncation</c>), which then checks that they agree.
    /// </summary>
    public float StageOneTruncation { get; init; }

    /// <summary>What <see cref="EncoderSteps"/> is when it is not given.</summary>
    public const int DefaultEncoderSteps = 800;

    /// <summary>
    /// Stage 1: caption batches (of 256) for pre-training the text encoder; null for <see cref="DefaultEncoderSteps"/>.
    /// Refused with <see cref="StageOneInitialization"/>, which keeps the checkpoint's trained encoder and pre-trains nothing.
    /// </summary>
    public int? EncoderSteps { get; init; }

    /// <summary>Weight of the Conditioning Augmentation KL term.</summary>
    public double KlWeight { get; init; } = 1.0;

    /// <summary>
    /// Weight of the auxiliary attribute-classification terms (AC-GAN style: D learns digit, stroke colour and
    /// background of real images; G is rewarded when D reads the caption's attributes in its images). 0 = off.
    /// </summary>
    public double AuxiliaryWeight { get; init; }

    /// <summary>
    /// With the thickness head: weight of its term, in place of <see cref="AuxiliaryWeight"/> (--aux-thickness-weight;
    /// null = the same weight as digit, colour and background), so thickness can be learnt without pulling as hard on
    /// the generator as the digit does.
    /// </summary>
    public double? ThicknessWeight { get; init; }

    /// <summary>The thickness term's weight in force: <see cref="ThicknessWeight"/>, or <see cref="AuxiliaryWeight"/> when none is given.</summary>
    internal double EffectiveThicknessWeight => ThicknessWeight ?? AuxiliaryWeight;

    /// <summary>
    /// Share of the wrong-caption negatives that differ from the image only in thickness, which they then state
    /// (--thickness-negatives; 0, the shipped recipe: none, with the caption draws of the code before the option).
    /// </summary>
    public double ThicknessNegatives { get; init; }

    /// <summary>
    /// Stage 2: weight of the consistency term, the mean |difference| between the Stage-II image area-downsized to 32×32
    /// and the Stage-I image it refines (--stage2-consistency; 0 = off, the shipped recipe). It keeps Stage-II from
    /// redrawing what Stage-I drew (the digit, above all) while it adds detail; StackGAN++ ties its scales with a
    /// colour-consistency term for the same reason. The training data obeys it exactly: a 32×32 image is the 2×2 area
    /// mean of its 64×64 one.
    /// </summary>
    public double StageTwoConsistency { get; init; }

    /// <summary>Exported MNIST classifier for the per-epoch held-out figures (heldout.csv); none when the file is missing.</summary>
    public string? ClassifierPath { get; init; }

    /// <summary>Discriminator learning rate as a multiple of the generator's.</summary>
    public double DiscriminatorLearningRateScale { get; init; } = 1.0;

    /// <summary>Standard deviation of the Gaussian instance noise added to every image D sees (real and generated).</summary>
    public double InstanceNoise { get; init; }

    /// <summary>Generator steps per discriminator step.</summary>
    public int GeneratorSteps { get; init; } = 1;

    /// <summary>
    /// Discriminator-only steps before training starts (--d-warmup-steps; 0 = none, the shipped recipes): a fresh
    /// discriminator learns to judge the starting generator's images before the generator gets its first gradient, so a
    /// fine-tune (--stage1-init) or a Stage-II is not first pushed about by an untrained critic. Refused with --resume,
    /// whose discriminator is the checkpoint's.
    /// </summary>
    public int DiscriminatorWarmupSteps { get; init; }

    public StackGanArchitecture Networks { get; init; } = new();
}

/// <summary>
/// StackGAN-style training on captioned colour digits (docs/text-to-image.md). Stage 1 first
/// pre-trains the GRU text encoder to tell digit, colour, background and thickness from a caption
/// (StackGAN uses a pre-trained, fixed text embedding too), freezes it, then trains Stage-I
/// (32×32) against a matching-aware discriminator: real image + its caption → real; generated
/// image, or real image with a mismatched caption → fake; plus Conditioning Augmentation's KL term
/// and, optionally, an auxiliary digit classifier in D. Stage 2 trains Stage-II (64×64) the same way on top of
/// the frozen Stage-I. Checkpoints, loss CSV and a sample grid per epoch go to the run folder.
/// </summary>
public sealed class StackGanTrainer(TrainingOptions options, StackGanOptions stack)
{
    public const string StageOneFileName = "stage1-generator.dat";
    public const string StageTwoFileName = "stage2-generator.dat";
    private static readonly string[] BaseLossColumns = ["d_loss", "g_loss", "d_real", "d_fake", "d_wrong", "kl", "g_digit_acc", "g_colour_acc", "g_background_acc"];

    /// <summary>The loss CSV's columns; g_thickness_acc (over captions that state a thickness) with the thickness head.</summary>
    public static string[] LossColumns(StackGanArchitecture networks) => networks.DiscriminatorThickness ? [.. BaseLossColumns, "g_thickness_acc"] : BaseLossColumns;

    public async Task<TrainingResult> RunAsync(IProgress<TrainingProgress> progress, CancellationToken cancellationToken)
    {
        options.Validate();
        if (stack.Stage is not (1 or 2))
        {
            throw new ArgumentException($"--stage must be 1 or 2, got {stack.Stage}.");
        }

        if (stack.ThicknessNegatives is < 0 or > 1 || double.IsNaN(stack.ThicknessNegatives))
        {
            throw new ArgumentException($"--thickness-negatives must be a share from 0 to 1, got {stack.ThicknessNegatives}.");
        }

        if (stack.StageTwoConsistency < 0 || !double.IsFinite(stack.StageTwoConsistency))
        {
            throw new ArgumentException($"--stage2-consistency must be a finite weight of at least 0, got {stack.StageTwoConsistency}.");
        }

        if (stack.StageOneInitialization is not null && (stack.Stage != 1 || options.ResumeFrom is not null))
        {
            throw new ArgumentException(stack.Stage != 1
                ? $"--stage1-init starts a Stage-I training from a Stage-I checkpoint; it needs --stage 1 (got --stage {stack.Stage}; Stage 2 takes its Stage-I from --stage1)."
                : "--stage1-init starts a new Stage-I training; --resume continues one: give one of them.");
        }

        if (stack.StageOneInitialization is not null && stack.EncoderSteps is { } steps)
        {
            throw new ArgumentException($"--encoder-steps {steps} sets the text-encoder pre-training of a new Stage-I; --stage1-init keeps the checkpoint's trained encoder and pre-trains nothing: drop --encoder-steps.");
        }

        var stageTwoShape = new[] { (stack.Networks.StageTwoPaper, "--stage2-paper"), (stack.Networks.StageTwoResidual, "--stage2-residual"), (stack.Networks.StageTwoAntiAlias, "--stage2-antialias") }
            .Where(o => o.Item1).Select(o => o.Item2).ToList();
        if (stack.Stage == 1 && stageTwoShape.Count > 0)
        {
            throw new ArgumentException($"{string.Join(" ", stageTwoShape)} shape Stage-II's generator; a Stage-I training has none (got --stage 1): give them to the --stage 2 run that refines this Stage-I.");
        }

        if (stack.StageTwoConsistency > 0 && stack.Stage != 2)
        {
            throw new ArgumentException($"--stage2-consistency ties Stage-II's image to Stage-I's; it needs --stage 2 (got --stage {stack.Stage}).");
        }

        if (stack.Networks.DiscriminatorThickness && stack.AuxiliaryWeight <= 0)
        {
            throw new ArgumentException($"--aux-thickness adds thickness to the auxiliary classifier, which trains only with --aux-weight > 0 (got {stack.AuxiliaryWeight}).");
        }

        if (stack.ThicknessWeight is { } thicknessWeight && (!stack.Networks.DiscriminatorThickness || thicknessWeight < 0 || !double.IsFinite(thicknessWeight)))
        {
            throw new ArgumentException(stack.Networks.DiscriminatorThickness
                ? $"--aux-thickness-weight must be a finite weight of at least 0, got {thicknessWeight}."
                : $"--aux-thickness-weight {thicknessWeight} weighs the thickness head, which only --aux-thickness adds: give --aux-thickness too, or drop --aux-thickness-weight.");
        }

        if (stack.DiscriminatorWarmupSteps < 0 || (stack.DiscriminatorWarmupSteps > 0 && options.ResumeFrom is not null))
        {
            throw new ArgumentException(stack.DiscriminatorWarmupSteps < 0
                ? $"--d-warmup-steps must be at least 0, got {stack.DiscriminatorWarmupSteps}."
                : $"--d-warmup-steps {stack.DiscriminatorWarmupSteps} trains a fresh discriminator before the generator's first step; --resume continues with the checkpoint's trained one: drop --d-warmup-steps.");
        }

        if (stack.StageOneAverageEpochs < 1)
        {
            throw new ArgumentException($"--stage1-average must be at least 1, got {stack.StageOneAverageEpochs}.");
        }

        if (stack.Stage == 2 && stack.StageOneCheckpoint is null && options.ResumeFrom is null)
        {
            throw new ArgumentException("--stage 2 needs --stage1 (the Stage-I checkpoint folder) or --resume (a Stage-II checkpoint).");
        }

        var kind = stack.Stage == 1 ? ModelKind.StackGanStageOne : ModelKind.StackGanStageTwo;
        var resumed = options.ResumeFrom is null ? null : await Checkpoint.ReadInfoAsync(options.ResumeFrom, cancellationToken).ConfigureAwait(false);
        if (resumed is not null && resumed.Architecture.Kind != kind)
        {
            throw new ArgumentException($"--resume: {options.ResumeFrom} holds a {resumed.Architecture.Kind} checkpoint, not a {kind} one (--stage {stack.Stage}).");
        }

        var data = await MnistDataset.LoadAsync(options.DataDirectory, MnistSplit.Train, cancellationToken).ConfigureAwait(false);
        TorchSetup.Apply(options.Seed, options.Threads);
        var run = new RunFolder(options.RunDirectory);
        run.Create();
        // Caption draws depend on the epoch as well, so a resumed run does not replay the epochs it already did.
        var batches = new CaptionBatches(data, options.Seed + (ulong)(resumed?.Epoch ?? 0), stack.ThicknessNegatives);
        var stageOneInfo = resumed is null && stack.Stage == 2 ? await ReadStageOneAsync(stack.StageOneCheckpoint!, cancellationToken).ConfigureAwait(false) : null;
        var initialization = stack.StageOneInitialization is { } initial ? await ReadStageOneAsync(initial, cancellationToken, "--stage1-init").ConfigureAwait(false) : null;
        // A resumed run keeps the checkpoint's shapes, whatever the command line says. Stage-II takes the text encoder's
        // and Stage-I's shapes from the Stage-I checkpoint, a fine-tuned Stage-I (--stage1-init) all of the generator's;
        // the new networks (Stage-II, the fresh discriminator) are the command line's.
        StackGanArchitecture WithCommandLineDiscriminator(StackGanArchitecture checkpointNetworks) => checkpointNetworks with
        {
            DiscriminatorWidth = stack.Networks.DiscriminatorWidth,
            DiscriminatorBatchNorm = stack.Networks.DiscriminatorBatchNorm,
            DiscriminatorProjection = stack.Networks.DiscriminatorProjection,
            DiscriminatorThickness = stack.Networks.DiscriminatorThickness,
        };
        var networks = resumed?.Architecture.StackGan
            ?? (stageOneInfo?.Architecture.StackGan is { } first
                ? WithCommandLineDiscriminator(first) with
                {
                    StageTwoWidth = stack.Networks.StageTwoWidth,
                    ResidualBlocks = stack.Networks.ResidualBlocks,
                    StageTwoResidual = stack.Networks.StageTwoResidual,
                    StageTwoPaper = stack.Networks.StageTwoPaper,
                    StageTwoAntiAlias = stack.Networks.StageTwoAntiAlias,
                    StageOneStatisticsTruncation = stack.StageOneAverageEpochs > 1 ? stack.StageOneTruncation : null,
                }
                : initialization?.Architecture.StackGan is { } start ? WithCommandLineDiscriminator(start) : stack.Networks);
        var previousSeconds = 0.0;
        var clock = Stopwatch.StartNew();

        using var stageOne = new StageOneGenerator(networks);
        using var stageTwo = stack.Stage == 2 ? new StageTwoGenerator(networks) : null;
        var imageSize = stack.Stage == 1 ? CaptionedDigits.SmallSize : CaptionedDigits.LargeSize;
        using var discriminator = new MatchingDiscriminator(networks, imageSize);
        var encoderAccuracy = (double?)null;
        IReadOnlyList<string> earlierCommands = [];
        if (resumed is not null)
        {
            Checkpoint.LoadWeights(options.ResumeFrom!, StageOneFileName, stageOne);
            if (stageTwo is not null)
            {
                Checkpoint.LoadWeights(options.ResumeFrom!, StageTwoFileName, stageTwo);
            }

            Checkpoint.LoadWeights(options.ResumeFrom!, Checkpoint.DiscriminatorFileName, discriminator);
            previousSeconds = resumed.TrainingSeconds;
            encoderAccuracy = resumed.TestAccuracy;
            earlierCommands = [.. resumed.EarlierCommands, resumed.Command];
        }
        else if (initialization is not null)
        {
            Checkpoint.LoadWeights(stack.StageOneInitialization!, StageOneFileName, stageOne);
            previousSeconds = initialization.TrainingSeconds;
            encoderAccuracy = initialization.TestAccuracy;
            earlierCommands = [.. initialization.EarlierCommands, initialization.Command];
        }
        else if (stack.Stage == 1)
        {
            stageOne.apply(GanTrainer.InitializeDcganWeights);
            encoderAccuracy = PretrainEncoder(stageOne.Encoder, batches, progress, clock, cancellationToken);
        }
        else
        {
            if (stack.StageOneAverageEpochs > 1)
            {
                var snapshots = GeneratorAveraging.CheckpointsToAverage(stack.StageOneCheckpoint!, stageOneInfo!, stack.StageOneAverageEpochs);
                GeneratorAveraging.LoadStageOneAverage(stageOne, snapshots, stack.StageOneTruncation, options.Seed);
            }
            else
            {
                Checkpoint.LoadWeights(stack.StageOneCheckpoint!, StageOneFileName, stageOne);
            }

            previousSeconds = stageOneInfo!.TrainingSeconds;
            encoderAccuracy = stageOneInfo.TestAccuracy;
            earlierCommands = [.. stageOneInfo!.EarlierCommands, stageOneInfo.Command];
            stageTwo!.apply(GanTrainer.InitializeDcganWeights);
            if (networks.StageTwoResidual)
            {
                stageTwo.ZeroRefinement();
            }

            CopyWeights(stageOne.Encoder, stageTwo.Encoder);
        }

        // The text encoder stays as pre-trained; only the rest of the generator learns.
        var generator = stageTwo is null ? (nn.Module)stageOne : stageTwo;
        var encoder = stageTwo?.Encoder ?? stageOne.Encoder;
        foreach (var parameter in stageOne.Encoder.parameters().Concat(encoder.parameters()))
        {
            parameter.requires_grad = false;
        }

        if (stageTwo is not null)
        {
            foreach (var parameter in stageOne.parameters())
            {
                parameter.requires_grad = false;
            }

            stageOne.eval();
        }

        if (resumed is null)
        {
            discriminator.apply(GanTrainer.InitializeDcganWeights);
        }

        using var generatorOptimizer = optim.Adam(generator.parameters().Where(p => p.requires_grad), options.LearningRate, options.Beta1, 0.999);
        using var discriminatorOptimizer = optim.Adam(discriminator.parameters(), options.LearningRate * stack.DiscriminatorLearningRateScale, options.Beta1, 0.999);
        if (resumed is not null)
        {
            // Checkpoints written before optimizer state was saved resume with fresh Adam moments.
            Checkpoint.LoadOptimizerState(options.ResumeFrom!, Checkpoint.GeneratorOptimizerFileName, generatorOptimizer);
            Checkpoint.LoadOptimizerState(options.ResumeFrom!, Checkpoint.DiscriminatorOptimizerFileName, discriminatorOptimizer);
        }

        var batchSize = Math.Min(options.BatchSize, data.Count);
        var stepsPerEpoch = data.Count / batchSize;
        var (totalSteps, epochs) = options.StepBudget(stepsPerEpoch);
        await using var lossLog = await LossLog.OpenAsync(run.LossCsv, LossColumns(networks), append: resumed is not null, cancellationToken).ConfigureAwait(false);
        using var monitor = stack.ClassifierPath is { } classifierPath && File.Exists(classifierPath) ? new HeldOutMonitor(classifierPath, run.Root, thickness: data.Labels.Distinct().Count() == 10 ? ThicknessReader.Calibrate(data, imageSize) : null) : null;
        if (stack.DiscriminatorWarmupSteps > 0)
        {
            WarmUpDiscriminator(stageOne, stageTwo, discriminator, encoder, discriminatorOptimizer, batches, data.Count, batchSize, progress, clock, cancellationToken);
        }

        long step = resumed?.Step ?? 0;
        var firstStep = step;
        double ImagesPerSecond() => (step - firstStep) * batchSize / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
        var lastCheckpoint = string.Empty;
        var row = new double[LossColumns(networks).Length];
        for (var epoch = (resumed?.Epoch ?? 0) + 1; epoch <= epochs; epoch++)
        {
            random.manual_seed(unchecked((long)options.Seed + epoch));
            using var order = randperm(data.Count);
            var indices = order.data<long>().ToArray();
            for (var batch = 0; batch < stepsPerEpoch && step < totalSteps; batch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (GcQuietSection.Enter())
                using (NewDisposeScope())
                {
                    using var captioned = batches.Next(indices.AsSpan(batch * batchSize, batchSize));
                    Step(stageOne, stageTwo, discriminator, encoder, generatorOptimizer, discriminatorOptimizer, captioned).CopyTo(row, 0);
                }

                step++;
                await lossLog.AppendAsync(epoch, step, row, cancellationToken).ConfigureAwait(false);
                progress.Report(new TrainingProgress(
                    epoch,
                    epochs,
                    step,
                    totalSteps,
                    ImagesPerSecond(),
                    clock.Elapsed, // this session of this stage only (steps after firstStep), so the ETA is right; the checkpoint adds the rest
                    [new("D", row[0]), new("G", row[1]), new("Dx", row[2]), new("DGz", row[3]), new("Dwrong", row[4]), new("KL", row[5]), new("digit", row[6]), new("colour", row[7]), new("bg", row[8])],
                    firstStep));
            }

            await lossLog.FlushAsync(cancellationToken).ConfigureAwait(false);
            byte[] grid;
            using (GcQuietSection.Enter())
            {
                grid = StackGanSamples.TrainingGrid(stageOne, stageTwo);
            }

            await File.WriteAllBytesAsync(run.SampleGrid(epoch), grid, cancellationToken).ConfigureAwait(false);
            if (monitor is not null)
            {
                (double Digit, double Colour, double Background) heldOut;
                using (GcQuietSection.Enter())
                {
                    heldOut = await monitor.RecordAsync(epoch, stageOne, stageTwo, cancellationToken).ConfigureAwait(false);
                }

                progress.Report(new TrainingProgress(epoch, epochs, step, totalSteps, ImagesPerSecond(), clock.Elapsed,
                    [new("heldout digit", heldOut.Digit), new("colour", heldOut.Colour), new("bg", heldOut.Background)], firstStep));
            }

            generator.train();
            var info = new CheckpointInfo
            {
                Architecture = new GanArchitecture { Kind = kind, LatentDimension = networks.LatentDimension, StackGan = networks },
                Epoch = epoch,
                Step = step,
                Seed = options.Seed,
                TrainingSeconds = Math.Round(previousSeconds + clock.Elapsed.TotalSeconds, 1),
                Command = options.Command,
                EarlierCommands = earlierCommands,
                DataDirectory = options.DataDirectory,
                TrainingImages = data.Count,
                BatchSize = batchSize,
                TestAccuracy = encoderAccuracy,
            };
            var files = new Dictionary<string, nn.Module>
            {
                [StageOneFileName] = stageOne,
                [Checkpoint.DiscriminatorFileName] = discriminator,
            };
            if (stageTwo is not null)
            {
                files[StageTwoFileName] = stageTwo;
            }

            var optimizers = new Dictionary<string, TorchSharp.Modules.OptimizerHelper>
            {
                [Checkpoint.GeneratorOptimizerFileName] = generatorOptimizer,
                [Checkpoint.DiscriminatorOptimizerFileName] = discriminatorOptimizer,
            };
            lastCheckpoint = await Checkpoint.SaveEpochAsync(run, info, files, cancellationToken, optimizers).ConfigureAwait(false);
        }

        return new TrainingResult(run.Root, lastCheckpoint, step, previousSeconds + clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// Trains the encoder with four linear heads (digit, colour, background, thickness-or-unsaid) on
    /// random captions; returns the accuracy over all four heads on a fresh batch.
    /// </summary>
    private double PretrainEncoder(TextEncoder encoder, CaptionBatches batches, IProgress<TrainingProgress> progress, Stopwatch clock, CancellationToken cancellationToken)
    {
        var hidden = encoder.HiddenDimension;
        using var heads = nn.ModuleDict<nn.Module<Tensor, Tensor>>(
            ("digit", nn.Linear(hidden, 10)),
            ("colour", nn.Linear(hidden, CaptionGrammar.Colours.Count)),
            ("background", nn.Linear(hidden, CaptionGrammar.Backgrounds.Count)),
            ("thickness", nn.Linear(hidden, CaptionGrammar.Thicknesses.Count + 1)));
        using var optimizer = optim.Adam(encoder.parameters().Concat(heads.parameters()), 2e-3);
        const int batch = 256;
        Tensor[] Losses(Tensor embedding, (Tensor Tokens, Tensor Digit, Tensor Colour, Tensor Background, Tensor Thickness) captions) =>
        [
            nn.functional.cross_entropy(heads["digit"].forward(embedding), captions.Digit),
            nn.functional.cross_entropy(heads["colour"].forward(embedding), captions.Colour),
            nn.functional.cross_entropy(heads["background"].forward(embedding), captions.Background),
            nn.functional.cross_entropy(heads["thickness"].forward(embedding), captions.Thickness),
        ];

        var encoderSteps = stack.EncoderSteps ?? StackGanOptions.DefaultEncoderSteps;
        for (var step = 1; step <= encoderSteps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            using var quiet = GcQuietSection.Enter();
            using var scope = NewDisposeScope();
            var captions = batches.NextCaptions(batch);
            optimizer.zero_grad();
            var loss = Losses(encoder.forward(captions.Tokens), captions).Aggregate((a, b) => a + b);
            loss.backward();
            optimizer.step();
            if (step % 20 == 0 || step == encoderSteps)
            {
                progress.Report(new TrainingProgress(0, 0, step, encoderSteps, step * batch / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed, [new("encoder", loss.item<float>())]));
            }
        }

        using (NewDisposeScope())
        using (no_grad())
        {
            var captions = batches.NextCaptions(2000);
            var embedding = encoder.forward(captions.Tokens);
            var correct = new[]
            {
                heads["digit"].forward(embedding).argmax(1).eq(captions.Digit),
                heads["colour"].forward(embedding).argmax(1).eq(captions.Colour),
                heads["background"].forward(embedding).argmax(1).eq(captions.Background),
                heads["thickness"].forward(embedding).argmax(1).eq(captions.Thickness),
            }.Aggregate((a, b) => a.logical_and(b));
            return Math.Round(correct.to_type(ScalarType.Float32).mean().item<float>(), 4);
        }
    }

    private double[] Step(
        StageOneGenerator stageOne,
        StageTwoGenerator? stageTwo,
        MatchingDiscriminator discriminator,
        TextEncoder encoder,
        optim.Optimizer generatorOptimizer,
        optim.Optimizer discriminatorOptimizer,
        CaptionBatch batch)
    {
        var b = batch.Tokens.shape[0];
        var networks = stageOne.Architecture;
        var real = Noisy(stageTwo is null ? batch.Small : batch.Large);
        var noEmbedding = zeros(b, networks.EmbeddingDimension);
        Tensor sentence, wrongSentence;
        using (no_grad())
        {
            sentence = encoder.forward(batch.Tokens);
            wrongSentence = encoder.forward(batch.WrongTokens);
        }

        var pass = GeneratePass(stageOne, stageTwo, batch, noEmbedding);
        var (discriminatorLoss, realLogits, fakeLogits, wrongLogits) = DiscriminatorStep(discriminator, discriminatorOptimizer, real, sentence, wrongSentence, pass.Image.detach(), batch);

        // Generator: non-saturating GAN loss + the caption's attributes read by D's classifier + CA's KL term.
        generatorOptimizer.zero_grad();
        var (generatedLogits, generatedAttributes) = discriminator.Forward(Noisy(pass.Image), sentence);
        var kl = KlDivergence(pass);
        var generatorLoss = GeneratorLoss(generatedLogits, generatedAttributes, kl, batch, pass);
        generatorLoss.backward();
        generatorOptimizer.step();

        // Further generator steps on fresh noise (after the first, whose graph used the weights before any update).
        for (var extra = 1; extra < stack.GeneratorSteps; extra++)
        {
            using var again = GeneratePass(stageOne, stageTwo, batch, noEmbedding);
            generatorOptimizer.zero_grad();
            var (logits, attributes) = discriminator.Forward(Noisy(again.Image), sentence);
            GeneratorLoss(logits, attributes, KlDivergence(again), batch, again).backward();
            generatorOptimizer.step();
        }

        double[] thicknessColumn = generatedAttributes.Thickness is { } thickness ? [StatedAccuracy(thickness, batch.StatedThicknesses)] : [];
        return
        [
            discriminatorLoss.item<float>(),
            generatorLoss.item<float>(),
            realLogits.sigmoid().mean().item<float>(),
            fakeLogits.sigmoid().mean().item<float>(),
            wrongLogits.sigmoid().mean().item<float>(),
            kl.item<float>(),
            Accuracy(generatedAttributes.Digit, batch.Digits),
            Accuracy(generatedAttributes.Colour, batch.Colours),
            Accuracy(generatedAttributes.Background, batch.Backgrounds),
            .. thicknessColumn,
        ];
    }

    private Tensor GeneratorLoss(Tensor logits, AttributeLogits attributes, Tensor kl, CaptionBatch batch, GeneratorPass pass)
    {
        var loss = nn.functional.softplus(-logits).mean() + (stack.KlWeight * kl);
        if (stack.StageTwoConsistency > 0 && pass.StageOneImage is { } stageOneImage)
        {
            loss = loss + (stack.StageTwoConsistency * ConsistencyLoss(pass.Image, stageOneImage));
        }

        return stack.AuxiliaryWeight > 0 ? loss + AttributeLoss(attributes, batch, real: false, stack.AuxiliaryWeight, stack.EffectiveThicknessWeight) : loss;
    }

    /// <summary>Mean |area-downsized (2×2 mean) large image − small image|: 0 when the large image is any refinement whose 2×2 means are the small one.</summary>
    internal static Tensor ConsistencyLoss(Tensor large, Tensor small) =>
        (nn.functional.avg_pool2d(large, 2) - small).abs().mean();

    /// <summary>
    /// Cross-entropy of digit, stroke colour and background, summed, times <paramref name="weight"/>; with the thickness
    /// head (--aux-thickness) plus that of thickness times <paramref name="thicknessWeight"/>: on real images (D's step)
    /// against the image's own thickness, which a render always has; on generated images (G's step) against the
    /// caption's, masked out where the caption does not say one (the generator may then draw any thickness).
    /// </summary>
    internal static Tensor AttributeLoss(AttributeLogits attributes, CaptionBatch batch, bool real, double weight = 1, double thicknessWeight = 1)
    {
        var loss = weight * (nn.functional.cross_entropy(attributes.Digit, batch.Digits)
            + nn.functional.cross_entropy(attributes.Colour, batch.Colours)
            + nn.functional.cross_entropy(attributes.Background, batch.Backgrounds));
        if (attributes.Thickness is not { } thickness)
        {
            return loss;
        }

        return loss + (thicknessWeight * (real ? nn.functional.cross_entropy(thickness, batch.Thicknesses) : StatedThicknessLoss(thickness, batch.StatedThicknesses)));
    }

    /// <summary>
    /// Mean cross-entropy of thickness logits [B, 3] over the rows whose target [B] states a thickness (0–2); rows with
    /// target 3 (not said) add nothing, and a batch without any stated thickness gives 0.
    /// </summary>
    internal static Tensor StatedThicknessLoss(Tensor logits, Tensor stated)
    {
        var notSaid = CaptionGrammar.Thicknesses.Count;
        var perRow = nn.functional.cross_entropy(logits, stated, ignore_index: notSaid, reduction: nn.Reduction.None);
        var said = stated.ne(notSaid).to_type(logits.dtype);
        return perRow.sum() / said.sum().clamp_min(1.0);
    }

    /// <summary>Accuracy of thickness logits over the rows whose caption states a thickness (NaN when none does).</summary>
    private static float StatedAccuracy(Tensor logits, Tensor stated)
    {
        var said = stated.ne(CaptionGrammar.Thicknesses.Count);
        var count = said.sum().item<long>();
        return count == 0 ? float.NaN : logits.argmax(1).eq(stated).logical_and(said).sum().item<long>() / (float)count;
    }

    private static float Accuracy(Tensor logits, Tensor targets) => logits.argmax(1).eq(targets).to_type(ScalarType.Float32).mean().item<float>();

    /// <summary>KL(N(μ, σ²) ‖ N(0, 1)) of Conditioning Augmentation, summed over c and averaged over the batch.</summary>
    private static Tensor KlDivergence(GeneratorPass pass) =>
        (0.5 * (pass.Mu.pow(2) + pass.LogVariance.exp() - 1.0 - pass.LogVariance).sum(1)).mean();

    private Tensor Noisy(Tensor images) => stack.InstanceNoise > 0 ? images + (randn_like(images) * stack.InstanceNoise) : images;

    /// <summary>
    /// One discriminator step: real+matching → 1; generated → 0 and real+mismatched → 0 (half weight each); with
    /// --aux-weight the attributes of the real images. Returns the loss and the three logits.
    /// </summary>
    private (Tensor Loss, Tensor Real, Tensor Fake, Tensor Wrong) DiscriminatorStep(
        MatchingDiscriminator discriminator, optim.Optimizer optimizer, Tensor real, Tensor sentence, Tensor wrongSentence, Tensor generated, CaptionBatch batch)
    {
        optimizer.zero_grad();
        var (realLogits, realAttributes) = discriminator.Forward(real, sentence);
        var (wrongLogits, _) = discriminator.Forward(real, wrongSentence);
        var (fakeLogits, _) = discriminator.Forward(Noisy(generated), sentence);
        var loss = nn.functional.softplus(-realLogits).mean()
            + (0.5 * (nn.functional.softplus(fakeLogits).mean() + nn.functional.softplus(wrongLogits).mean()));
        if (stack.AuxiliaryWeight > 0)
        {
            loss = loss + AttributeLoss(realAttributes, batch, real: true, stack.AuxiliaryWeight, stack.EffectiveThicknessWeight);
        }

        loss.backward();
        optimizer.step();
        return (loss, realLogits, fakeLogits, wrongLogits);
    }

    /// <summary>
    /// <see cref="StackGanOptions.DiscriminatorWarmupSteps"/> discriminator steps against the generator as it starts, on
    /// batches of a shuffled order of its own (the epochs' orders are untouched); the generator gets no gradient and no
    /// weight changes (its BatchNorm running statistics move as in any training step).
    /// </summary>
    internal void WarmUpDiscriminator(
        StageOneGenerator stageOne,
        StageTwoGenerator? stageTwo,
        MatchingDiscriminator discriminator,
        TextEncoder encoder,
        optim.Optimizer discriminatorOptimizer,
        CaptionBatches batches,
        int count,
        int batchSize,
        IProgress<TrainingProgress> progress,
        Stopwatch clock,
        CancellationToken cancellationToken)
    {
        var steps = stack.DiscriminatorWarmupSteps;
        var stepsPerOrder = count / batchSize;
        long[] indices = [];
        for (var step = 0; step < steps; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (step % stepsPerOrder == 0)
            {
                random.manual_seed(unchecked((long)options.Seed - 1 - (step / stepsPerOrder)));
                using var order = randperm(count);
                indices = order.data<long>().ToArray();
            }

            using var quiet = GcQuietSection.Enter();
            using var scope = NewDisposeScope();
            using var batch = batches.Next(indices.AsSpan(step % stepsPerOrder * batchSize, batchSize));
            Tensor sentence, wrongSentence, generated;
            using (no_grad())
            {
                sentence = encoder.forward(batch.Tokens);
                wrongSentence = encoder.forward(batch.WrongTokens);
                using var pass = GeneratePass(stageOne, stageTwo, batch, zeros(batch.Tokens.shape[0], stageOne.Architecture.EmbeddingDimension));
                generated = pass.Image.detach();
            }

            var (loss, realLogits, fakeLogits, _) = DiscriminatorStep(discriminator, discriminatorOptimizer, Noisy(stageTwo is null ? batch.Small : batch.Large), sentence, wrongSentence, generated, batch);
            if ((step + 1) % 20 == 0 || step + 1 == steps)
            {
                progress.Report(new TrainingProgress(0, 0, step + 1, steps, (step + 1) * batchSize / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed,
                    [new("D warm-up", loss.item<float>()), new("Dx", realLogits.sigmoid().mean().item<float>()), new("DGz", fakeLogits.sigmoid().mean().item<float>())]));
            }
        }
    }

    /// <summary>A generator pass on fresh z and ε: Stage-I, or Stage-II on a frozen Stage-I image.</summary>
    private GeneratorPass GeneratePass(StageOneGenerator stageOne, StageTwoGenerator? stageTwo, CaptionBatch batch, Tensor noEmbedding)
    {
        var b = batch.Tokens.shape[0];
        var networks = stageOne.Architecture;
        var z = randn(b, networks.LatentDimension);
        var epsilon = randn(b, networks.ConditionDimension);
        if (stageTwo is null)
        {
            return stageOne.Forward(batch.Tokens, noEmbedding, z, epsilon);
        }

        Tensor small;
        using (no_grad())
        {
            small = stageOne.Forward(batch.Tokens, noEmbedding, z, epsilon).Image;
        }

        return stageTwo.Forward(batch.Tokens, noEmbedding, small, randn(b, networks.ConditionDimension)) with { StageOneImage = small };
    }

    private static async Task<CheckpointInfo> ReadStageOneAsync(string directory, CancellationToken cancellationToken, string option = "--stage1")
    {
        var info = await Checkpoint.ReadInfoAsync(directory, cancellationToken).ConfigureAwait(false);
        return info.Architecture.Kind == ModelKind.StackGanStageOne && info.Architecture.StackGan is not null
            ? info
            : throw new ArgumentException($"{option}: {directory} holds a {info.Architecture.Kind} checkpoint, not a Stage-I one.");
    }

    private static void CopyWeights(nn.Module source, nn.Module destination)
    {
        using var _ = no_grad();
        var target = destination.state_dict();
        foreach (var (name, value) in source.state_dict())
        {
            target[name].copy_(value);
        }
    }
}
