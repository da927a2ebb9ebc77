using System.Buffers;

namespace GanInference.Core.Batching;

/// <summary>
/// Measures a model's throughput per batch size through the executor its batcher runs (the real runner: same input
/// preparation, same output binding), with copies of one sample item. The caller makes sure nothing else uses the
/// executor meanwhile (<see cref="DynamicBatcher{TInput, TOutput}"/> holds its executor gate).
/// </summary>
internal static class BatchProfiler
{
    /// <summary>
    /// Rounds over all sizes: each size gets <see cref="BatchProfilingSettings.TimePerSize"/> split over this many
    /// rounds, and its figure is its best round. Interleaving the sizes spreads a passing disturbance (another process,
    /// a GC) over all of them instead of sinking one, and the best round is the least disturbed.
    /// </summary>
    public const int Rounds = 3;

    /// <summary>
    /// Profiles every size of <see cref="BatchProfile.SizesFor"/>: one untimed run each, then <see cref="Rounds"/> timed
    /// rounds over all sizes; then, when <paramref name="maxRunsInFlight"/> is above 1, batch 1 with 1 up to that
    /// many batches in flight at once (<see cref="BatchProfile.RunsInFlight"/>).
    /// </summary>
    public static async Task<BatchProfile> MeasureAsync<TInput, TOutput>(
        IBatchExecutor<TInput, TOutput> executor,
        TInput sample,
        int outputsPerItem,
        int maxBatchSize,
        int maxRunsInFlight,
        BatchProfilingSettings settings,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var sizes = BatchProfile.SizesFor(maxBatchSize);
        var inputs = new TInput[maxBatchSize];
        Array.Fill(inputs, sample);
        var outputs = ArrayPool<TOutput>.Shared.Rent(maxBatchSize * outputsPerItem);
        var slices = new BatchSlice<TInput, TOutput>[1];
        var best = new double[sizes.Count];
        var runs = new int[sizes.Count];
        var budget = settings.TimePerSize / Rounds;
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                for (var i = 0; i < sizes.Count; i++)
                {
                    var size = sizes[i];
                    slices[0] = new BatchSlice<TInput, TOutput>(inputs.AsMemory(0, size), outputs.AsMemory(0, size * outputsPerItem), outputsPerItem);
                    if (round == 0)
                    {
                        // The first run of a shape pays for ONNX Runtime's per-shape set-up; it is not timed.
                        await executor.ExecuteAsync(slices, size, cancellationToken).ConfigureAwait(false);
                    }

                    var roundRuns = 0;
                    var started = time.GetTimestamp();
                    TimeSpan elapsed;
                    do
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        await executor.ExecuteAsync(slices, size, cancellationToken).ConfigureAwait(false);
                        roundRuns++;
                        elapsed = time.GetElapsedTime(started);
                    }
                    while (elapsed < budget);

                    runs[i] += roundRuns;
                    best[i] = Math.Max(best[i], roundRuns * (double)size / Math.Max(elapsed.TotalSeconds, 1e-9));
                }
            }
        }
        finally
        {
            ArrayPool<TOutput>.Shared.Return(outputs);
        }

        var measured = sizes.Select((size, i) => new BatchSizeThroughput(size, best[i], runs[i])).ToArray();
        var chosen = BatchProfile.Choose(measured, settings.Tolerance);
        var inFlight = maxRunsInFlight > 1
            ? await MeasureRunsInFlightAsync(executor, inputs.AsMemory(0, 1), outputsPerItem, maxRunsInFlight, settings, time, cancellationToken).ConfigureAwait(false)
            : [];
        return new BatchProfile
        {
            Sizes = measured,
            ChosenBatchSize = chosen,
            RunsInFlight = inFlight,
            ChosenRunsInFlight = BatchProfile.ChooseRuns(inFlight, settings.Tolerance),
            Tolerance = settings.Tolerance,
            WaitSpeedup = settings.WaitSpeedup,
            MeasuredAt = time.GetUtcNow(),
        };
    }

    /// <summary>
    /// The batch of <paramref name="inputs"/> (one item: see <see cref="BatchProfile.RunsInFlight"/>) with 1 up to <paramref name="maxRuns"/> copies running at once, each
    /// on its own thread with its own output buffer, in <see cref="Rounds"/> interleaved rounds (best round kept).
    /// </summary>
    private static async Task<RunsThroughput[]> MeasureRunsInFlightAsync<TInput, TOutput>(
        IBatchExecutor<TInput, TOutput> executor,
        ReadOnlyMemory<TInput> inputs,
        int outputsPerItem,
        int maxRuns,
        BatchProfilingSettings settings,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var size = inputs.Length;
        var outputs = new TOutput[maxRuns][];
        for (var r = 0; r < maxRuns; r++)
        {
            outputs[r] = ArrayPool<TOutput>.Shared.Rent(size * outputsPerItem);
        }

        var best = new double[maxRuns];
        var batches = new int[maxRuns];
        var budget = settings.TimePerSize / Rounds;
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                for (var runs = 1; runs <= maxRuns; runs++)
                {
                    var started = time.GetTimestamp();
                    var loops = new Task<int>[runs];
                    for (var r = 0; r < runs; r++)
                    {
                        var output = outputs[r].AsMemory(0, size * outputsPerItem);
                        loops[r] = Task.Run(
                            async () =>
                            {
                                var slices = new[] { new BatchSlice<TInput, TOutput>(inputs, output, outputsPerItem) };
                                var count = 0;
                                do
                                {
                                    cancellationToken.ThrowIfCancellationRequested();
                                    await executor.ExecuteAsync(slices, size, cancellationToken).ConfigureAwait(false);
                                    count++;
                                }
                                while (time.GetElapsedTime(started) < budget);
                                return count;
                            },
                            cancellationToken);
                    }

                    var counts = await Task.WhenAll(loops).ConfigureAwait(false);
                    var elapsed = time.GetElapsedTime(started);
                    var total = counts.Sum();
                    batches[runs - 1] += total;
                    best[runs - 1] = Math.Max(best[runs - 1], total * (double)size / Math.Max(elapsed.TotalSeconds, 1e-9));
                }
            }
        }
        finally
        {
            foreach (var output in outputs)
            {
                ArrayPool<TOutput>.Shared.Return(output);
            }
        }

        return best.Select((imagesPerSecond, i) => new RunsThroughput(i + 1, imagesPerSecond, batches[i])).ToArray();
    }
}
