using Microsoft.ML.OnnxRuntime;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// The exported stages in ONNX Runtime, chained as the server chains them: token rows and seeds →
/// Stage-I 32×32 → Stage-II 64×64. Noise comes from the seeds by the determinism contract, so the
/// figures describe what users of <c>stackgan-digits</c> get.
/// </summary>
public sealed class OnnxStackGanPipeline : IDisposable
{
    private const int BatchSize = 50;
    private readonly InferenceSession stageOne;
    private readonly InferenceSession stageTwo;
    private readonly RunOptions runOptions = new();
    private readonly StackGanArchitecture networks;

    public OnnxStackGanPipeline(byte[] stageOneModel, byte[] stageTwoModel, StackGanArchitecture networks)
    {
        stageOne = new InferenceSession(stageOneModel);
        stageTwo = new InferenceSession(stageTwoModel);
        this.networks = networks;
    }

    /// <summary>Images for token rows [n × T] (or sentence embeddings [n × E] when tokens is null): 32×32 and 64×64, CHW in [-1, 1].</summary>
    public (float[] Small, float[] Large) Generate(long[]? tokens, float[]? embeddings, IReadOnlyList<ulong> seeds, CancellationToken cancellationToken, float truncation = 0f)
    {
        var n = seeds.Count;
        const int smallLength = 3 * CaptionedDigits.SmallSize * CaptionedDigits.SmallSize;
        const int largeLength = 3 * CaptionedDigits.LargeSize * CaptionedDigits.LargeSize;
        var small = new float[n * smallLength];
        var large = new float[n * largeLength];
        var (z, one, two) = StackGanNoise.Draw(seeds, networks, truncation);
        var t = networks.MaxTokens;
        var e = networks.EmbeddingDimension;
        var c = networks.ConditionDimension;
        for (var start = 0; start < n; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var b = Math.Min(BatchSize, n - start);
            var tokenRows = tokens is null ? new long[b * t] : tokens.AsSpan(start * t, b * t).ToArray();
            var embeddingRows = embeddings is null ? new float[b * e] : embeddings.AsSpan(start * e, b * e).ToArray();
            using var tokenValue = OrtValue.CreateTensorValueFromMemory(tokenRows, [b, t]);
            using var embeddingValue = OrtValue.CreateTensorValueFromMemory(embeddingRows, [b, e]);
            using var zValue = OrtValue.CreateTensorValueFromMemory(z.AsSpan(start * networks.LatentDimension, b * networks.LatentDimension).ToArray(), [b, networks.LatentDimension]);
            using var oneValue = OrtValue.CreateTensorValueFromMemory(one.AsSpan(start * c, b * c).ToArray(), [b, c]);
            using var twoValue = OrtValue.CreateTensorValueFromMemory(two.AsSpan(start * c, b * c).ToArray(), [b, c]);
            using var first = stageOne.Run(
                runOptions,
                [StackGanExporter.TokensInput, StackGanExporter.EmbeddingInput, StackGanExporter.LatentInput, StackGanExporter.NoiseInput],
                [tokenValue, embeddingValue, zValue, oneValue],
                [StackGanExporter.ImageOutput]);
            first[0].GetTensorDataAsSpan<float>().CopyTo(small.AsSpan(start * smallLength, b * smallLength));
            using var second = stageTwo.Run(
                runOptions,
                [StackGanExporter.TokensInput, StackGanExporter.EmbeddingInput, StackGanExporter.StageOneImageInput, StackGanExporter.NoiseInput],
                [tokenValue, embeddingValue, first[0], twoValue],
                [StackGanExporter.ImageOutput]);
            second[0].GetTensorDataAsSpan<float>().CopyTo(large.AsSpan(start * largeLength, b * largeLength));
        }

        return (small, large);
    }

    public void Dispose()
    {
        runOptions.Dispose();
        stageOne.Dispose();
        stageTwo.Dispose();
    }
}
