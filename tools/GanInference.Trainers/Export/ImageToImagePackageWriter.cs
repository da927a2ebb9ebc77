using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Core.Manifests;
using GanInference.Trainers.Data;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.Imaging;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using Google.Protobuf;
using ModelKind = GanInference.Trainers.Models.ModelKind;

namespace GanInference.Trainers.Export;

/// <summary>
/// Turns a Pix2Pix or CycleGAN checkpoint (one direction) into a model folder: <c>model.onnx</c>,
/// <c>gan.json</c> (kind <c>image-to-image</c>, with the evaluation figures) and <c>samples.png</c>
/// (held-out test digits: input | output | target or cycle), written through <see cref="AtomicFolder"/>.
/// </summary>
public sealed class ImageToImagePackageWriter(ImageToImageExporter exporter)
{
    public const int DefaultEvaluationSamples = 200;
    private const int SampleRows = 8;
    private const int SampleBlocks = 2;

    private static readonly JsonSerializerOptions ManifestJson = new(Checkpoint.JsonOptions) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<bool> IsImageToImageCheckpointAsync(string checkpoint, CancellationToken cancellationToken) =>
        (await Checkpoint.ReadInfoAsync(checkpoint, cancellationToken).ConfigureAwait(false)).Architecture.IsImageToImage;

    /// <param name="options">Checkpoint, destination, classifier, data; <see cref="ExportOptions.EvaluationSamples"/> held-out digits are evaluated.</param>
    /// <param name="direction">Which CycleGAN generator to export (ignored for Pix2Pix).</param>
    public async Task<ImageToImageReport> WriteAsync(ExportOptions options, CycleDirection direction, CancellationToken cancellationToken)
    {
        var info = await Checkpoint.ReadInfoAsync(options.CheckpointDirectory, cancellationToken).ConfigureAwait(false);
        var architecture = info.Architecture;
        if (!architecture.IsImageToImage)
        {
            throw new ArgumentException($"{options.CheckpointDirectory}: a {architecture.Kind} checkpoint is not an image-to-image model.");
        }

        var task = architecture.Kind == ModelKind.Pix2Pix ? TranslationTask.OutlineToDigit
            : direction == CycleDirection.AToB ? TranslationTask.DigitsAToB : TranslationTask.DigitsBToA;
        var dataDirectory = options.DataDirectory ?? info.DataDirectory;
        ImageToImageReport? report = null;
        await AtomicFolder.WriteAsync(
            options.OutputDirectory,
            async (staging, token) =>
            {
                var modelPath = Path.Combine(staging, ModelPackageWriter.ModelFileName);
                await File.WriteAllBytesAsync(modelPath, ExportGenerator(options.CheckpointDirectory, architecture, direction, task), token).ConfigureAwait(false);

                // CycleGAN: the opposite generator, in memory, for the cycle figure.
                var opposite = direction == CycleDirection.AToB ? CycleDirection.BToA : CycleDirection.AToB;
                using var reverse = architecture.Kind == ModelKind.CycleGan
                    ? new OnnxTranslatorSession(ExportGenerator(options.CheckpointDirectory, architecture, opposite, opposite == CycleDirection.AToB ? TranslationTask.DigitsAToB : TranslationTask.DigitsBToA), "reverse generator")
                    : null;
                using var session = new OnnxTranslatorSession(modelPath);
                await WriteSamplesAsync(session, reverse, dataDirectory, Path.Combine(staging, ModelPackageWriter.SamplesFileName), token).ConfigureAwait(false);
                report = await new ImageToImageEvaluator(options.ClassifierPath, dataDirectory)
                    .EvaluateAsync(session, reverse, options.EvaluationSamples, token).ConfigureAwait(false);
                var name = Path.GetFileName(Path.GetFullPath(options.OutputDirectory).TrimEnd(Path.DirectorySeparatorChar));
                var manifest = CreateManifest(name, options, info, dataDirectory, task, session, report);
                await File.WriteAllTextAsync(Path.Combine(staging, ManifestReader.FileName), JsonSerializer.Serialize(manifest, ManifestJson) + "\n", token).ConfigureAwait(false);
            },
            cancellationToken).ConfigureAwait(false);
        return report!;
    }

    private byte[] ExportGenerator(string checkpoint, GanArchitecture architecture, CycleDirection direction, TranslationTask task)
    {
        using var generator = TranslationModels.LoadGenerator(checkpoint, architecture, direction);
        var (input, output) = task switch
        {
            TranslationTask.OutlineToDigit => (OutlineDigits.Channels, OutlineDigits.Channels),
            TranslationTask.DigitsAToB => (InkDigits.ChannelsA, InkDigits.ChannelsB),
            _ => (InkDigits.ChannelsB, InkDigits.ChannelsA),
        };
        var model = exporter.Export(
            generator,
            input,
            output,
            $"{Describe(task)}: input [batch, {input}, 64, 64] in [-1, 1] → image [batch, {output}, 64, 64] in [-1, 1] (docs/image-to-image.md).",
            new Dictionary<string, string>
            {
                ["gan.kind"] = "image-to-image",
                [ImageToImageExporter.TaskMetadataKey] = TranslationTasks.Name(task),
            });
        return model.ToByteArray();
    }

    /// <summary>Two blocks of 8 held-out digits: input | output | target (Pix2Pix) or input | output | cycled back (CycleGAN).</summary>
    private static async Task WriteSamplesAsync(OnnxTranslatorSession session, OnnxTranslatorSession? reverse, string dataDirectory, string path, CancellationToken cancellationToken)
    {
        var test = await MnistDataset.LoadAsync(dataDirectory, MnistSplit.Test, cancellationToken).ConfigureAwait(false);
        var (source, target) = ImageToImageEvaluator.HeldOutPairs(test, session.Task, SampleRows * SampleBlocks);
        var input = source.ToModelRange();
        var output = session.Translate(input, cancellationToken);
        var third = reverse is null ? target.ToModelRange() : reverse.Translate(output, cancellationToken);
        var thirdChannels = reverse is null ? target.Channels : source.Channels;
        var columns = new List<ImageColumn>();
        for (var block = 0; block < SampleBlocks; block++)
        {
            columns.Add(new(Rows(input, source.Channels, block), source.Channels));
            columns.Add(new(Rows(output, target.Channels, block), target.Channels));
            columns.Add(new(Rows(third, thirdChannels, block), thirdChannels));
        }

        await File.WriteAllBytesAsync(path, ImageTable.EncodePng(columns, DigitImaging.Size), cancellationToken).ConfigureAwait(false);
    }

    private static float[] Rows(float[] images, int channels, int block)
    {
        var length = ImageSet.LengthOf(channels);
        return images.AsSpan(block * SampleRows * length, SampleRows * length).ToArray();
    }

    private static string Describe(TranslationTask task) => task switch
    {
        TranslationTask.OutlineToDigit => "Pix2Pix: the 3×3 outline of a 64×64 MNIST digit → the digit",
        TranslationTask.DigitsAToB => "CycleGAN: grey MNIST digit (white on black) → the digit in dark-blue ink on light paper",
        _ => "CycleGAN: digit in dark-blue ink on light paper → grey MNIST digit (white on black)",
    };

    private static ModelManifest CreateManifest(string name, ExportOptions options, CheckpointInfo info, string dataDirectory, TranslationTask task, OnnxTranslatorSession session, ImageToImageReport report)
    {
        var architecture = info.Architecture;
        var provenance = new JsonObject
        {
            ["translation"] = TranslationTasks.Name(task),
            ["inputDefinition"] = task switch
            {
                TranslationTask.OutlineToDigit => "1 channel: the outline of a white-on-black digit at 64×64 in [0, 1] (3×3 max − 3×3 min, edges replicated), mapped to [-1, 1] by 2v − 1; see docs/image-to-image.md",
                TranslationTask.DigitsAToB => "1 channel: a white-on-black grey digit at 64×64 (MNIST resized bilinearly, half-pixel centres), [0, 1] mapped to [-1, 1] by 2v − 1; see docs/image-to-image.md",
                _ => "3 channels (RGB planes): a digit in ink (30, 40, 120) on paper (235, 228, 210), 64×64, [0, 1] mapped to [-1, 1] by 2v − 1; see docs/image-to-image.md",
            },
            ["outputDefinition"] = session.OutputChannels == 3
                ? "RGB planes in [-1, 1]; (v + 1) / 2 gives [0, 1] colours"
                : "grey, white digit on black, in [-1, 1]; (v + 1) / 2 gives [0, 1]",
            ["exportedGraph"] = architecture.Kind == ModelKind.Pix2Pix
                ? "eval mode: Dropout is exported as Identity (no noise) and BatchNorm uses its running statistics, so outputs are deterministic: the same input always gives the same image, alone or in a batch"
                : "eval mode: InstanceNorm normalises each image on its own (no running statistics), so outputs are deterministic and independent of the batch",
            ["dataset"] = architecture.Kind == ModelKind.Pix2Pix
                ? $"MNIST IDX training split ({info.TrainingImages:N0} digits) from {dataDirectory}: (outline, digit) pairs"
                : $"MNIST IDX training split from {dataDirectory}: domain A = digits [0, N/2) as grey, domain B = digits [N/2, N) rendered in ink (unpaired, disjoint); {info.TrainingImages:N0} images in all",
            ["command"] = info.Command,
            ["epochs"] = info.Epoch,
            ["steps"] = info.Step,
            ["batchSize"] = info.BatchSize,
            ["seed"] = info.Seed,
            ["trainingSeconds"] = info.TrainingSeconds,
            ["hardware"] = $"CPU, {Environment.ProcessorCount} cores (TorchSharp 0.107 / libtorch 2.10 CPU)",
            ["architecture"] = ArchitectureNode(architecture),
            ["losses"] = architecture.Kind == ModelKind.Pix2Pix
                ? $"GAN (BCE on PatchGAN logits) + {Pix2PixTrainer.L1Weight.ToString(CultureInfo.InvariantCulture)}·L1; Adam β1 0.5"
                : $"LSGAN + cycle {CycleGanTrainer.CycleWeight.ToString(CultureInfo.InvariantCulture)}·L1 + identity {CycleGanTrainer.IdentityWeight.ToString(CultureInfo.InvariantCulture)}·{CycleGanTrainer.CycleWeight.ToString(CultureInfo.InvariantCulture)}·L1; image pool {ImagePool.DefaultCapacity}; Adam β1 0.5",
            ["metrics"] = JsonSerializer.SerializeToNode(report.ToMetrics()),
            ["colours"] = new JsonObject
            {
                ["background"] = JsonSerializer.SerializeToNode(report.BackgroundColor),
                ["stroke"] = JsonSerializer.SerializeToNode(report.StrokeColor),
                ["targetBackground"] = JsonSerializer.SerializeToNode(report.TargetBackgroundColor),
                ["targetStroke"] = JsonSerializer.SerializeToNode(report.TargetStrokeColor),
            },
            ["evaluation"] = $"{report.SampleCount} held-out MNIST test digits through ONNX Runtime; outputs read as grey digits (RGB via the ink weight), area-downsized to 28×28 and classified by {options.ClassifierPath}; colours are 0–255 means over background (source < 0.1) and stroke (source > 0.7) pixels" +
                (report.CycleL1 is null ? string.Empty : "; cycleL1 = mean |reverse(model(x)) − x| on [0, 1] pixels through the exported opposite generator"),
        };

        if (info.EarlierCommands.Count > 0)
        {
            provenance["resumedFrom"] = JsonSerializer.SerializeToNode(info.EarlierCommands);
        }

        return new ModelManifest
        {
            Name = name,
            Kind = "image-to-image",
            Description = options.Description ?? Describe(task),
            Model = ModelPackageWriter.ModelFileName,
            Inputs = [Image(ImageToImageExporter.ImageInput, session.InputChannels)],
            Outputs = [Image(ImageToImageExporter.ImageOutput, session.OutputChannels)],
            Batching = new BatchingManifest { MaxBatchSize = 32, MaxQueueDelayMs = 2, MaxQueueSize = 512, PreferredBatchSizes = [4, 8, 16, 32] },
            Provenance = JsonSerializer.SerializeToElement(provenance),
        };
    }

    /// <summary>The architecture without the latent/label fields that only the z-generators use.</summary>
    private static JsonNode ArchitectureNode(GanArchitecture architecture)
    {
        var node = JsonSerializer.SerializeToNode(architecture, Checkpoint.JsonOptions)!.AsObject();
        foreach (var unused in new[] { "latentDimension", "classCount", "labelEmbeddingDimension" })
        {
            node.Remove(unused);
        }

        return node;
    }

    private static TensorManifest Image(string name, int channels) => new()
    {
        Name = name,
        Role = TensorRoles.Image,
        Dtype = "float32",
        Shape = [-1, channels, DigitImaging.Size, DigitImaging.Size],
        Range = [-1, 1],
    };
}
