namespace GanInference.Onnx;

/// <summary>Element types the writer supports; values are ONNX <c>TensorProto.DataType</c> codes.</summary>
public enum OnnxType
{
    /// <summary>32-bit IEEE float.</summary>
    Float = 1,

    /// <summary>Unsigned byte.</summary>
    UInt8 = 2,

    /// <summary>32-bit signed integer.</summary>
    Int32 = 6,

    /// <summary>64-bit signed integer (ONNX's index and shape type).</summary>
    Int64 = 7,

    /// <summary>Boolean, one byte per element.</summary>
    Bool = 9,
}
