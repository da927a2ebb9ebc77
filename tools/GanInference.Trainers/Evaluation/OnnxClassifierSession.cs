using GanInference.Trainers.Export;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Trainers.Evaluation;

/// <summary>The exported MNIST classifier in ONNX Runtime: logits and penultimate features per image.</summary>
public sealed class OnnxClassifierSession : IDisposable
{
    private const int BatchSize = 250;
    private const int ImageArea = OnnxModelExporter.ImageSize * OnnxModelExporter.ImageSize;

    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();

    public OnnxClassifierSession(string modelPath)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"{modelPath}: classifier model not found (train and export it first: train classifier, export --checkpoint runs/mnist-classifier/checkpoints/latest --out eval/mnist-classifier).", modelPath);
        }

        session = new InferenceSession(modelPath);
        if (!session.OutputMetadata.TryGetValue(OnnxModelExporter.LogitsOutput, out var logits) || !session.OutputMetadata.TryGetValue(OnnxModelExporter.FeaturesOutput, out var features))
        {
            session.Dispose();
            throw new InvalidDataException($"{modelPath}: expected outputs '{OnnxModelExporter.LogitsOutput}' and '{OnnxModelExporter.FeaturesOutput}'.");
        }

        ClassCount = logits.Dimensions[1];
        FeatureDimension = features.Dimensions[1];
    }

    public int ClassCount { get; }

    public int FeatureDimension { get; }

    /// <summary>Classifies <paramref name="images"/> (28×28 each, in [-1, 1]); returns predicted classes and features [n × F].</summary>
    public (int[] Predictions, float[] Features) Classify(ReadOnlyMemory<float> images, CancellationToken cancellationToken)
    {
        var count = images.Length / ImageArea;
        var predictions = new int[count];
        var features = new float[count * FeatureDimension];
        for (var start = 0; start < count; start += BatchSize)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var n = Math.Min(BatchSize, count - start);
            var batch = images.Slice(start * ImageArea, n * ImageArea).ToArray();
            using var input = OrtValue.CreateTensorValueFromMemory(batch, [n, 1, OnnxModelExporter.ImageSize, OnnxModelExporter.ImageSize]);
            using var outputs = session.Run(runOptions, [OnnxModelExporter.ClassifierInput], [input], [OnnxModelExporter.LogitsOutput, OnnxModelExporter.FeaturesOutput]);
            var logits = outputs[0].GetTensorDataAsSpan<float>();
            for (var i = 0; i < n; i++)
            {
                var row = logits.Slice(i * ClassCount, ClassCount);
                var best = 0;
                for (var c = 1; c < ClassCount; c++)
                {
                    if (row[c] > row[best])
                    {
                        best = c;
                    }
                }

                predictions[start + i] = best;
            }

            outputs[1].GetTensorDataAsSpan<float>().CopyTo(features.AsSpan(start * FeatureDimension, n * FeatureDimension));
        }

        return (predictions, features);
    }

    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
    }
}
