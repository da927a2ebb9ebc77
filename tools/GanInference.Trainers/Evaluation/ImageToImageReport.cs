namespace GanInference.Trainers.Evaluation;

/// <summary>
/// Quality figures of an image-to-image model on held-out test digits (values on [0, 1] pixels,
/// colours as 0–255 levels: RGB for domain-B outputs, one grey level otherwise).
/// </summary>
public sealed record ImageToImageReport
{
    public required string Task { get; init; }

    public required int SampleCount { get; init; }

    /// <summary>Share of outputs the classifier recognises as the source digit (output read as a grey digit, area-downsized to 28×28).</summary>
    public required double RecognitionRate { get; init; }

    /// <summary>The same classifier on the true targets, read the same way: the ceiling of <see cref="RecognitionRate"/>.</summary>
    public required double ReferenceRecognitionRate { get; init; }

    /// <summary>Mean |output − target| per pixel and channel, target = the same digit rendered in the output domain.</summary>
    public required double MeanL1ToTarget { get; init; }

    /// <summary>Mean colour of the output where the source digit is background (intensity &lt; 0.1).</summary>
    public required double[] BackgroundColor { get; init; }

    /// <summary>Mean colour of the output where the source digit is stroke (intensity &gt; 0.7).</summary>
    public required double[] StrokeColor { get; init; }

    /// <summary>The same two means measured on the targets, for comparison.</summary>
    public required double[] TargetBackgroundColor { get; init; }

    public required double[] TargetStrokeColor { get; init; }

    /// <summary>CycleGAN: mean |reverse(model(x)) − x| on [0, 1] pixels; null without the reverse model.</summary>
    public double? CycleL1 { get; init; }

    public IReadOnlyDictionary<string, double> ToMetrics()
    {
        var metrics = new Dictionary<string, double>
        {
            ["recognitionRate"] = Math.Round(RecognitionRate, 4),
            ["referenceRecognitionRate"] = Math.Round(ReferenceRecognitionRate, 4),
            ["meanL1ToTarget"] = Math.Round(MeanL1ToTarget, 4),
        };
        if (CycleL1 is { } cycle)
        {
            metrics["cycleL1"] = Math.Round(cycle, 4);
        }

        return metrics;
    }
}
