using System.Buffers;
using GanInference.Trainers.Data;
using GanInference.Trainers.Export;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Trainers.Evaluation;

/// <summary>An exported image-to-image model in ONNX Runtime: [n, C_in, 64, 64] → [n, C_out, 64, 64], both in [-1, 1].</summary>
public sealed class OnnxTranslatorSession : IDisposable
{
    private const int BatchSize = 50;

    private readonly InferenceSession session;
    private readonly RunOptions runOptions = new();

    public OnnxTranslatorSession(string modelPath)
        : this(File.Exists(modelPath) ? new InferenceSession(modelPath) : throw new FileNotFoundException($"{modelPath}: image-to-image model not found.", modelPath), modelPath)
    {
    }

    /// <summary>A model held in memory (the export evaluates the reverse CycleGAN direction this way).</summary>
    public OnnxTranslatorSession(byte[] model, string description)
        : this(new InferenceSession(model), description)
    {
    }

    private OnnxTranslatorSession(InferenceSession session, string description)
    {
        this.session = session;
        try
        {
            if (!session.InputMetadata.TryGetValue(ImageToImageExporter.ImageInput, out var input) || !session.OutputMetadata.TryGetValue(ImageToImageExporter.ImageOutput, out var output))
            {
                throw new InvalidDataException($"{description}: expected input '{ImageToImageExporter.ImageInput}' and output '{ImageToImageExporter.ImageOutput}' (an image-to-image model).");
            }

            InputChannels = input.Dimensions[1];
            OutputChannels = output.Dimensions[1];
            var metadata = session.ModelMetadata.CustomMetadataMap;
            if (!metadata.TryGetValue(ImageToImageExporter.TaskMetadataKey, out var taskName) || !TranslationTasks.TryParse(taskName, out var task))
            {
                throw new InvalidDataException($"{description}: metadata '{ImageToImageExporter.TaskMetadataKey}' is missing or unknown ('{taskName}').");
            }

            Task = task;
        }
        catch
        {
            session.Dispose();
            runOptions.Dispose();
            throw;
        }
    }

    public int InputChannels { get; }

    public int OutputChannels { get; }

    public TranslationTask Task { get; }

    /// <summary>Translates images back to back (CHW, [-1, 1]).</summary>
    public float[] Translate(ReadOnlyMemory<float> images, CancellationToken cancellationToken)
    {
        var inputLength = ImageSet.LengthOf(InputChannels);
        var outputLength = ImageSet.LengthOf(OutputChannels);
        if (images.Length % inputLength != 0)
        {
            throw new ArgumentException($"expected whole [{InputChannels}, 64, 64] images, got {images.Length} values.", nameof(images));
        }

        var count = images.Length / inputLength;
        var result = new float[count * outputLength];
        var buffer = ArrayPool<float>.Shared.Rent(Math.Min(BatchSize, count) * inputLength);
        try
        {
            for (var start = 0; start < count; start += BatchSize)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var n = Math.Min(BatchSize, count - start);
                var batch = buffer.AsMemory(0, n * inputLength);
                images.Slice(start * inputLength, n * inputLength).CopyTo(batch);
                using var input = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, batch, [n, InputChannels, DigitImaging.Size, DigitImaging.Size]);
                using var outputs = session.Run(runOptions, [ImageToImageExporter.ImageInput], [input], [ImageToImageExporter.ImageOutput]);
                outputs[0].GetTensorDataAsSpan<float>().CopyTo(result.AsSpan(start * outputLength, n * outputLength));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }

        return result;
    }

    public void Dispose()
    {
        runOptions.Dispose();
        session.Dispose();
    }
}
