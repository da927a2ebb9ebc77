using System.Buffers;
using GanInference.Core.Batching;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>
/// Where ONNX Runtime writes a batch's float output, the same for every runner: straight into the request's own
/// buffer when the batch is one slice, else into a pooled batch buffer that <see cref="Scatter{TInput}"/> copies back
/// into each slice after the run. Dispose it in <c>finally</c>: it releases the tensor and the pooled buffer.
/// </summary>
internal readonly struct BatchOutputBinding : IDisposable
{
    /// <summary>Batch buffers kept per size: two per run in flight of each of a few models.</summary>
    private const int ArraysPerSize = 16;

    // Its own pool, as the chunk buffers (Generation/ChunkBuffers): a batch buffer of 256² images is megabytes, rented by
    // one run's thread and returned by another's, where ArrayPool<T>.Shared (per-thread slots, trimmed at full
    // collections) kept missing and allocated a fresh one for most batches that several requests share.
    private static readonly ArrayPool<float> Pool = ArrayPool<float>.Create(1 << 30, ArraysPerSize);

    private readonly float[]? _pooled;
    private readonly int _length;

    private BatchOutputBinding(OrtValue value, float[]? pooled, int length)
    {
        Value = value;
        _pooled = pooled;
        _length = length;
    }

    /// <summary>The output tensor to pass to <c>InferenceSession.Run</c>.</summary>
    public OrtValue Value { get; }

    /// <summary>Binds the output of <paramref name="itemCount"/> items; <paramref name="shape"/>[0] is set to the count.</summary>
    public static BatchOutputBinding Create<TInput>(ReadOnlySpan<BatchSlice<TInput, float>> slices, int itemCount, int outputsPerItem, long[] shape)
    {
        var length = itemCount * outputsPerItem;
        var pooled = slices.Length == 1 ? null : Pool.Rent(length);
        shape[0] = itemCount;
        var memory = pooled is null ? slices[0].Outputs[..length] : pooled.AsMemory(0, length);
        try
        {
            return new BatchOutputBinding(OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, memory, shape), pooled, length);
        }
        catch
        {
            if (pooled is not null)
            {
                Pool.Return(pooled);
            }

            throw;
        }
    }

    /// <summary>After the run: copies a shared batch's output back into each slice (nothing to do for one slice).</summary>
    public void Scatter<TInput>(ReadOnlySpan<BatchSlice<TInput, float>> slices, int outputsPerItem)
    {
        if (_pooled is not null)
        {
            BatchOutputs.Scatter(_pooled.AsSpan(0, _length), slices, outputsPerItem);
        }
    }

    public void Dispose()
    {
        Value?.Dispose();
        if (_pooled is not null)
        {
            Pool.Return(_pooled);
        }
    }
}
