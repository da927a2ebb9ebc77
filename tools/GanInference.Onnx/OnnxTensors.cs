using System.Runtime.InteropServices;
using Google.Protobuf;
using GanInference.Onnx.Proto;

namespace GanInference.Onnx;

/// <summary>Makes ONNX <c>TensorProto</c> values (initializers, <c>Constant</c> node values).</summary>
public static class OnnxTensors
{
    /// <summary>A float32 tensor.</summary>
    public static TensorProto Create(string name, ReadOnlySpan<float> values, params long[] dims) =>
        Create(name, OnnxType.Float, MemoryMarshal.AsBytes(values), values.Length, dims);

    /// <summary>An int64 tensor.</summary>
    public static TensorProto Create(string name, ReadOnlySpan<long> values, params long[] dims) =>
        Create(name, OnnxType.Int64, MemoryMarshal.AsBytes(values), values.Length, dims);

    /// <summary>An int32 tensor.</summary>
    public static TensorProto Create(string name, ReadOnlySpan<int> values, params long[] dims) =>
        Create(name, OnnxType.Int32, MemoryMarshal.AsBytes(values), values.Length, dims);

    private static TensorProto Create(string name, OnnxType type, ReadOnlySpan<byte> littleEndianBytes, int count, long[] dims)
    {
        ArgumentNullException.ThrowIfNull(dims);
        // raw_data is little-endian by the ONNX spec; we copy memory as is, so refuse to run elsewhere.
        if (!BitConverter.IsLittleEndian)
        {
            throw new PlatformNotSupportedException("The ONNX writer needs a little-endian machine.");
        }

        long expected = 1;
        foreach (var d in dims)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Tensor '{name}': dimension {d} is negative; initializers have fixed shapes.", nameof(dims));
            }

            expected *= d;
        }

        if (expected != count)
        {
            throw new ArgumentException(
                $"Tensor '{name}': shape [{string.Join(", ", dims)}] holds {expected} values but {count} were given.", nameof(dims));
        }

        var tensor = new TensorProto { Name = name, DataType = (int)type, RawData = ByteString.CopyFrom(littleEndianBytes) };
        tensor.Dims.AddRange(dims);
        return tensor;
    }
}
