namespace GanInference.Trainers.Training;

/// <summary>One progress report of a training loop.</summary>
/// <param name="StepsBefore">Steps done before the time counted in <paramref name="Elapsed"/> (a resumed run that reports this session's time only).</param>
public sealed record TrainingProgress(
    int Epoch,
    int Epochs,
    long Step,
    long TotalSteps,
    double ImagesPerSecond,
    TimeSpan Elapsed,
    IReadOnlyList<KeyValuePair<string, double>> Metrics,
    long StepsBefore = 0)
{
    /// <summary>Remaining time at the average pace of the steps <see cref="Elapsed"/> covers.</summary>
    public TimeSpan Eta => Step - StepsBefore <= 0 ? TimeSpan.Zero : Elapsed / (Step - StepsBefore) * (TotalSteps - Step);

    public string MetricsText => string.Join("  ", Metrics.Select(m => FormattableString.Invariant($"{m.Key} {m.Value:F2}")));
}
