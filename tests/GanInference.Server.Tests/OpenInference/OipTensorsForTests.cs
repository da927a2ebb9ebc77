using System.Buffers.Binary;
using System.Runtime.InteropServices;
using GanInference.Api.Inference;
using Google.Protobuf;

namespace GanInference.Server.Tests.OpenInference;

/// <summary>Builds OIP tensors the way an outside client does: typed contents or raw little-endian bytes.</summary>
internal static class OipTensorsForTests
{
    public static ModelInferRequest.Types.InferInputTensor Input(string name, string datatype, params long[] shape) =>
        new() { Name = name, Datatype = datatype, Shape = { shape } };

    public static ByteString Raw<T>(params T[] values)
        where T : struct => ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));

    /// <summary>BYTES in raw form: a 4-byte little-endian length before each element.</summary>
    public static ByteString RawBytes(params byte[][] elements)
    {
        using var stream = new MemoryStream();
        Span<byte> length = stackalloc byte[4];
        foreach (var element in elements)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(length, (uint)element.Length);
            stream.Write(length);
            stream.Write(element);
        }

        return ByteString.CopyFrom(stream.ToArray());
    }

    /// <summary>The raw bytes of output <paramref name="name"/>.</summary>
    public static ByteString Output(ModelInferResponse response, string name)
    {
        var index = response.Outputs.Select(o => o.Name).ToList().IndexOf(name);
        Assert.True(index >= 0, $"no output '{name}' in [{string.Join(", ", response.Outputs.Select(o => o.Name))}]");
        return response.RawOutputContents[index];
    }

    /// <summary>The elements of a raw BYTES output.</summary>
    public static List<byte[]> SplitBytes(ByteString data)
    {
        var elements = new List<byte[]>();
        var span = data.Span;
        while (span.Length > 0)
        {
            var length = (int)BinaryPrimitives.ReadUInt32LittleEndian(span);
            elements.Add(span.Slice(4, length).ToArray());
            span = span[(4 + length)..];
        }

        return elements;
    }
}
