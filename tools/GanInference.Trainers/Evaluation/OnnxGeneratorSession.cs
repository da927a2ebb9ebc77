using GanInference.Trainers.Export;
using GanInference.Trainers.Sampling;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Trainers.Evaluation;

/// <summary>
/// An exported generator in ONNX Runtime, fed exactly as the server feeds it: latents from
/// seeds via the determinism contract, labels as int64. So figures describe what users get.
/// </summary>
public sealed class OnnxGeneratorSession : IDisposable
{
    private const int BatchSize = 64;
    private const int ImageArea = OnnxModelExporter.ImageSize * OnnxModelExporter.ImageSize;

    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();

    public OnnxGeneratorSession(string modelPath)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"{modelPath}: generator model not found.", modelPath);
        }

        session = new InferenceSession(modelPath);
        if (!session.InputMetadata.TryGetValue(OnnxModelExporter.LatentInput, out var latent) || latent.Dimensions.Length != 2 || latent.Dimensions[1] <= 0)
        {
            session.Dispose();
            throw new InvalidDataException($"{modelPath}: expected an input '{OnnxModelExporter.LatentInput}' of shape [batch, D].");
        }

        LatentDimension = latent.Dimensions[1];
        IsConditional = session.InputMetadata.ContainsKey(OnnxModelExporter.LabelInput);
    }

    public int LatentDimension { get; }

    public bool IsConditional { get; }

    /// <summary>Images [seeds.Count × 28 × 28] in [-1, 1] for the seeds (and labels, when conditional).</summary>
    public float[] Generate(IReadOnlyList<ulong> seeds, IReadOnlyList<long>? labels, float truncation, CancellationToken cancellationToken)
    {
        if (IsConditional != labels is not null)
        {
            throw new ArgumentException(IsConditional ? "this generator is class-conditional: labels are required." : "this generator takes no labels.", nameof(labels));
        }

        if (labels is not null && labels.Count != seeds.Count)
        {
            throw new ArgumentException($"got {labels.Count} labels for {seeds.Count} seeds.", nameof(labels));
        }

        var images = new float[seeds.Count * ImageArea];
        for (var start = 0; start < seeds.Count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = Math.Min(BatchSize, seeds.Count - start);
            var batchSeeds = seeds.Skip(start).Take(count).ToArray();
            var latents = SeededLatents.Create(batchSeeds, LatentDimension, truncation);
            using var z = OrtValue.CreateTensorValueFromMemory(latents, [count, LatentDimension]);
            var names = new List<string> { OnnxModelExporter.LatentInput };
            var values = new List<OrtValue> { z };
            OrtValue? label = null;
            try
            {
                if (labels is not null)
                {
                    label = OrtValue.CreateTensorValueFromMemory(labels.Skip(start).Take(count).ToArray(), [count]);
                    names.Add(OnnxModelExporter.LabelInput);
                    values.Add(label);
                }

                using var outputs = session.Run(runOptions, names, values, [OnnxModelExporter.ImageOutput]);
                outputs[0].GetTensorDataAsSpan<float>().CopyTo(images.AsSpan(start * ImageArea, count * ImageArea));
            }
            finally
            {
                label?.Dispose();
            }
        }

        return images;
    }

    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
    }
}
