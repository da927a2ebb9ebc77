using System.Reflection;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace GanInference.Trainers.Evaluation;

/// <summary>
/// A standard feature space for Fréchet distances: the ImageNet ResNet-18 that NuGet's
/// <c>Microsoft.ML.DnnImageFeaturizer.ResNet18</c> ships (read from the NuGet cache, never copied into the repository),
/// fed as ML.NET feeds it: the image resized to 224×224 (bilinear), grey replicated to three channels, values 0–255, then
/// the package's own <c>ResNetPreprocess.onnx</c> (RGB → BGR and the subtraction of the network's mean image; this
/// CNTK-trained model takes no division by a standard deviation), then <c>ResNet18.onnx</c>; the features are its
/// 512 global-average-pooled activations.
/// </summary>
public sealed class ResNetFeatures : IDisposable
{
    public const int Size = 224;
    public const int Dimension = 512;
    private const int BatchSize = 16;

    private readonly InferenceSession preprocess;
    private readonly InferenceSession network;
    private readonly string preprocessInput;
    private readonly string preprocessOutput;
    private readonly string networkInput;
    private readonly string networkOutput;
    private readonly bool batched;
    private readonly RunOptions runOptions = new();

    public ResNetFeatures(string? modelDirectory = null)
    {
        var directory = modelDirectory ?? DefaultModelDirectory();
        var preprocessPath = Path.Combine(directory, "ResNetPrepOnnx", "ResNetPreprocess.onnx");
        var networkPath = Path.Combine(directory, "ResNet18Onnx", "ResNet18.onnx");
        foreach (var path in new[] { preprocessPath, networkPath })
        {
            if (!File.Exists(path))
            {
                throw new FileNotFoundException($"{path}: the ResNet-18 of NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 is missing (dotnet restore tools/GanInference.Trainers, or pass --resnet-models DIR with its tools/DnnImageModels folder).", path);
            }
        }

        preprocess = new InferenceSession(preprocessPath);
        network = new InferenceSession(networkPath);
        // Both graphs of this CNTK export list their weights as inputs too; the image inputs are the 4-D ones.
        preprocessInput = ImageInput(preprocess, preprocessPath);
        preprocessOutput = preprocess.OutputMetadata.Keys.Single();
        networkInput = ImageInput(network, networkPath);
        networkOutput = network.OutputMetadata.Keys.Single();
        var features = network.OutputMetadata[networkOutput].Dimensions;
        if (features.Length < 2 || features[1] != Dimension)
        {
            throw new InvalidDataException($"{networkPath}: expected {Dimension} features in output '{networkOutput}', got shape [{string.Join(", ", features)}].");
        }

        // This package's graphs take one image at a time ([1, 3, 224, 224], the batch axis fixed to 1).
        batched = preprocess.InputMetadata[preprocessInput].Dimensions[0] != 1 && network.InputMetadata[networkInput].Dimensions[0] != 1;
    }

    private static string ImageInput(InferenceSession session, string path) =>
        session.InputMetadata.Where(i => i.Value.Dimensions is [_, 3, Size, Size]).Select(i => i.Key).SingleOrDefault()
        ?? throw new InvalidDataException($"{path}: no input of shape [N, 3, {Size}, {Size}] among {string.Join(", ", session.InputMetadata.Keys.Take(5))}.");

    /// <summary>The package's <c>tools/DnnImageModels</c> folder in the NuGet cache, as restore recorded it at build time.</summary>
    public static string DefaultModelDirectory()
    {
        var package = typeof(ResNetFeatures).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "ResNet18Package")?.Value;
        if (string.IsNullOrEmpty(package))
        {
            throw new InvalidOperationException("this build does not know where NuGet put Microsoft.ML.DnnImageFeaturizer.ResNet18; pass --resnet-models DIR.");
        }

        return Path.Combine(package, "tools", "DnnImageModels");
    }

    /// <summary>512 features per image for grey <paramref name="side"/>×<paramref name="side"/> images with values in [-1, 1].</summary>
    public float[] Compute(ReadOnlySpan<float> images, int side, CancellationToken cancellationToken) => Compute(images, 1, side, cancellationToken);

    /// <summary>512 features per image for RGB images [n, 3, <paramref name="side"/>, <paramref name="side"/>] with values in [-1, 1].</summary>
    public float[] ComputeColour(ReadOnlySpan<float> images, int side, CancellationToken cancellationToken) => Compute(images, 3, side, cancellationToken);

    private float[] Compute(ReadOnlySpan<float> images, int channels, int side, CancellationToken cancellationToken)
    {
        var area = channels * side * side;
        var count = images.Length / area;
        var features = new float[count * Dimension];
        var all = images.ToArray();
        for (var start = 0; start < count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = Math.Min(BatchSize, count - start);
            float[] pixels;
            using (NewDisposeScope())
            {
                // [-1, 1] → 0–255, bilinear to 224×224, grey → three equal channels (RGB as it is).
                var source = tensor(all.AsSpan(start * area, n * area).ToArray(), [n, channels, side, side]);
                var scaled = nn.functional.interpolate((source + 1) * 127.5, [Size, Size], mode: InterpolationMode.Bilinear, align_corners: false);
                pixels = scaled.expand(-1, 3, -1, -1).contiguous().data<float>().ToArray();
            }

            var prepared = Preprocess(pixels, n);
            var runs = batched ? 1 : n;
            var perRun = n / runs;
            for (var r = 0; r < runs; r++)
            {
                const int length = 3 * Size * Size;
                using var input = OrtValue.CreateTensorValueFromMemory(prepared.AsMemory(r * perRun * length, perRun * length).ToArray(), [perRun, 3, Size, Size]);
                using var outputs = network.Run(runOptions, [networkInput], [input], [networkOutput]);
                outputs[0].GetTensorDataAsSpan<float>().CopyTo(features.AsSpan((start + (r * perRun)) * Dimension, perRun * Dimension));
            }
        }

        return features;
    }

    private float[] Preprocess(float[] pixels, int count)
    {
        const int length = 3 * Size * Size;
        if (batched)
        {
            using var input = OrtValue.CreateTensorValueFromMemory(pixels, [count, 3, Size, Size]);
            using var outputs = preprocess.Run(runOptions, [preprocessInput], [input], [preprocessOutput]);
            return outputs[0].GetTensorDataAsSpan<float>().ToArray();
        }

        var prepared = new float[count * length];
        for (var i = 0; i < count; i++)
        {
            using var input = OrtValue.CreateTensorValueFromMemory(pixels.AsMemory(i * length, length).ToArray(), [1, 3, Size, Size]);
            using var outputs = preprocess.Run(runOptions, [preprocessInput], [input], [preprocessOutput]);
            outputs[0].GetTensorDataAsSpan<float>().CopyTo(prepared.AsSpan(i * length, length));
        }

        return prepared;
    }

    public void Dispose()
    {
        preprocess.Dispose();
        network.Dispose();
        runOptions.Dispose();
    }
}
