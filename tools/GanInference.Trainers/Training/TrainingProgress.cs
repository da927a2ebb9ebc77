namespace GanInference.Trainers.Training;

/// <summary>One progress report of a training loop.</summary>
public sealed record TrainingProgress(
    int Epoch,
    int Epochs,
    long Step,
    long TotalSteps,
    double ImagesPerSecond,
    TimeSpan Elapsed,
    IReadOnlyList<KeyValuePair<string, double>> Metrics)
{
    /// <summary>Remaining time at the average pace so far.</summary>
    public TimeSpan Eta => Step == 0 ? TimeSpan.Zero : Elapsed / Step * (TotalSteps - Step);

    public string MetricsText => string.Join("  ", Metrics.Select(m => FormattableString.Invariant($"{m.Key} {m.Value:F2}")));
}
