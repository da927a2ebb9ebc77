using GanInference.Trainers.Data;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// Held-out figures of a Stage-I checkpoint (32×32), with the per-digit share of digits recognised, and the share read as
/// the caption's thickness (per thickness too: thin, regular, thick) beside the same reader's share on real renders.
/// </summary>
public sealed record StageOneReport(
    int Captions, int AveragedEpochs, float Truncation, double Digit, double Colour, double Background, IReadOnlyList<double> DigitByClass,
    double Thickness, IReadOnlyList<double> ThicknessByCaption, double RealThickness);

/// <summary>
/// <c>evaluate-stage1</c>: a Stage-I checkpoint, or the mean of its last N epochs (as <c>train stackgan --stage 2
/// --stage1-average N</c> uses it), on the held-out captions at a truncation, read back as the export's evaluation
/// reads. Chooses averaging and truncation before Stage-II is trained.
/// </summary>
public static class StageOneCheckpointEvaluator
{
    /// <param name="dataDirectory">MNIST folder: its training digits calibrate the thickness reader, its test digits make
    /// the real renders; null for the checkpoint's training data.</param>
    public static async Task<StageOneReport> EvaluateAsync(string checkpoint, int averageEpochs, float truncation, int captionCount, string classifierPath, string? dataDirectory, CancellationToken cancellationToken)
    {
        var info = await Checkpoint.ReadInfoAsync(checkpoint, cancellationToken).ConfigureAwait(false);
        if (info.Architecture.Kind != ModelKind.StackGanStageOne || info.Architecture.StackGan is not { } networks)
        {
            throw new ArgumentException($"--checkpoint: {checkpoint} holds a {info.Architecture.Kind} checkpoint, not a Stage-I one.");
        }

        using var stageOne = new StageOneGenerator(networks);
        if (averageEpochs > 1)
        {
            GeneratorAveraging.LoadStageOneAverage(stageOne, GeneratorAveraging.CheckpointsToAverage(checkpoint, info, averageEpochs), truncation, info.Seed);
        }
        else
        {
            Checkpoint.LoadWeights(checkpoint, StackGanTrainer.StageOneFileName, stageOne);
        }

        var captions = TextToImageEvaluator.HeldOutCaptions(captionCount);
        float[] small;
        using (GcQuietSection.Enter())
        {
            (small, _) = StackGanSamples.Generate(stageOne, null, [.. captions.Select(c => c.Caption)], TextToImageEvaluator.Seeds(captionCount), truncation);
        }

        using var classifier = new OnnxClassifierSession(classifierPath);
        var (digit, colour, background) = TextToImageEvaluator.Read(small, CaptionedDigits.SmallSize, captions, classifier, cancellationToken);
        const int length = 3 * CaptionedDigits.SmallSize * CaptionedDigits.SmallSize;
        var byClass = Enumerable.Range(0, 10).Select(d =>
        {
            var rows = Enumerable.Range(0, captions.Count).Where(i => captions[i].Attributes.Digit == d).ToArray();
            var images = rows.SelectMany(i => small.AsSpan(i * length, length).ToArray()).ToArray();
            return rows.Length == 0 ? double.NaN : TextToImageEvaluator.Read(images, CaptionedDigits.SmallSize, [.. rows.Select(i => captions[i])], classifier, cancellationToken).Digit;
        }).ToArray();

        // Thickness at 32×32 on the same (selection) captions, as heldout.csv reads it during training.
        var data = dataDirectory ?? info.DataDirectory;
        var reader = ThicknessReader.Calibrate(await MnistDataset.LoadAsync(data, MnistSplit.Train, cancellationToken).ConfigureAwait(false), CaptionedDigits.SmallSize);
        var real = TextToImageEvaluator.RenderRealBoth(await MnistDataset.LoadAsync(data, MnistSplit.Test, cancellationToken).ConfigureAwait(false), captions).Small;
        return new StageOneReport(captionCount, Math.Max(averageEpochs, 1), truncation, digit, colour, background, byClass, reader.Accuracy(small, captions), reader.AccuracyByThickness(small, captions), reader.Accuracy(real, captions));
    }
}
