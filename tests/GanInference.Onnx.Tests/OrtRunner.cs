using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace GanInference.Onnx.Tests;

/// <summary>Runs a model written by the builder through a real ONNX Runtime session.</summary>
internal static class OrtRunner
{
    public static float[] RunFloat(byte[] model, string inputName, float[] input, long[] shape, string outputName)
    {
        using var session = new InferenceSession(model);
        using var value = OrtValue.CreateTensorValueFromMemory(input, shape);
        using var results = session.Run(new RunOptions(), [inputName], [value], [outputName]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    public static (float[] Values, long[] Shape) Run(byte[] model, IReadOnlyDictionary<string, OrtValue> inputs, string outputName)
    {
        using var session = new InferenceSession(model);
        using var options = new RunOptions();
        using var results = session.Run(options, inputs.Keys.ToArray(), inputs.Values.ToArray(), [outputName]);
        return (results[0].GetTensorDataAsSpan<float>().ToArray(), results[0].GetTensorTypeAndShape().Shape);
    }
}
