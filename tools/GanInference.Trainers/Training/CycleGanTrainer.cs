using System.Diagnostics;
using GanInference.Trainers.Data;
using GanInference.Trainers.Imaging;
using GanInference.Trainers.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>
/// CycleGAN (Zhu et al. 2017) between domain A (grey digits, the first half of the training split)
/// and domain B (ink-on-paper digits rendered from the second half), unpaired. LSGAN losses:
/// D minimises ½[(D(real) − 1)² + D(pool(fake))²], G minimises (D(G(x)) − 1)²; cycle
/// λ·(|F(G(a)) − a|₁ + |G(F(b)) − b|₁) with λ = 10; identity 0.5·λ·(|G(grey(b)) − b|₁ + |F(rgb(a)) − a|₁).
/// The domains differ in channels (1 vs 3), so the identity terms feed each generator the other
/// domain's image adapted to its input channels: B as luma (0.299, 0.587, 0.114), A repeated to RGB.
/// </summary>
public sealed class CycleGanTrainer
{
    public const double CycleWeight = 10;
    public const double IdentityWeight = 0.5;
    private static readonly string[] LossColumns = ["d_a", "d_b", "g_a2b", "g_b2a", "cycle", "identity", "lr"];

    private readonly TrainingOptions options;
    private readonly TranslationSchedule schedule;

    public CycleGanTrainer(TrainingOptions options, TranslationSchedule? schedule = null)
    {
        this.schedule = schedule ?? new TranslationSchedule();
        this.schedule.Validate();
        this.schedule.CheckDecay(options.Epochs);
        TranslationTraining.CheckKind(options, ModelKind.CycleGan);
        this.options = options;
    }

    /// <summary>Domain A gets training digits [0, N/2), domain B [N/2, N): never the same digit.</summary>
    public static (ImageSet A, ImageSet B) Domains(MnistDataset train)
    {
        var half = train.Count / 2;
        return (InkDigits.DomainA(train, 0, half), InkDigits.DomainB(train, half, train.Count - half));
    }

    public async Task<TrainingResult> RunAsync(IProgress<TrainingProgress> progress, CancellationToken cancellationToken)
    {
        var train = await MnistDataset.LoadAsync(options.DataDirectory, MnistSplit.Train, cancellationToken).ConfigureAwait(false);
        var test = await MnistDataset.LoadAsync(options.DataDirectory, MnistSplit.Test, cancellationToken).ConfigureAwait(false);
        var (domainA, domainB) = Domains(train);
        var previewCount = Math.Min(TranslationTraining.PreviewRows, test.Count / 2);
        var previewA = TranslationTraining.Head(InkDigits.DomainA(test, 0, previewCount), previewCount);
        var previewB = TranslationTraining.Head(InkDigits.DomainB(test, test.Count / 2, previewCount), previewCount);
        TorchSetup.Apply(options.Seed, options.Threads);
        var run = new RunFolder(options.RunDirectory);
        run.Create();
        var resumed = await TranslationTraining.ReadResumedAsync(options, cancellationToken).ConfigureAwait(false);
        var architecture = resumed?.Architecture ?? options.Architecture;

        using var generatorAToB = TranslationModels.CreateCycleGenerator(architecture, CycleDirection.AToB);
        using var generatorBToA = TranslationModels.CreateCycleGenerator(architecture, CycleDirection.BToA);
        using var discriminatorA = TranslationModels.CreateCycleDiscriminator(architecture, InkDigits.ChannelsA);
        using var discriminatorB = TranslationModels.CreateCycleDiscriminator(architecture, InkDigits.ChannelsB);
        foreach (var network in new nn.Module[] { generatorAToB, generatorBToA, discriminatorA, discriminatorB })
        {
            network.apply(TranslationTraining.InitializeWeights);
        }

        // One optimizer per network: the paper's code joins the two Gs, which is the same for Adam (per-parameter state).
        using var optimizerAToB = optim.Adam(generatorAToB.parameters(), options.LearningRate, options.Beta1, 0.999);
        using var optimizerBToA = optim.Adam(generatorBToA.parameters(), options.LearningRate, options.Beta1, 0.999);
        using var optimizerA = optim.Adam(discriminatorA.parameters(), options.LearningRate, options.Beta1, 0.999);
        using var optimizerB = optim.Adam(discriminatorB.parameters(), options.LearningRate, options.Beta1, 0.999);
        var networks = new Dictionary<string, nn.Module>
        {
            [TranslationModels.GeneratorAToBFileName] = generatorAToB,
            [TranslationModels.GeneratorBToAFileName] = generatorBToA,
            [TranslationModels.DiscriminatorAFileName] = discriminatorA,
            [TranslationModels.DiscriminatorBFileName] = discriminatorB,
        };
        var optimizers = new Dictionary<string, OptimizerHelper>
        {
            [TranslationModels.GeneratorAToBOptimizerFileName] = optimizerAToB,
            [TranslationModels.GeneratorBToAOptimizerFileName] = optimizerBToA,
            [TranslationModels.DiscriminatorAOptimizerFileName] = optimizerA,
            [TranslationModels.DiscriminatorBOptimizerFileName] = optimizerB,
        };
        if (resumed is not null)
        {
            TranslationTraining.Restore(options.ResumeFrom!, networks, optimizers);
        }

        using var imagesA = domainA.ToTensor();
        using var imagesB = domainB.ToTensor();
        using var previewTensorA = TranslationTraining.AsTensor(previewA, InkDigits.ChannelsA);
        using var previewTensorB = TranslationTraining.AsTensor(previewB, InkDigits.ChannelsB);
        using var poolA = new ImagePool(ImagePool.DefaultCapacity, new Random(unchecked((int)options.Seed)));
        using var poolB = new ImagePool(ImagePool.DefaultCapacity, new Random(unchecked((int)options.Seed + 1)));
        var networksForStep = new CycleNetworks(generatorAToB, generatorBToA, discriminatorA, discriminatorB, optimizerAToB, optimizerBToA, optimizerA, optimizerB, poolA, poolB);

        var pairs = Math.Min(domainA.Count, domainB.Count);
        var batchSize = Math.Min(options.BatchSize, pairs);
        var stepsPerEpoch = schedule.StepsPerEpoch(pairs, batchSize);
        var (totalSteps, epochs) = options.StepBudget(stepsPerEpoch);
        await using var lossLog = await LossLog.OpenAsync(run.LossCsv, LossColumns, append: resumed is not null, cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var previousSeconds = resumed?.TrainingSeconds ?? 0;
        long step = resumed?.Step ?? 0;
        var lastCheckpoint = string.Empty;
        var row = new double[LossColumns.Length];
        for (var epoch = (resumed?.Epoch ?? 0) + 1; epoch <= epochs; epoch++)
        {
            random.manual_seed(unchecked((long)options.Seed + epoch));
            var learningRate = schedule.LearningRate(options.LearningRate, epoch, options.Epochs);
            TranslationTraining.SetLearningRate(optimizers.Values, learningRate);
            using var orderA = randperm(domainA.Count);
            using var orderB = randperm(domainB.Count);
            for (var batch = 0; batch < stepsPerEpoch && step < totalSteps; batch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (GcQuietSection.Enter())
                using (NewDisposeScope())
                {
                    var realA = imagesA.index_select(0, orderA.narrow(0, batch * batchSize, batchSize));
                    var realB = imagesB.index_select(0, orderB.narrow(0, batch * batchSize, batchSize));
                    Step(networksForStep, realA, realB).CopyTo(row, 0);
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
                    [new("DA", row[0]), new("DB", row[1]), new("GAB", row[2]), new("GBA", row[3]), new("cyc", row[4]), new("idt", row[5])]));
            }

            await lossLog.FlushAsync(cancellationToken).ConfigureAwait(false);
            await WritePreviewAsync(generatorAToB, generatorBToA, previewTensorA, previewTensorB, previewA, previewB, run.SampleGrid(epoch), cancellationToken).ConfigureAwait(false);
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
                TrainingImages = domainA.Count + domainB.Count,
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

    /// <summary>[B, 3, H, W] in [-1, 1] → its luma [B, 1, H, W] (ITU-R BT.601 weights; affine, so the range is kept).</summary>
    public static Tensor Luma(Tensor rgb)
    {
        var channels = rgb.split(1, 1);
        return (0.299 * channels[0]) + (0.587 * channels[1]) + (0.114 * channels[2]);
    }

    /// <summary>One G step (both generators), then one step of each discriminator; returns the logged losses.</summary>
    private static double[] Step(CycleNetworks n, Tensor realA, Tensor realB)
    {
        static Tensor LeastSquares(Tensor logits, double target) => (logits - target).square().mean();

        TranslationTraining.SetRequiresGrad(n.DiscriminatorA, false);
        TranslationTraining.SetRequiresGrad(n.DiscriminatorB, false);
        n.OptimizerAToB.zero_grad();
        n.OptimizerBToA.zero_grad();
        var fakeB = n.AToB.forward(realA);
        var fakeA = n.BToA.forward(realB);
        var adversarialAToB = LeastSquares(n.DiscriminatorB.forward(fakeB), 1);
        var adversarialBToA = LeastSquares(n.DiscriminatorA.forward(fakeA), 1);
        var cycle = (n.BToA.forward(fakeB) - realA).abs().mean() + (n.AToB.forward(fakeA) - realB).abs().mean();
        var identity = (n.AToB.forward(Luma(realB)) - realB).abs().mean() + (n.BToA.forward(realA.expand(-1, 3, -1, -1)) - realA).abs().mean();
        var generatorLoss = adversarialAToB + adversarialBToA + (CycleWeight * cycle) + (IdentityWeight * CycleWeight * identity);
        generatorLoss.backward();
        n.OptimizerAToB.step();
        n.OptimizerBToA.step();
        TranslationTraining.SetRequiresGrad(n.DiscriminatorA, true);
        TranslationTraining.SetRequiresGrad(n.DiscriminatorB, true);

        n.OptimizerA.zero_grad();
        var lossA = 0.5 * (LeastSquares(n.DiscriminatorA.forward(realA), 1) + LeastSquares(n.DiscriminatorA.forward(n.PoolA.Query(fakeA)), 0));
        lossA.backward();
        n.OptimizerA.step();

        n.OptimizerB.zero_grad();
        var lossB = 0.5 * (LeastSquares(n.DiscriminatorB.forward(realB), 1) + LeastSquares(n.DiscriminatorB.forward(n.PoolB.Query(fakeB)), 0));
        lossB.backward();
        n.OptimizerB.step();

        return
        [
            lossA.item<float>(),
            lossB.item<float>(),
            adversarialAToB.item<float>(),
            adversarialBToA.item<float>(),
            cycle.item<float>(),
            identity.item<float>(),
        ];
    }

    /// <summary>Preview rows: A | A→B | A→B→A | B | B→A | B→A→B on held-out test digits.</summary>
    private static async Task WritePreviewAsync(ResnetGenerator aToB, ResnetGenerator bToA, Tensor a, Tensor b, float[] aPixels, float[] bPixels, string path, CancellationToken cancellationToken)
    {
        var ab = TranslationTraining.Evaluate(aToB, a);
        var ba = TranslationTraining.Evaluate(bToA, b);
        using var abTensor = TranslationTraining.AsTensor(ab, InkDigits.ChannelsB);
        using var baTensor = TranslationTraining.AsTensor(ba, InkDigits.ChannelsA);
        var aba = TranslationTraining.Evaluate(bToA, abTensor);
        var bab = TranslationTraining.Evaluate(aToB, baTensor);
        var png = ImageTable.EncodePng(
            [new(aPixels, 1), new(ab, 3), new(aba, 1), new(bPixels, 3), new(ba, 1), new(bab, 3)],
            DigitImaging.Size);
        await File.WriteAllBytesAsync(path, png, cancellationToken).ConfigureAwait(false);
    }

    private sealed record CycleNetworks(
        ResnetGenerator AToB,
        ResnetGenerator BToA,
        PatchDiscriminator DiscriminatorA,
        PatchDiscriminator DiscriminatorB,
        optim.Optimizer OptimizerAToB,
        optim.Optimizer OptimizerBToA,
        optim.Optimizer OptimizerA,
        optim.Optimizer OptimizerB,
        ImagePool PoolA,
        ImagePool PoolB);
}
