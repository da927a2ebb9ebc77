namespace GanInference.Core.Batching;

/// <summary>Helpers every <see cref="IBatchExecutor{TInput, TOutput}"/> over ONNX Runtime shares.</summary>
public static class BatchOutputs
{
    /// <summary>
    /// Copies a batch's contiguous output back into each slice's own buffer, in slice order. Executors
    /// bind ONNX Runtime's output straight to the slice when a batch holds one slice, and need this only
    /// when several requests share the batch.
    /// </summary>
    public static void Scatter<TInput, TOutput>(ReadOnlySpan<TOutput> batchOutput, ReadOnlySpan<BatchSlice<TInput, TOutput>> slices, int outputsPerItem)
    {
        var offset = 0;
        foreach (var slice in slices)
        {
            var length = slice.Inputs.Length * outputsPerItem;
            batchOutput.Slice(offset, length).CopyTo(slice.Outputs.Span);
            offset += length;
        }
    }
}
