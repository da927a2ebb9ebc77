using System.Buffers.Binary;
using System.Runtime.InteropServices;
using GanInference.Api.Inference;
using GanInference.Core.Errors;
using Google.Protobuf;

namespace GanInference.Server.OpenInference;

/// <summary>The Open Inference Protocol's tensor data types that GanInference's tensors use.</summary>
internal static class OipDatatype
{
    public const string UInt8 = "UINT8";
    public const string Int32 = "INT32";
    public const string UInt64 = "UINT64";
    public const string Fp32 = "FP32";
    public const string Bytes = "BYTES";

    /// <summary>Bytes per element in raw form; 0 for BYTES (length-prefixed) and unknown types.</summary>
    public static int ElementSize(string datatype) => datatype switch
    {
        "BOOL" or "UINT8" or "INT8" => 1,
        "UINT16" or "INT16" or "FP16" or "BF16" => 2,
        "UINT32" or "INT32" or "FP32" => 4,
        "UINT64" or "INT64" or "FP64" => 8,
        _ => 0,
    };

    /// <summary>Triton's model-configuration enum of a data type.</summary>
    public static DataType ToConfig(string datatype) => datatype switch
    {
        UInt8 => DataType.TypeUint8,
        Int32 => DataType.TypeInt32,
        UInt64 => DataType.TypeUint64,
        Fp32 => DataType.TypeFp32,
        Bytes => DataType.TypeString,
        _ => DataType.TypeInvalid,
    };
}

/// <summary>
/// One input tensor of a <c>ModelInferRequest</c>, checked for consistency (shape, element count, data in exactly one
/// of <c>contents</c> and <c>raw_input_contents</c>); its values are read by the typed accessors, each of which
/// refuses a datatype it does not read. Every refusal is INVALID_ARGUMENT naming the tensor.
/// </summary>
internal sealed class OipInput
{
    private readonly ModelInferRequest.Types.InferInputTensor _tensor;
    private readonly ByteString? _raw;

    private OipInput(ModelInferRequest.Types.InferInputTensor tensor, ByteString? raw, string field, long elements)
    {
        _tensor = tensor;
        _raw = raw;
        Field = field;
        Elements = elements;
    }

    /// <summary>The tensor's name.</summary>
    public string Name => _tensor.Name;

    /// <summary>The tensor's data type, as sent.</summary>
    public string Datatype => _tensor.Datatype;

    /// <summary>The tensor's shape, as sent.</summary>
    public IReadOnlyList<long> Shape => _tensor.Shape;

    /// <summary>How error messages name it: <c>input 'seed'</c>.</summary>
    public string Field { get; }

    /// <summary>Elements: the product of the shape.</summary>
    public long Elements { get; }

    /// <summary>The request's inputs, each checked on its own; raw and typed contents may not be mixed.</summary>
    public static IReadOnlyList<OipInput> ReadAll(ModelInferRequest request)
    {
        var raw = request.RawInputContents;
        if (raw.Count > 0 && raw.Count != request.Inputs.Count)
        {
            throw new InvalidFieldException("raw_input_contents", $"has {raw.Count} entries for {request.Inputs.Count} inputs; give one per input, in the order of 'inputs'");
        }

        var inputs = new List<OipInput>(request.Inputs.Count);
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < request.Inputs.Count; i++)
        {
            var tensor = request.Inputs[i];
            var field = $"input '{Shorten(tensor.Name)}'";
            if (!names.Add(tensor.Name))
            {
                throw new InvalidFieldException(field, "is given twice");
            }

            if (raw.Count > 0 && tensor.Contents is not null && HasValues(tensor.Contents))
            {
                throw new InvalidFieldException(field, "has both 'contents' and raw_input_contents; give the data in exactly one of them");
            }

            var elements = CountElements(tensor.Shape, field);
            var input = new OipInput(tensor, raw.Count > 0 ? raw[i] : null, field, elements);
            input.CheckData();
            inputs.Add(input);
        }

        return inputs;
    }

    /// <summary>A caller's name as echoed in a message, cut at 64 characters.</summary>
    public static string Shorten(string name) => name.Length <= 64 ? name : $"{name[..64]}... ({name.Length} characters)";

    /// <summary>Refuses any datatype but <paramref name="expected"/>.</summary>
    public void RequireDatatype(params string[] expected)
    {
        if (!expected.Contains(Datatype, StringComparer.Ordinal))
        {
            throw new InvalidFieldException(Field, $"datatype '{Shorten(Datatype)}' is not {string.Join(" or ", expected)}");
        }
    }

    /// <summary>Refuses a shape that does not match <paramref name="expected"/> (-1: any size).</summary>
    public void RequireShape(params long[][] expected)
    {
        foreach (var shape in expected)
        {
            if (shape.Length == Shape.Count && shape.Select((d, i) => d < 0 || d == Shape[i]).All(ok => ok))
            {
                return;
            }
        }

        throw new InvalidFieldException(Field, $"shape [{string.Join(",", Shape)}] is not {string.Join(" or ", expected.Select(s => $"[{string.Join(",", s)}]"))}");
    }

    /// <summary>The values of a UINT64 tensor.</summary>
    public ulong[] ReadUInt64()
    {
        RequireDatatype(OipDatatype.UInt64);
        return _raw is { } raw ? MemoryMarshal.Cast<byte, ulong>(raw.Span).ToArray() : [.. _tensor.Contents.Uint64Contents];
    }

    /// <summary>The values of an INT32 tensor.</summary>
    public int[] ReadInt32()
    {
        RequireDatatype(OipDatatype.Int32);
        return _raw is { } raw ? MemoryMarshal.Cast<byte, int>(raw.Span).ToArray() : [.. _tensor.Contents.IntContents];
    }

    /// <summary>The values of an FP32 tensor.</summary>
    public float[] ReadFp32()
    {
        RequireDatatype(OipDatatype.Fp32);
        return _raw is { } raw ? MemoryMarshal.Cast<byte, float>(raw.Span).ToArray() : [.. _tensor.Contents.Fp32Contents];
    }

    /// <summary>The bytes of a UINT8 tensor (raw bytes are not copied).</summary>
    public ReadOnlyMemory<byte> ReadUInt8()
    {
        RequireDatatype(OipDatatype.UInt8);
        if (_raw is { } raw)
        {
            return raw.Memory;
        }

        var values = _tensor.Contents.UintContents;
        var bytes = new byte[values.Count];
        for (var i = 0; i < values.Count; i++)
        {
            if (values[i] > byte.MaxValue)
            {
                throw new InvalidFieldException(Field, $"element {i}: {values[i]} is outside 0..255 (UINT8)");
            }

            bytes[i] = (byte)values[i];
        }

        return bytes;
    }

    /// <summary>The elements of a BYTES tensor (not copied).</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> ReadBytes()
    {
        RequireDatatype(OipDatatype.Bytes);
        return _raw is { } raw ? SplitBytes(raw.Memory, Elements, Field) : _tensor.Contents.BytesContents.Select(b => b.Memory).ToArray();
    }

    /// <summary>
    /// Splits raw BYTES data: each element is a 4-byte little-endian length and that many bytes. The data must hold
    /// exactly <paramref name="elements"/> elements and nothing after them.
    /// </summary>
    public static IReadOnlyList<ReadOnlyMemory<byte>> SplitBytes(ReadOnlyMemory<byte> data, long elements, string field)
    {
        var result = new List<ReadOnlyMemory<byte>>((int)Math.Min(elements, 1024));
        var offset = 0;
        for (long i = 0; i < elements; i++)
        {
            if (data.Length - offset < 4)
            {
                throw new InvalidFieldException(field, $"raw BYTES data ends at byte {data.Length} inside the length prefix of element {i} of {elements}");
            }

            var length = BinaryPrimitives.ReadUInt32LittleEndian(data.Span[offset..]);
            offset += 4;
            if (length > (uint)(data.Length - offset))
            {
                throw new InvalidFieldException(field, $"raw BYTES element {i}: its length prefix {length} runs past the end of the data ({data.Length - offset} bytes left)");
            }

            result.Add(data.Slice(offset, (int)length));
            offset += (int)length;
        }

        if (offset != data.Length)
        {
            throw new InvalidFieldException(field, $"raw BYTES data has {data.Length - offset} bytes after its {elements} elements");
        }

        return result;
    }

    private static long CountElements(IReadOnlyList<long> shape, string field)
    {
        if (shape.Count == 0)
        {
            throw new InvalidFieldException(field, "has no shape; give its dimensions, the batch first");
        }

        long elements = 1;
        foreach (var dim in shape)
        {
            if (dim < 0 || dim > int.MaxValue)
            {
                throw new InvalidFieldException(field, $"shape [{string.Join(",", shape)}]: dimension {dim} is not a size");
            }

            elements *= dim;
            if (elements > int.MaxValue)
            {
                throw new InvalidFieldException(field, $"shape [{string.Join(",", shape)}] has more than {int.MaxValue} elements");
            }
        }

        return elements;
    }

    private static bool HasValues(InferTensorContents contents) =>
        contents.BoolContents.Count + contents.IntContents.Count + contents.Int64Contents.Count + contents.UintContents.Count +
        contents.Uint64Contents.Count + contents.Fp32Contents.Count + contents.Fp64Contents.Count + contents.BytesContents.Count > 0;

    /// <summary>The data present matches the shape: raw length, or the count of the typed field of its datatype.</summary>
    private void CheckData()
    {
        var size = OipDatatype.ElementSize(Datatype);
        if (size == 0 && Datatype != OipDatatype.Bytes)
        {
            throw new InvalidFieldException(Field, $"datatype '{Shorten(Datatype)}' is not a tensor data type of the Open Inference Protocol (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64, BYTES)");
        }

        if (_raw is { } raw)
        {
            if (Datatype == OipDatatype.Bytes)
            {
                _ = SplitBytes(raw.Memory, Elements, Field);
            }
            else if (size > 0 && raw.Length != Elements * size)
            {
                throw new InvalidFieldException(Field, $"raw data is {raw.Length} bytes; shape [{string.Join(",", Shape)}] of {Datatype} needs {Elements * size}");
            }

            return;
        }

        var contents = _tensor.Contents;
        int? count = Datatype switch
        {
            "UINT8" or "UINT16" or "UINT32" => contents?.UintContents.Count,
            "INT8" or "INT16" or "INT32" => contents?.IntContents.Count,
            "UINT64" => contents?.Uint64Contents.Count,
            "INT64" => contents?.Int64Contents.Count,
            "FP32" => contents?.Fp32Contents.Count,
            "FP64" => contents?.Fp64Contents.Count,
            "BOOL" => contents?.BoolContents.Count,
            "BYTES" => contents?.BytesContents.Count,
            _ => null,
        };
        if ((count ?? 0) != Elements)
        {
            throw new InvalidFieldException(Field, $"has {count ?? 0} values in 'contents'; shape [{string.Join(",", Shape)}] needs {Elements}");
        }
    }
}
