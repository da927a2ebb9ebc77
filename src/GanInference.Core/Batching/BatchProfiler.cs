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
    /// many batches in flight at once (<see cref="BatchProfile.RunsInFlight"/>), and when more than one run pays, every
    /// size again with that many at once (<see cref="BatchProfile.SizesAtChosenRuns"/>), which then picks the size.
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

        // Every size alone, each shape's first run untimed (it pays for ONNX Runtime's per-shape set-up).
        var alone = await MeasureCasesAsync(executor, inputs, outputsPerItem, sizes.Select(size => (Size: size, Runs: 1)).ToArray(), warmUp: true, settings, time, cancellationToken).ConfigureAwait(false);
        var measured = sizes.Select((size, i) => new BatchSizeThroughput(size, alone[i].ImagesPerSecond, alone[i].Batches)).ToArray();
        var chosen = BatchProfile.Choose(measured, settings.Tolerance);
        RunsThroughput[] inFlight = [];
        BatchSizeThroughput[] atChosenRuns = [];
        var chosenRuns = 1;
        if (maxRunsInFlight > 1)
        {
            // Batch 1 with 1..max runs at once: how many runs pay (see BatchProfile.RunsInFlight).
            var counts = Enumerable.Range(1, maxRunsInFlight).ToArray();
            var byRuns = await MeasureCasesAsync(executor, inputs, outputsPerItem, counts.Select(r => (Size: 1, Runs: r)).ToArray(), warmUp: false, settings, time, cancellationToken).ConfigureAwait(false);
            inFlight = counts.Select((r, i) => new RunsThroughput(r, byRuns[i].ImagesPerSecond, byRuns[i].Batches)).ToArray();
            chosenRuns = BatchProfile.ChooseRuns(inFlight, settings.Tolerance);
            if (chosenRuns > 1)
            {
                // Every size again with that many runs at once: the sizes that pay alone need not pay beside another run.
                var bySize = await MeasureCasesAsync(executor, inputs, outputsPerItem, sizes.Select(size => (Size: size, Runs: chosenRuns)).ToArray(), warmUp: false, settings, time, cancellationToken).ConfigureAwait(false);
                atChosenRuns = sizes.Select((size, i) => new BatchSizeThroughput(size, bySize[i].ImagesPerSecond, bySize[i].Batches)).ToArray();
                chosen = BatchProfile.Choose(atChosenRuns, settings.Tolerance);
            }
        }

        return new BatchProfile
        {
            Sizes = measured,
            ChosenBatchSize = chosen,
            RunsInFlight = inFlight,
            ChosenRunsInFlight = chosenRuns,
            SizesAtChosenRuns = atChosenRuns,
            Tolerance = settings.Tolerance,
            WaitSpeedup = settings.WaitSpeedup,
            MeasuredAt = time.GetUtcNow(),
        };
    }

    /// <summary>
    /// Each (size, runs) case: that many copies of a batch of that size running at once, each with its own output
    /// buffer (one runs on the caller, more each on a thread of their own), in <see cref="Rounds"/> interleaved rounds of
    /// <see cref="BatchProfilingSettings.TimePerSize"/> over <see cref="Rounds"/> each; the best round is kept, its
    /// images/s summed over the runs. With <paramref name="warmUp"/>, each case's first run is made, untimed, before
    /// its first round.
    /// </summary>
    private static async Task<(double ImagesPerSecond, int Batches)[]> MeasureCasesAsync<TInput, TOutput>(
        IBatchExecutor<TInput, TOutput> executor,
        TInput[] inputs,
        int outputsPerItem,
        (int Size, int Runs)[] cases,
        bool warmUp,
        BatchProfilingSettings settings,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var maxRuns = cases.Max(c => c.Runs);
        var maxSize = cases.Max(c => c.Size);
        var outputs = new TOutput[maxRuns][];
        for (var r = 0; r < maxRuns; r++)
        {
            outputs[r] = ArrayPool<TOutput>.Shared.Rent(maxSize * outputsPerItem);
        }

        var best = new double[cases.Length];
        var batches = new int[cases.Length];
        var budget = settings.TimePerSize / Rounds;
        try
        {
            for (var round = 0; round < Rounds; round++)
            {
                for (var c = 0; c < cases.Length; c++)
                {
                    var (size, runs) = cases[c];
                    var slices = new BatchSlice<TInput, TOutput>[runs][];
                    for (var r = 0; r < runs; r++)
                    {
                        slices[r] = [new BatchSlice<TInput, TOutput>(inputs.AsMemory(0, size), outputs[r].AsMemory(0, size * outputsPerItem), outputsPerItem)];
                    }

                    if (warmUp && round == 0)
                    {
                        await executor.ExecuteAsync(slices[0], size, cancellationToken).ConfigureAwait(false);
                    }

                    var started = time.GetTimestamp();
                    int total;
                    if (runs == 1)
                    {
                        total = await RunForAsync(executor, slices[0], size, started, budget, time, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        var loops = new Task<int>[runs];
                        for (var r = 0; r < runs; r++)
                        {
                            var own = slices[r];
                            loops[r] = Task.Run(() => RunForAsync(executor, own, size, started, budget, time, cancellationToken), cancellationToken);
                        }

                        total = (await Task.WhenAll(loops).ConfigureAwait(false)).Sum();
                    }

                    var elapsed = time.GetElapsedTime(started);
                    batches[c] += total;
                    best[c] = Math.Max(best[c], total * (double)size / Math.Max(elapsed.TotalSeconds, 1e-9));
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

        return best.Select((imagesPerSecond, c) => (imagesPerSecond, batches[c])).ToArray();
    }

    /// <summary>Runs the batch until <paramref name="budget"/> has passed since <paramref name="started"/> (at least once); how many runs.</summary>
    private static async Task<int> RunForAsync<TInput, TOutput>(
        IBatchExecutor<TInput, TOutput> executor,
        BatchSlice<TInput, TOutput>[] slices,
        int size,
        long started,
        TimeSpan budget,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var count = 0;
        do
        {
            cancellationToken.ThrowIfCancellationRequested();
            await executor.ExecuteAsync(slices, size, cancellationToken).ConfigureAwait(false);
            count++;
        }
        while (time.GetElapsedTime(started) < budget);
        return count;
    }
}
