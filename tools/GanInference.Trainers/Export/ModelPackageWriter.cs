using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Core.Manifests;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.Imaging;
using GanInference.Trainers.Models;
using GanInference.Trainers.Sampling;
using GanInference.Trainers.Training;
using Google.Protobuf;
using ModelKind = GanInference.Trainers.Models.ModelKind;

namespace GanInference.Trainers.Export;

/// <summary>What <c>export</c> needs besides the checkpoint.</summary>
public sealed record ExportOptions
{
    public required string CheckpointDirectory { get; init; }

    /// <summary>Destination folder, e.g. <c>models/dcgan-mnist</c>; its name is the model's name.</summary>
    public required string OutputDirectory { get; init; }

    /// <summary>The exported classifier used by the evaluation (GAN exports only).</summary>
    public string ClassifierPath { get; init; } = Path.Combine("eval", "mnist-classifier", "model.onnx");

    /// <summary>MNIST folder for the evaluation; defaults to the checkpoint's training data.</summary>
    public string? DataDirectory { get; init; }

    public int EvaluationSamples { get; init; } = 1000;

    /// <summary>
    /// First seed of the evaluation (seeds EvaluationFirstSeed..+EvaluationSamples-1). 0, the reported set, for a model
    /// that ships; another set (e.g. 1000) while choosing a checkpoint, so the reported seeds are never used for a choice.
    /// </summary>
    public ulong EvaluationFirstSeed { get; init; }

    /// <summary>How the checkpoint, averaging and truncation were chosen and on which seeds (manifest <c>provenance.selection</c>).</summary>
    public string? Selection { get; init; }

    /// <summary>Export the mean generator of the last N epoch checkpoints up to the given one (1 = that checkpoint alone).</summary>
    public int AverageEpochs { get; init; } = 1;

    /// <summary>GANs: export the checkpoint's exponential moving average of the generator (<c>train --g-ema</c>) instead of the online one.</summary>
    public bool GeneratorEma { get; init; }

    public string? Description { get; init; }

    /// <summary>
    /// Text-to-image exports: the default truncation written into the manifests (<c>defaults.truncation</c>, what the
    /// server uses when a request leaves it 0) and used by the export's own evaluation and samples. 0 = plain N(0, 1).
    /// </summary>
    public float Truncation { get; init; }
}

/// <summary>
/// Turns a checkpoint into a model folder: <c>model.onnx</c>, <c>gan.json</c> (manifest with
/// provenance and evaluation figures) and <c>samples.png</c> for generators; <c>model.onnx</c> and
/// <c>classifier.json</c> for the classifier. Everything is written through <see cref="AtomicFolder"/>.
/// </summary>
public sealed class ModelPackageWriter(OnnxModelExporter exporter)
{
    public const string ModelFileName = "model.onnx";
    public const string SamplesFileName = "samples.png";
    public const string ClassifierManifestFileName = "classifier.json";
    private const int GridColumns = 10;

    // Relaxed escaping keeps the manifests readable (é, backticks) — they are files, not HTML.
    private static readonly JsonSerializerOptions ManifestJson = new(Checkpoint.JsonOptions) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <returns>The evaluation figures (GANs) or null (classifier).</returns>
    public async Task<EvaluationReport?> WriteAsync(ExportOptions options, CancellationToken cancellationToken)
    {
        var info = await Checkpoint.ReadInfoAsync(options.CheckpointDirectory, cancellationToken).ConfigureAwait(false);
        var dataDirectory = options.DataDirectory ?? info.DataDirectory;
        EvaluationReport? report = null;
        await AtomicFolder.WriteAsync(
            options.OutputDirectory,
            async (staging, token) =>
            {
                if (info.Architecture.Kind == ModelKind.Classifier)
                {
                    if (options.GeneratorEma)
                    {
                        throw new ArgumentException($"--ema: {options.CheckpointDirectory} is a classifier checkpoint; only DCGAN and cDCGAN checkpoints carry a moving-average generator.");
                    }

                    await WriteClassifierAsync(options, info, dataDirectory, staging, token).ConfigureAwait(false);
                }
                else
                {
                    report = await WriteGeneratorAsync(options, info, dataDirectory, staging, token).ConfigureAwait(false);
                }
            },
            cancellationToken).ConfigureAwait(false);
        return report;
    }

    private async Task<EvaluationReport> WriteGeneratorAsync(ExportOptions options, CheckpointInfo info, string dataDirectory, string staging, CancellationToken cancellationToken)
    {
        var architecture = info.Architecture;
        var modelPath = Path.Combine(staging, ModelFileName);
        var generator = ModelFactory.CreateGenerator(architecture);
        using (generator.Module)
        {
            if (options.GeneratorEma && options.AverageEpochs > 1)
            {
                throw new ArgumentException($"--ema and --average-epochs {options.AverageEpochs}: choose one kind of averaging.");
            }

            if (options.GeneratorEma)
            {
                GeneratorAveraging.LoadMovingAverage(generator, architecture, options.CheckpointDirectory, info);
            }
            else if (options.AverageEpochs > 1)
            {
                GeneratorAveraging.LoadAverage(generator, architecture, GeneratorAveraging.CheckpointsToAverage(options.CheckpointDirectory, info, options.AverageEpochs), info.Seed);
            }
            else
            {
                Checkpoint.LoadWeights(options.CheckpointDirectory, Checkpoint.GeneratorFileName, generator.Module);
            }

            var model = exporter.ExportGenerator(generator, architecture, new Dictionary<string, string>
            {
                ["gan.kind"] = architecture.Kind.ToString().ToLowerInvariant(),
                ["gan.latent_dimension"] = architecture.LatentDimension.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
            await File.WriteAllBytesAsync(modelPath, model.ToByteArray(), cancellationToken).ConfigureAwait(false);
        }

        // Samples and figures come from the exported file through ONNX Runtime: what users get.
        using (var session = new OnnxGeneratorSession(modelPath))
        {
            var (seeds, labels) = SeededLatents.GridLayout(architecture.IsConditional, architecture.ClassCount, GridColumns, GridColumns);
            var pixels = session.Generate(seeds, labels, truncation: 0f, cancellationToken);
            await File.WriteAllBytesAsync(Path.Combine(staging, SamplesFileName), ImageGrid.EncodePng(pixels, GridColumns), cancellationToken).ConfigureAwait(false);
        }

        var report = await new GeneratorEvaluator(options.ClassifierPath, dataDirectory)
            .EvaluateAsync(modelPath, options.EvaluationSamples, truncation: 0f, cancellationToken, options.EvaluationFirstSeed).ConfigureAwait(false);
        var manifest = CreateManifest(Path.GetFileName(Path.GetFullPath(options.OutputDirectory).TrimEnd(Path.DirectorySeparatorChar)), options, info, dataDirectory, report);
        await File.WriteAllTextAsync(Path.Combine(staging, ManifestReader.FileName), JsonSerializer.Serialize(manifest, ManifestJson) + "\n", cancellationToken).ConfigureAwait(false);
        return report;
    }

    /// <summary>
    /// Replaces the evaluation figures in an exported generator's <c>gan.json</c> (<c>provenance.metrics</c>, the class
    /// shares of both readers, the evaluation's description) with <paramref name="report"/>'s, keeping the rest of the
    /// manifest; <c>evaluate --update-manifest</c> (e.g. to add figures an older export did not compute). The report must
    /// be of the reported seed set at truncation 0, as the export's own.
    /// </summary>
    public static async Task UpdateManifestFiguresAsync(string folder, EvaluationReport report, string classifierPath, string dataDirectory, string command, CancellationToken cancellationToken)
    {
        if (report.FirstSeed != 0 || report.Truncation != 0)
        {
            throw new ArgumentException($"--update-manifest: a manifest's figures are those of seeds 0.. at truncation 0 (the export's); this evaluation used --first-seed {report.FirstSeed} --truncation {report.Truncation}.");
        }

        var path = Path.Combine(folder, ManifestReader.FileName);
        var before = await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false);
        var manifest = JsonNode.Parse(before)?.AsObject()
            ?? throw new InvalidDataException($"{path}: holds JSON null, expected a manifest object.");
        if (manifest["provenance"] is not JsonObject provenance)
        {
            throw new InvalidDataException($"{path}: no provenance object to update.");
        }

        var conditional = manifest["inputs"]?.AsArray().Any(input => input?["role"]?.GetValue<string>() == TensorRoles.Label) == true;
        provenance["metrics"] = JsonSerializer.SerializeToNode(report.ToMetrics());
        provenance["classFractions"] = JsonSerializer.SerializeToNode(report.ClassFractions);
        provenance["neighbourClassFractions"] = JsonSerializer.SerializeToNode(report.NeighbourClassFractions);
        provenance["evaluation"] = EvaluationText(report, conditional, classifierPath, dataDirectory);
        provenance["evaluationCommand"] = command;

        // Renamed over the old file, and put back if the server's own reader refuses the result.
        await ReplaceAsync(path, manifest.ToJsonString(ManifestJson) + "\n", cancellationToken).ConfigureAwait(false);
        try
        {
            await ManifestReader.ReadAsync(folder, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await ReplaceAsync(path, before, CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Writes <paramref name="text"/> beside <paramref name="path"/> and renames it over the file, so a reader never sees half of it.</summary>
    internal static async Task ReplaceAsync(string path, string text, CancellationToken cancellationToken)
    {
        var temp = path + ".partial";
        await File.WriteAllTextAsync(temp, text, cancellationToken).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
    }

    private static string EvaluationText(EvaluationReport report, bool conditional, string classifierPath, string dataDirectory) =>
        $"{report.SampleCount} samples from seeds {report.FirstSeed}..{report.FirstSeed + (ulong)report.SampleCount - 1}" +
        (conditional ? " with label = seed % 10" : string.Empty) +
        $", truncation 0, through ONNX Runtime; features and classes from {classifierPath}; second reader: 5 nearest neighbours among the real training digits; real digits from {dataDirectory}" +
        (report.ResNetFrechetDistance is null ? string.Empty : "; ResNet-18 features: the ImageNet ResNet-18 of NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18");

    private static ModelManifest CreateManifest(string name, ExportOptions options, CheckpointInfo info, string dataDirectory, EvaluationReport report)
    {
        var architecture = info.Architecture;
        var inputs = new List<TensorManifest>
        {
            new() { Name = OnnxModelExporter.LatentInput, Role = TensorRoles.Latent, Dtype = "float32", Shape = [-1, architecture.LatentDimension] },
        };
        if (architecture.IsConditional)
        {
            inputs.Add(new() { Name = OnnxModelExporter.LabelInput, Role = TensorRoles.Label, Dtype = "int64", Shape = [-1] });
        }

        var provenance = new JsonObject
        {
            ["dataset"] = $"MNIST IDX training split ({info.TrainingImages:N0} digits) from {dataDirectory}",
            ["command"] = info.Command,
            ["epochs"] = info.Epoch,
            ["steps"] = info.Step,
            ["batchSize"] = info.BatchSize,
            ["seed"] = info.Seed,
            ["trainingSeconds"] = info.TrainingSeconds,
            ["hardware"] = $"CPU, {Environment.ProcessorCount} cores (TorchSharp 0.107 / libtorch 2.10 CPU)",
            ["architecture"] = JsonSerializer.SerializeToNode(architecture, Checkpoint.JsonOptions),
            ["metrics"] = JsonSerializer.SerializeToNode(report.ToMetrics()),
            ["classFractions"] = JsonSerializer.SerializeToNode(report.ClassFractions),
            ["neighbourClassFractions"] = JsonSerializer.SerializeToNode(report.NeighbourClassFractions),
            ["evaluation"] = EvaluationText(report, architecture.IsConditional, options.ClassifierPath, dataDirectory),
        };

        if (options.Selection is { } selection)
        {
            provenance["selection"] = selection;
        }

        if (options.GeneratorEma)
        {
            provenance["generatorWeights"] = FormattableString.Invariant($"exponential moving average of the generator weights (decay {info.GeneratorEmaDecay} per step, {info.GeneratorEmaUpdates} updates), BatchNorm statistics re-estimated on 100 batches of 64 latents");
        }

        if (options.AverageEpochs > 1)
        {
            provenance["generatorWeights"] = $"mean of the generator weights of epochs {info.Epoch - options.AverageEpochs + 1}-{info.Epoch} (Polyak averaging), BatchNorm statistics re-estimated on 100 batches of 64 latents";
        }

        if (info.EarlierCommands.Count > 0)
        {
            // The run was resumed: these commands produced the checkpoint it continued from.
            provenance["resumedFrom"] = JsonSerializer.SerializeToNode(info.EarlierCommands);
        }

        return new ModelManifest
        {
            Name = name,
            Kind = architecture.IsConditional ? "class-conditional" : "unconditional",
            Description = options.Description ?? (architecture.IsConditional
                ? "Class-conditional DCGAN (label embedding + projection discriminator) trained on MNIST digits"
                : architecture.LatentClasses
                ? "DCGAN trained on MNIST digits, each image's digit class read from z (the largest of its first 10 coordinates)"
                : "DCGAN trained on MNIST digits"),
            Model = ModelFileName,
            Inputs = inputs,
            Outputs = [new() { Name = OnnxModelExporter.ImageOutput, Role = TensorRoles.Image, Dtype = "float32", Shape = [-1, 1, OnnxModelExporter.ImageSize, OnnxModelExporter.ImageSize], Range = [-1, 1] }],
            Classes = architecture.IsConditional ? Enumerable.Range(0, architecture.ClassCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray() : null,
            Batching = new BatchingManifest { MaxBatchSize = 64, MaxQueueDelayMs = 2, MaxQueueSize = 1024, PreferredBatchSizes = [8, 16, 32, 64] },
            Defaults = new DefaultsManifest { Truncation = 0 },
            Provenance = JsonSerializer.SerializeToElement(provenance),
        };
    }

    private async Task WriteClassifierAsync(ExportOptions options, CheckpointInfo info, string dataDirectory, string staging, CancellationToken cancellationToken)
    {
        var modelPath = Path.Combine(staging, ModelFileName);
        using (var classifier = new MnistClassifier(info.Architecture))
        {
            Checkpoint.LoadWeights(options.CheckpointDirectory, Checkpoint.ClassifierFileName, classifier);
            var model = exporter.ExportClassifier(classifier, info.Architecture.ClassCount);
            await File.WriteAllBytesAsync(modelPath, model.ToByteArray(), cancellationToken).ConfigureAwait(false);
        }

        // Re-measure through ONNX Runtime so the stated accuracy is that of the exported file.
        var test = await Data.MnistDataset.LoadAsync(dataDirectory, Data.MnistSplit.Test, cancellationToken).ConfigureAwait(false);
        const int Area = Data.MnistDataset.ImageSize * Data.MnistDataset.ImageSize;
        var images = new float[test.Count * Area];
        for (var i = 0; i < test.Count; i++)
        {
            test.CopyImage(i, images.AsSpan(i * Area, Area));
        }

        double accuracy;
        using (var session = new OnnxClassifierSession(modelPath))
        {
            var (predictions, _) = session.Classify(images, cancellationToken);
            accuracy = predictions.Where((p, i) => p == test.Labels[i]).Count() / (double)test.Count;
        }

        var description = new JsonObject
        {
            ["name"] = "mnist-classifier",
            ["description"] = "Small MNIST CNN; the feature extractor and judge of `GanInference.Trainers evaluate`.",
            ["model"] = ModelFileName,
            ["input"] = new JsonObject { ["name"] = OnnxModelExporter.ClassifierInput, ["dtype"] = "float32", ["shape"] = new JsonArray(-1, 1, 28, 28), ["range"] = new JsonArray(-1, 1) },
            ["outputs"] = new JsonArray(
                new JsonObject { ["name"] = OnnxModelExporter.LogitsOutput, ["dtype"] = "float32", ["shape"] = new JsonArray(-1, info.Architecture.ClassCount), ["meaning"] = "class logits (argmax = predicted digit)" },
                new JsonObject { ["name"] = OnnxModelExporter.FeaturesOutput, ["dtype"] = "float32", ["shape"] = new JsonArray(-1, MnistClassifier.FeatureDimension), ["meaning"] = "penultimate ReLU features, the space of the Fréchet distance" }),
            ["testAccuracy"] = Math.Round(accuracy, 4),
            ["testImages"] = test.Count,
            ["provenance"] = new JsonObject
            {
                ["dataset"] = $"MNIST IDX ({info.TrainingImages:N0} training digits) from {dataDirectory}",
                ["command"] = info.Command,
                ["epochs"] = info.Epoch,
                ["steps"] = info.Step,
                ["seed"] = info.Seed,
                ["trainingSeconds"] = info.TrainingSeconds,
            },
        };
        await File.WriteAllTextAsync(Path.Combine(staging, ClassifierManifestFileName), description.ToJsonString(ManifestJson) + "\n", cancellationToken).ConfigureAwait(false);
    }
}
