using System.Diagnostics;
using GanInference.Trainers.Data;
using GanInference.Trainers.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>
/// Trains <see cref="MnistClassifier"/> with cross-entropy and Adam, reporting test accuracy per
/// epoch. Small random shifts (±2 px) augment the 9,000 training digits.
/// </summary>
public sealed class ClassifierTrainer
{
    private const int MaxShift = 2;
    private static readonly string[] LossColumns = ["loss", "train_accuracy"];

    private readonly TrainingOptions options;

    public ClassifierTrainer(TrainingOptions options)
    {
        options.Validate();
        if (options.Architecture.Kind != ModelKind.Classifier)
        {
            throw new ArgumentException("ClassifierTrainer trains the classifier only.", nameof(options));
        }

        this.options = options;
    }

    public async Task<(TrainingResult Result, double TestAccuracy)> RunAsync(IProgress<TrainingProgress> progress, CancellationToken cancellationToken)
    {
        var train = await MnistDataset.LoadAsync(options.DataDirectory, MnistSplit.Train, cancellationToken).ConfigureAwait(false);
        var test = await MnistDataset.LoadAsync(options.DataDirectory, MnistSplit.Test, cancellationToken).ConfigureAwait(false);
        TorchSetup.Apply(options.Seed, options.Threads);
        var run = new RunFolder(options.RunDirectory);
        run.Create();

        using var classifier = new MnistClassifier(options.Architecture);
        using var optimizer = optim.Adam(classifier.parameters(), options.LearningRate);
        using var images = train.ImagesTensor();
        using var labels = train.LabelsTensor();
        using var testImages = test.ImagesTensor();
        using var testLabels = test.LabelsTensor();

        var batchSize = Math.Min(options.BatchSize, train.Count);
        var stepsPerEpoch = (train.Count + batchSize - 1) / batchSize;
        var totalSteps = options.MaxSteps > 0 ? Math.Min(options.MaxSteps, (long)stepsPerEpoch * options.Epochs) : (long)stepsPerEpoch * options.Epochs;
        var epochs = (int)((totalSteps + stepsPerEpoch - 1) / stepsPerEpoch);
        await using var lossLog = await LossLog.CreateAsync(run.LossCsv, LossColumns, cancellationToken).ConfigureAwait(false);

        var clock = Stopwatch.StartNew();
        long step = 0;
        double testAccuracy = 0;
        var lastCheckpoint = string.Empty;
        var row = new double[LossColumns.Length];
        for (var epoch = 1; epoch <= epochs; epoch++)
        {
            classifier.train();
            using var order = randperm(train.Count);
            for (var batch = 0; batch < stepsPerEpoch && step < totalSteps; batch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                using (GcQuietSection.Enter())
                using (NewDisposeScope())
                {
                    var start = batch * batchSize;
                    var index = order.narrow(0, start, Math.Min(batchSize, train.Count - start));
                    var x = Shift(images.index_select(0, index));
                    var y = labels.index_select(0, index);
                    optimizer.zero_grad();
                    var logits = classifier.forward(x);
                    var loss = nn.functional.cross_entropy(logits, y);
                    loss.backward();
                    optimizer.step();
                    row[0] = loss.item<float>();
                    row[1] = logits.argmax(1).eq(y).to_type(ScalarType.Float32).mean().item<float>();
                }

                step++;
                await lossLog.AppendAsync(epoch, step, row, cancellationToken).ConfigureAwait(false);
                progress.Report(new TrainingProgress(epoch, epochs, step, totalSteps, step * batchSize / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed,
                    [new("loss", row[0]), new("acc", row[1]), new("test acc", testAccuracy)]));
            }

            testAccuracy = Accuracy(classifier, testImages, testLabels);
            var info = new CheckpointInfo
            {
                Architecture = options.Architecture,
                Epoch = epoch,
                Step = step,
                Seed = options.Seed,
                TrainingSeconds = Math.Round(clock.Elapsed.TotalSeconds, 1),
                Command = options.Command,
                DataDirectory = options.DataDirectory,
                TrainingImages = train.Count,
                BatchSize = batchSize,
                TestAccuracy = Math.Round(testAccuracy, 4),
            };
            var networks = new Dictionary<string, nn.Module> { [Checkpoint.ClassifierFileName] = classifier };
            lastCheckpoint = await Checkpoint.SaveEpochAsync(run, info, networks, cancellationToken).ConfigureAwait(false);
        }

        return (new TrainingResult(run.Root, lastCheckpoint, step, clock.Elapsed.TotalSeconds), testAccuracy);
    }

    /// <summary>Fraction of <paramref name="images"/> classified as <paramref name="labels"/> (eval mode).</summary>
    internal static double Accuracy(MnistClassifier classifier, Tensor images, Tensor labels)
    {
        classifier.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var correct = 0L;
        for (long start = 0; start < images.shape[0]; start += 500)
        {
            var length = Math.Min(500, images.shape[0] - start);
            var predicted = classifier.forward(images.narrow(0, start, length)).argmax(1);
            correct += predicted.eq(labels.narrow(0, start, length)).sum().item<long>();
        }

        classifier.train();
        return (double)correct / images.shape[0];
    }

    /// <summary>Rolls the whole batch by one random offset of up to ±2 pixels (background is -1, so rolling in border pixels is harmless).</summary>
    private static Tensor Shift(Tensor batch)
    {
        var dx = randint(-MaxShift, MaxShift + 1, [1]).item<long>();
        var dy = randint(-MaxShift, MaxShift + 1, [1]).item<long>();
        return batch.roll([dy, dx], [2, 3]);
    }
}
