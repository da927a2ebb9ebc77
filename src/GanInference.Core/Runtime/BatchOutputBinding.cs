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
        var pooled = slices.Length == 1 ? null : ArrayPool<float>.Shared.Rent(length);
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
                ArrayPool<float>.Shared.Return(pooled);
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
            ArrayPool<float>.Shared.Return(_pooled);
        }
    }
}
