using GanInference.Core.Manifests;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace GanInference.Core.Runtime;

/// <summary>
/// One run with a batch of one all-zero input per tensor, before a model is announced: it makes ONNX
/// Runtime allocate and tune now, so the first real request does not pay for it, and it proves the
/// graph actually runs with the declared shapes.
/// </summary>
internal static class SessionWarmup
{
    public static void Run(InferenceSession session, IReadOnlyList<TensorManifest> inputs)
    {
        var values = new List<OrtValue>(inputs.Count);
        try
        {
            foreach (var input in inputs)
            {
                // -1 (the batch axis) becomes 1; every other axis is fixed by the manifest checks.
                var shape = input.Shape!.Select(d => d < 0 ? 1L : d).ToArray();
                values.Add(OrtValue.CreateAllocatedTensorValue(OrtAllocator.DefaultInstance, ElementType(input.Dtype!), shape));
                ZeroFill(values[^1], input.Dtype!);
            }

            using var runOptions = new RunOptions();
            using var results = session.Run(runOptions, inputs.Select(i => i.Name!).ToArray(), values, session.OutputNames);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    private static TensorElementType ElementType(string dtype) => dtype switch
    {
        "float32" => TensorElementType.Float,
        "int64" => TensorElementType.Int64,
        "int32" => TensorElementType.Int32,
        "uint8" => TensorElementType.UInt8,
        "bool" => TensorElementType.Bool,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "unsupported dtype"),
    };

    private static void ZeroFill(OrtValue value, string dtype)
    {
        switch (dtype)
        {
            case "float32": value.GetTensorMutableDataAsSpan<float>().Clear(); break;
            case "int64": value.GetTensorMutableDataAsSpan<long>().Clear(); break;
            case "int32": value.GetTensorMutableDataAsSpan<int>().Clear(); break;
            case "uint8": value.GetTensorMutableDataAsSpan<byte>().Clear(); break;
            case "bool": value.GetTensorMutableDataAsSpan<bool>().Clear(); break;
        }
    }
}
