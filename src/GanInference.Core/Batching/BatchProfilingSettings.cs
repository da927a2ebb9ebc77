namespace GanInference.Core.Batching;

/// <summary>How a batch size profile is measured (the <c>Models:Profiling</c> configuration).</summary>
public sealed record BatchProfilingSettings
{
    /// <summary>Wall time spent on each batch size (after one untimed run of that size); at least one timed run is made.</summary>
    public required TimeSpan TimePerSize { get; init; }

    /// <summary>See <see cref="BatchProfile.Tolerance"/>.</summary>
    public required double Tolerance { get; init; }
}
