namespace GanInference.Core.Batching;

/// <summary>How a batch size profile is measured (the <c>Models:Profiling</c> configuration).</summary>
public sealed record BatchProfilingSettings
{
    /// <summary>Wall time spent on each batch size (after one untimed run of that size); at least one timed run is made.</summary>
    public required TimeSpan TimePerSize { get; init; }

    /// <summary>See <see cref="BatchProfile.Tolerance"/>.</summary>
    public required double Tolerance { get; init; }

    /// <summary>Default of <see cref="WaitSpeedup"/>.</summary>
    public const double DefaultWaitSpeedup = 1.5;

    /// <summary>See <see cref="BatchProfile.WaitSpeedup"/>.</summary>
    public double WaitSpeedup { get; init; } = DefaultWaitSpeedup;
}

/// <summary>What a batcher needs to measure its batch size profile.</summary>
/// <param name="Sample">The item every profiled batch is made of (a dummy seed, a mid-grey image).</param>
/// <param name="Settings">Time per size and tolerance.</param>
/// <typeparam name="TInput">Per-item input description.</typeparam>
public sealed record BatchProfiling<TInput>(TInput Sample, BatchProfilingSettings Settings);
