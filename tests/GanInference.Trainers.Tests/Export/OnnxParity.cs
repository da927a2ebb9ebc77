using GanInference.Onnx.Proto;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Export;

/// <summary>Runs an exported model in ONNX Runtime and compares it with TorchSharp.</summary>
internal static class OnnxParity
{
    public const float Tolerance = 1e-4f;

    /// <summary>Runs <paramref name="model"/> with the given inputs; returns every output by name.</summary>
    public static Dictionary<string, float[]> Run(ModelProto model, params (string Name, Tensor Value)[] inputs)
    {
        using var session = new InferenceSession(model.ToByteArray());
        var feeds = new List<NamedOnnxValue>();
        foreach (var (name, value) in inputs)
        {
            var dims = value.shape.Select(d => (int)d).ToArray();
            feeds.Add(value.dtype == ScalarType.Int64
                ? NamedOnnxValue.CreateFromTensor(name, new DenseTensor<long>(value.data<long>().ToArray(), dims))
                : NamedOnnxValue.CreateFromTensor(name, new DenseTensor<float>(value.data<float>().ToArray(), dims)));
        }

        using var results = session.Run(feeds);
        return results.ToDictionary(r => r.Name, r => r.AsEnumerable<float>().ToArray());
    }

    public static float MaxAbsDifference(Tensor expected, float[] actual)
    {
        var reference = expected.contiguous().data<float>().ToArray();
        Assert.Equal(reference.Length, actual.Length);
        var max = 0f;
        for (var i = 0; i < reference.Length; i++)
        {
            max = Math.Max(max, Math.Abs(reference[i] - actual[i]));
        }

        return max;
    }

    /// <summary>
    /// Gives every BatchNorm non-trivial running statistics and affine parameters, and every affine
    /// InstanceNorm non-trivial scale and shift, so a parity test would catch a swapped mean/variance,
    /// a swapped scale/shift or a missing epsilon (the defaults, γ = 1 and β = 0, hide all three).
    /// </summary>
    public static void RandomizeNormalization(nn.Module root)
    {
        using var _ = no_grad();
        foreach (var (_, module) in root.named_modules())
        {
            if (module is BatchNorm2d norm)
            {
                norm.running_mean!.copy_(randn(norm.num_features) * 0.5);
                norm.running_var!.copy_(rand(norm.num_features) + 0.5);
                norm.weight!.copy_(randn(norm.num_features) * 0.3 + 1);
                norm.bias!.copy_(randn(norm.num_features) * 0.3);
            }
            else if (module is InstanceNorm2d { weight: not null, bias: not null } instance)
            {
                instance.weight.copy_(randn(instance.num_features) * 0.3 + 1);
                instance.bias.copy_(randn(instance.num_features) * 0.3);
            }
        }
    }
}
