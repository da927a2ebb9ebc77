namespace GanInference.Core.Batching;

/// <summary>
/// One contiguous run of a request's items inside a batch: the executor reads <see cref="Inputs"/>
/// and writes <see cref="OutputsPerItem"/> values per item into <see cref="Outputs"/>.
/// </summary>
/// <typeparam name="TInput">Per-item input description (e.g. a seed and a label).</typeparam>
/// <typeparam name="TOutput">Element type of the per-item output (e.g. float pixels).</typeparam>
public readonly struct BatchSlice<TInput, TOutput>(ReadOnlyMemory<TInput> inputs, Memory<TOutput> outputs, int outputsPerItem)
{
    /// <summary>The slice's items, in request order.</summary>
    public ReadOnlyMemory<TInput> Inputs { get; } = inputs;

    /// <summary>Where the slice's outputs go: <c>Inputs.Length * OutputsPerItem</c> values.</summary>
    public Memory<TOutput> Outputs { get; } = outputs;

    /// <summary>Output values per item.</summary>
    public int OutputsPerItem { get; } = outputsPerItem;
}

/// <summary>
/// Runs one coalesced batch. The batcher calls it from up to <see cref="BatchingSettings.MaxRunsInFlight"/> threads at
/// once (its lanes, or its batch size profile measuring runs in flight), so an executor keeps per-run state per call.
/// </summary>
/// <typeparam name="TInput">Per-item input description.</typeparam>
/// <typeparam name="TOutput">Element type of the per-item output.</typeparam>
public interface IBatchExecutor<TInput, TOutput>
{
    /// <summary>
    /// Computes the outputs of every item of every slice, writing them into each slice's
    /// <see cref="BatchSlice{TInput, TOutput}.Outputs"/>. Throwing fails every request in the batch.
    /// </summary>
    /// <param name="slices">The batch, in the order its items should be laid out.</param>
    /// <param name="itemCount">Total items over all slices.</param>
    /// <param name="cancellationToken">Signalled when the batcher shuts down.</param>
    ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<TInput, TOutput>> slices, int itemCount, CancellationToken cancellationToken);
}
