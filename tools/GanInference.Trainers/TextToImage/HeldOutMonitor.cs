using System.Globalization;
using GanInference.Trainers.Evaluation;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// The quality bar's figures after every epoch, from the TorchSharp networks: the 200 held-out captions and seeds
/// of <see cref="TextToImageEvaluator"/>, read back by the same reader, appended to <c>heldout.csv</c> in the run
/// folder, with the share whose thickness <see cref="ThicknessReader"/> (calibrated on the run's training digits at
/// the final image size) reads as the caption's. A run can be judged (and stopped) by these numbers rather than by
/// eye on the sample grid. A run resumed from before the thickness column keeps its file's four columns.
/// </summary>
public sealed class HeldOutMonitor : IDisposable
{
    public const string FileName = "heldout.csv";
    private readonly OnnxClassifierSession classifier;
    private readonly IReadOnlyList<(DigitAttributes Attributes, string Caption)> captions;
    private readonly string[] captionTexts;
    private readonly ulong[] seeds;
    private readonly string path;
    private readonly ThicknessReader? thickness;

    public HeldOutMonitor(string classifierPath, string runDirectory, int count = TextToImageEvaluator.DefaultCaptions, ThicknessReader? thickness = null)
    {
        this.thickness = thickness;
        classifier = new OnnxClassifierSession(classifierPath);
        captions = TextToImageEvaluator.HeldOutCaptions(count);
        captionTexts = [.. captions.Select(c => c.Caption)];
        seeds = TextToImageEvaluator.Seeds(count);
        path = Path.Combine(runDirectory, FileName);
    }

    /// <summary>Scores the networks (left in eval mode) on the final images (32×32 at stage 1, 64×64 at stage 2) and appends the row.</summary>
    public async Task<(double Digit, double Colour, double Background)> RecordAsync(int epoch, StageOneGenerator stageOne, StageTwoGenerator? stageTwo, CancellationToken cancellationToken)
    {
        var (small, large) = StackGanSamples.Generate(stageOne, stageTwo, captionTexts, seeds);
        var final = large is null
            ? TextToImageEvaluator.Read(small, CaptionedDigits.SmallSize, captions, classifier, cancellationToken)
            : TextToImageEvaluator.Read(large, CaptionedDigits.LargeSize, captions, classifier, cancellationToken);
        if (!File.Exists(path))
        {
            await File.WriteAllTextAsync(path, thickness is null ? "epoch,digit,colour,background\n" : "epoch,digit,colour,background,thickness\n", cancellationToken).ConfigureAwait(false);
        }

        var withThickness = thickness is not null && File.ReadLines(path).First().EndsWith(",thickness", StringComparison.Ordinal);
        var thicknessColumn = withThickness ? string.Create(CultureInfo.InvariantCulture, $",{thickness!.Accuracy(large ?? small, captions):F3}") : string.Empty;
        await File.AppendAllTextAsync(path, string.Create(CultureInfo.InvariantCulture, $"{epoch},{final.Digit:F3},{final.Colour:F3},{final.Background:F3}{thicknessColumn}\n"), cancellationToken).ConfigureAwait(false);
        return final;
    }

    public void Dispose() => classifier.Dispose();
}
