namespace GanInference.Trainers.Evaluation;

/// <summary>The figures of <c>evaluate</c>; also stored in the manifest's provenance.</summary>
public sealed record EvaluationReport
{
    /// <summary>Images generated, from seeds FirstSeed..FirstSeed+SampleCount-1 (labels = seed % 10 for conditional models).</summary>
    public required int SampleCount { get; init; }

    /// <summary>The first seed (0 for the figures reported; another set, e.g. 1000.., for choosing epochs, averaging and truncation).</summary>
    public ulong FirstSeed { get; init; }

    public required float Truncation { get; init; }

    /// <summary>Share of samples the classifier assigns to each class.</summary>
    public required double[] ClassFractions { get; init; }

    /// <summary>Share of samples recognised as the label asked for (class-conditional models only).</summary>
    public double? ClassifierAccuracy { get; init; }

    /// <summary>Fréchet distance, in the classifier's penultimate features, between samples and real test digits.</summary>
    public required double FrechetDistance { get; init; }

    /// <summary>The same distance between as many real training digits and the test digits: the floor to compare with.</summary>
    public required double RealVsRealFrechetDistance { get; init; }

    /// <summary>The classifier's accuracy on the real test digits (how far to trust the figures above).</summary>
    public required double ClassifierTestAccuracy { get; init; }

    /// <summary>Mean pixel distance from a sample to its nearest training digit.</summary>
    public required double SampleNearestTrainDistance { get; init; }

    /// <summary>Mean pixel distance from a real test digit to its nearest training digit.</summary>
    public required double TestNearestTrainDistance { get; init; }

    /// <summary>
    /// Share of samples closer to a training digit than 99 % of test digits are (≈ 0.01 when the
    /// generator does not copy; much more means memorisation).
    /// </summary>
    public required double NearCopyFraction { get; init; }

    /// <summary>
    /// Share of samples the independent reader assigns to each class: a vote of the
    /// <see cref="NearestNeighbours.ReaderNeighbours"/> nearest real training digits in pixel space.
    /// </summary>
    public required double[] NeighbourClassFractions { get; init; }

    /// <summary>Share of samples the independent reader reads as the label asked for (class-conditional models only).</summary>
    public double? NeighbourAccuracy { get; init; }

    /// <summary>The independent reader's accuracy on the real test digits (its ceiling).</summary>
    public required double NeighbourTestAccuracy { get; init; }

    /// <summary>Fréchet distance in ImageNet ResNet-18 features between samples and real test digits (evaluate --resnet).</summary>
    public double? ResNetFrechetDistance { get; init; }

    /// <summary>The same between as many real training digits and the test digits.</summary>
    public double? ResNetRealVsRealFrechetDistance { get; init; }

    /// <summary>Flat name → number pairs for the manifest's <c>provenance.metrics</c>.</summary>
    public IReadOnlyDictionary<string, double> ToMetrics()
    {
        var metrics = new Dictionary<string, double>
        {
            ["frechetDistance"] = Math.Round(FrechetDistance, 3),
            ["realVsRealFrechetDistance"] = Math.Round(RealVsRealFrechetDistance, 3),
            ["minClassFraction"] = Math.Round(ClassFractions.Min(), 4),
            ["maxClassFraction"] = Math.Round(ClassFractions.Max(), 4),
            ["sampleNearestTrainDistance"] = Math.Round(SampleNearestTrainDistance, 3),
            ["testNearestTrainDistance"] = Math.Round(TestNearestTrainDistance, 3),
            ["nearCopyFraction"] = Math.Round(NearCopyFraction, 4),
            ["evaluationClassifierTestAccuracy"] = Math.Round(ClassifierTestAccuracy, 4),
            ["evaluationSamples"] = SampleCount,
        };
        if (FirstSeed != 0)
        {
            metrics["evaluationFirstSeed"] = FirstSeed;
        }

        if (ClassifierAccuracy is { } accuracy)
        {
            metrics["classifierAccuracy"] = Math.Round(accuracy, 4);
        }

        metrics["neighbourMinClassFraction"] = Math.Round(NeighbourClassFractions.Min(), 4);
        metrics["neighbourMaxClassFraction"] = Math.Round(NeighbourClassFractions.Max(), 4);
        metrics["neighbourTestAccuracy"] = Math.Round(NeighbourTestAccuracy, 4);
        if (NeighbourAccuracy is { } neighbourAccuracy)
        {
            metrics["neighbourAccuracy"] = Math.Round(neighbourAccuracy, 4);
        }

        if (ResNetFrechetDistance is { } resNet && ResNetRealVsRealFrechetDistance is { } resNetFloor)
        {
            metrics["resNetFrechetDistance"] = Math.Round(resNet, 3);
            metrics["resNetRealVsRealFrechetDistance"] = Math.Round(resNetFloor, 3);
        }

        return metrics;
    }
}
