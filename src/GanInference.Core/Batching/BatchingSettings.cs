namespace GanInference.Core.Batching;

/// <summary>
/// Dynamic batching parameters of one model, as Triton's <c>dynamic_batching</c>: the manifest's
/// <c>batching</c> block with configuration overrides applied.
/// </summary>
public sealed record BatchingSettings
{
    /// <summary>Most items in one ONNX Runtime run; larger requests are split.</summary>
    public required int MaxBatchSize { get; init; }

    /// <summary>How long the oldest queued item may wait for others to join its batch.</summary>
    public required TimeSpan MaxQueueDelay { get; init; }

    /// <summary>Most requests waiting in the queue; one more is refused at once.</summary>
    public required int MaxQueueSize { get; init; }

    /// <summary>Batch sizes that are dispatched without waiting for the delay once reached and nothing else is queued.</summary>
    public IReadOnlyList<int> PreferredBatchSizes { get; init; } = [];

    /// <summary>
    /// How batch sizes are chosen: <see cref="BatchingPolicy.Measured"/> (default) caps batches at the size the model's
    /// batch size profile says pays, <see cref="BatchingPolicy.Fixed"/> lets them grow to <see cref="MaxBatchSize"/>.
    /// </summary>
    public BatchingPolicy Policy { get; init; } = BatchingPolicy.Measured;

    /// <summary>Upper bound of <see cref="MaxRunsInFlight"/>.</summary>
    public const int MaxRunsInFlightLimit = Manifests.ManifestReader.MaxRunsInFlightLimit;

    /// <summary>
    /// Most batches running at once on the model's one session (each on its own thread; ONNX Runtime's <c>Run</c> may be
    /// called concurrently). While one batch runs, the next forms from what is queued and starts at once instead of
    /// waiting for it. Under <see cref="BatchingPolicy.Measured"/> the batch size profile picks how many of these pay
    /// (<see cref="BatchProfile.ChosenRunsInFlight"/>); under <see cref="BatchingPolicy.Fixed"/> all of them run.
    /// </summary>
    public int MaxRunsInFlight { get; init; } = 1;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first field out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxBatchSize, 1, nameof(MaxBatchSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueueSize, 1, nameof(MaxQueueSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxQueueDelay, TimeSpan.Zero, nameof(MaxQueueDelay));
        if (MaxRunsInFlight is < 1 or > MaxRunsInFlightLimit)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxRunsInFlight), MaxRunsInFlight, $"runs in flight must lie in 1..{MaxRunsInFlightLimit}");
        }
        foreach (var size in PreferredBatchSizes)
        {
            if (size < 1 || size > MaxBatchSize)
            {
                throw new ArgumentOutOfRangeException(nameof(PreferredBatchSizes), size, $"preferred batch sizes must lie in 1..{MaxBatchSize} (maxBatchSize)");
            }
        }
    }
}
