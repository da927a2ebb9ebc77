using System.Text;
using Google.Protobuf;
using GanInference.Onnx.Proto;

namespace GanInference.Onnx;

/// <summary>A node attribute (ONNX <c>AttributeProto</c>), made through the typed factories.</summary>
public readonly record struct OnnxAttribute
{
    private OnnxAttribute(AttributeProto proto) => Proto = proto;

    /// <summary>The attribute as written into the model.</summary>
    public AttributeProto Proto { get; }

    /// <summary>The attribute's name.</summary>
    public string Name => Proto.Name;

    /// <summary>An integer attribute.</summary>
    public static OnnxAttribute Int(string name, long value) =>
        new(New(name, AttributeProto.Types.AttributeType.Int, a => a.I = value));

    /// <summary>A float attribute.</summary>
    public static OnnxAttribute Float(string name, float value) =>
        new(New(name, AttributeProto.Types.AttributeType.Float, a => a.F = value));

    /// <summary>A list-of-integers attribute (kernel shapes, pads, strides, perm, ...).</summary>
    public static OnnxAttribute Ints(string name, params long[] values) =>
        new(New(name, AttributeProto.Types.AttributeType.Ints, a => a.Ints.AddRange(values)));

    /// <summary>A list-of-floats attribute.</summary>
    public static OnnxAttribute Floats(string name, params float[] values) =>
        new(New(name, AttributeProto.Types.AttributeType.Floats, a => a.Floats.AddRange(values)));

    /// <summary>A UTF-8 string attribute (modes such as <c>reflect</c>).</summary>
    public static OnnxAttribute String(string name, string value) =>
        new(New(name, AttributeProto.Types.AttributeType.String, a => a.S = ByteString.CopyFrom(value, Encoding.UTF8)));

    /// <summary>A tensor attribute (the value of a <c>Constant</c> node).</summary>
    public static OnnxAttribute Tensor(string name, TensorProto value) =>
        new(New(name, AttributeProto.Types.AttributeType.Tensor, a => a.T = value));

    private static AttributeProto New(string name, AttributeProto.Types.AttributeType type, Action<AttributeProto> setValue)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var proto = new AttributeProto { Name = name, Type = type };
        setValue(proto);
        return proto;
    }
}
