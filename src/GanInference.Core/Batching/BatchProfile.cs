namespace GanInference.Core.Batching;

/// <summary>Throughput of one batch size, measured through the model's own runner.</summary>
/// <param name="BatchSize">Items per run.</param>
/// <param name="ImagesPerSecond">Items computed per second of wall time at that size.</param>
/// <param name="Runs">Timed runs the figure comes from.</param>
public readonly record struct BatchSizeThroughput(int BatchSize, double ImagesPerSecond, int Runs);

/// <summary>Throughput of batch 1 with several batches running at once on the one session.</summary>
/// <param name="Runs">Batches in flight at once.</param>
/// <param name="ImagesPerSecond">Items computed per second of wall time, summed over the runs.</param>
/// <param name="Batches">Timed batches the figure comes from, over all runs.</param>
public readonly record struct RunsThroughput(int Runs, double ImagesPerSecond, int Batches);

/// <summary>
/// A model's batch size profile: images/s for each measured batch size (1, 2, 4, ... up to the largest allowed), and
/// the batch size the <see cref="BatchingPolicy.Measured"/> policy chose from it.
/// </summary>
public sealed record BatchProfile
{
    /// <summary>The measured sizes, smallest first.</summary>
    public required IReadOnlyList<BatchSizeThroughput> Sizes { get; init; }

    /// <summary>
    /// The largest measured size whose throughput is within <see cref="Tolerance"/> of the best: of <see cref="Sizes"/>,
    /// or of <see cref="SizesAtChosenRuns"/> when more than one run in flight was chosen.
    /// </summary>
    public required int ChosenBatchSize { get; init; }

    /// <summary>The fraction below the best throughput a larger batch size may lie and still be chosen.</summary>
    public required double Tolerance { get; init; }

    /// <summary>
    /// Batch 1 with 1, 2, ... batches in flight at once (up to <c>batching.maxRunsInFlight</c>); empty when only one may
    /// run. Measured at batch 1 because that is what batches are when load is light, which is when a second run
    /// matters: under heavy load batches grow towards the chosen size and fill the cores by themselves.
    /// </summary>
    public IReadOnlyList<RunsThroughput> RunsInFlight { get; init; } = [];

    /// <summary>The fewest runs in flight whose throughput is within <see cref="Tolerance"/> of the best; 1 when not measured.</summary>
    public int ChosenRunsInFlight { get; init; } = 1;

    /// <summary>
    /// Every size again with <see cref="ChosenRunsInFlight"/> batches at once, when that is more than one (else empty):
    /// then <see cref="ChosenBatchSize"/> comes from these, since a size that pays alone need not pay beside another
    /// run (two large batches at once split the same cores).
    /// </summary>
    public IReadOnlyList<BatchSizeThroughput> SizesAtChosenRuns { get; init; } = [];

    /// <summary>When the measurement finished.</summary>
    public required DateTimeOffset MeasuredAt { get; init; }

    /// <summary>
    /// How many times batch 1's throughput the chosen size reaches (1 when batch 1 is chosen or was not measured).
    /// </summary>
    public double Speedup
    {
        get
        {
            var one = Sizes.FirstOrDefault(s => s.BatchSize == 1);
            var chosen = Sizes.FirstOrDefault(s => s.BatchSize == ChosenBatchSize);
            return one.ImagesPerSecond > 0 && chosen.BatchSize == ChosenBatchSize && chosen.ImagesPerSecond > 0 ? chosen.ImagesPerSecond / one.ImagesPerSecond : 1;
        }
    }

    /// <summary>
    /// The <see cref="Speedup"/> the chosen size must reach before the batcher holds a request back for
    /// <c>maxQueueDelay</c> to wait for others (<c>Models:Profiling:WaitSpeedup</c>, default 1.5).
    /// </summary>
    public double WaitSpeedup { get; init; } = BatchProfilingSettings.DefaultWaitSpeedup;

    /// <summary>
    /// Whether waiting for company pays: only when a full batch is much faster per image than batch 1 (a GPU). Where it
    /// is not (a CPU that one image already keeps busy), a request that waits <c>maxQueueDelay</c> on an idle model loses
    /// that time for a few per cent at best, so the batcher runs what is queued at once: batches still form from what
    /// arrives while the previous one runs.
    /// </summary>
    public bool WaitsForCompany => ChosenBatchSize > 1 && Speedup >= WaitSpeedup;

    /// <summary>The best throughput of the profile.</summary>
    public double BestImagesPerSecond => Sizes.Count == 0 ? 0 : Sizes.Max(s => s.ImagesPerSecond);

    /// <summary>
    /// The batch size that pays: the largest size whose throughput is at least <c>(1 - tolerance)</c> times the best.
    /// Larger batches cost latency (they wait to fill and run longer), so a size is only worth it when it is about as
    /// fast as the best; among sizes that are, the largest leaves the most room for bursts.
    /// </summary>
    public static int Choose(IReadOnlyList<BatchSizeThroughput> sizes, double tolerance)
    {
        ArgumentOutOfRangeException.ThrowIfZero(sizes.Count);
        var best = sizes.Max(s => s.ImagesPerSecond);
        var chosen = 0;
        foreach (var size in sizes)
        {
            if (size.ImagesPerSecond >= best * (1 - tolerance) && size.BatchSize > chosen)
            {
                chosen = size.BatchSize;
            }
        }

        return chosen;
    }

    /// <summary>
    /// How many batches in flight pay: the fewest whose throughput is at least <c>(1 - tolerance)</c> times the best.
    /// Each run in flight beyond what pays only splits the same cores, and the batches it takes would have been one
    /// larger batch (where a GPU fills large batches, one run in flight is enough).
    /// </summary>
    public static int ChooseRuns(IReadOnlyList<RunsThroughput> runs, double tolerance)
    {
        if (runs.Count == 0)
        {
            return 1;
        }

        var best = runs.Max(r => r.ImagesPerSecond);
        return runs.Where(r => r.ImagesPerSecond >= best * (1 - tolerance)).Min(r => r.Runs);
    }

    /// <summary>The batch sizes a profile measures for <paramref name="maxBatchSize"/>: the powers of two below it, and it.</summary>
    public static IReadOnlyList<int> SizesFor(int maxBatchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        var sizes = new List<int>();
        for (var size = 1; size < maxBatchSize; size *= 2)
        {
            sizes.Add(size);
        }

        sizes.Add(maxBatchSize);
        return sizes;
    }
}
