using System.Buffers;

namespace GanInference.Core.Batching;

/// <summary>
/// Measures a model's throughput per batch size through the executor its batcher runs (the real runner: same input
/// preparation, same output binding), with copies of one sample item. The caller makes sure nothing else uses the
/// executor meanwhile (<see cref="DynamicBatcher{TInput, TOutput}"/> holds its executor gate).
/// </summary>
internal static class BatchProfiler
{
    /// <summary>Profiles every size of <see cref="BatchProfile.SizesFor"/>: one untimed run, then runs for <see cref="BatchProfilingSettings.TimePerSize"/>.</summary>
    public static async Task<BatchProfile> MeasureAsync<TInput, TOutput>(
        IBatchExecutor<TInput, TOutput> executor,
        TInput sample,
        int outputsPerItem,
        int maxBatchSize,
        BatchProfilingSettings settings,
        TimeProvider time,
        CancellationToken cancellationToken)
    {
        var sizes = BatchProfile.SizesFor(maxBatchSize);
        var inputs = new TInput[maxBatchSize];
        Array.Fill(inputs, sample);
        var outputs = ArrayPool<TOutput>.Shared.Rent(maxBatchSize * outputsPerItem);
        var slices = new BatchSlice<TInput, TOutput>[1];
        var measured = new List<BatchSizeThroughput>(sizes.Count);
        try
        {
            foreach (var size in sizes)
            {
                slices[0] = new BatchSlice<TInput, TOutput>(inputs.AsMemory(0, size), outputs.AsMemory(0, size * outputsPerItem), outputsPerItem);

                // The first run of a shape pays for ONNX Runtime's per-shape set-up; it is not timed.
                await executor.ExecuteAsync(slices, size, cancellationToken).ConfigureAwait(false);
                var runs = 0;
                var started = time.GetTimestamp();
                TimeSpan elapsed;
                do
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await executor.ExecuteAsync(slices, size, cancellationToken).ConfigureAwait(false);
                    runs++;
                    elapsed = time.GetElapsedTime(started);
                }
                while (elapsed < settings.TimePerSize);

                measured.Add(new BatchSizeThroughput(size, runs * (double)size / Math.Max(elapsed.TotalSeconds, 1e-9), runs));
            }
        }
        finally
        {
            ArrayPool<TOutput>.Shared.Return(outputs);
        }

        return new BatchProfile
        {
            Sizes = measured,
            ChosenBatchSize = BatchProfile.Choose(measured, settings.Tolerance),
            Tolerance = settings.Tolerance,
            MeasuredAt = time.GetUtcNow(),
        };
    }
}
