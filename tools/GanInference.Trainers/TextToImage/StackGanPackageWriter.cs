using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Core.Manifests;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using ModelKind = GanInference.Trainers.Models.ModelKind;
using Google.Protobuf;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// Turns a Stage-II checkpoint into three model folders (docs/text-to-image.md): <c>NAME-stage1</c>
/// and <c>NAME-stage2</c> (model.onnx, gan.json, samples.png) and the pipeline <c>NAME</c> (gan.json
/// naming the two steps, samples.png with the captions under each image), each written through
/// <see cref="AtomicFolder"/>. Evaluates the pipeline on the held-out captions first and stores the
/// figures in every manifest.
/// </summary>
public sealed class StackGanPackageWriter(StackGanExporter exporter)
{
    private const int SampleCount = 30;
    private static readonly JsonSerializerOptions ManifestJson = new(Checkpoint.JsonOptions) { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<bool> IsStackGanCheckpointAsync(string checkpoint, CancellationToken cancellationToken) =>
        (await Checkpoint.ReadInfoAsync(checkpoint, cancellationToken).ConfigureAwait(false)).Architecture.Kind is ModelKind.StackGanStageOne or ModelKind.StackGanStageTwo;

    public async Task<TextToImageReport> WriteAsync(ExportOptions options, CancellationToken cancellationToken)
    {
        var info = await Checkpoint.ReadInfoAsync(options.CheckpointDirectory, cancellationToken).ConfigureAwait(false);
        if (info.Architecture.Kind != ModelKind.StackGanStageTwo || info.Architecture.StackGan is not { } networks)
        {
            throw new ArgumentException($"{options.CheckpointDirectory}: export needs a Stage-II checkpoint (train stackgan --stage 2), not {info.Architecture.Kind}.");
        }

        if (networks.StageOneStatisticsTruncation is { } statistics && statistics != options.Truncation)
        {
            throw new ArgumentException($"--truncation: {options.CheckpointDirectory} holds an averaged Stage-I whose BatchNorm statistics were estimated at truncation {statistics} (train stackgan --stage1-truncation), but the export would ship {options.Truncation}; export with --truncation {statistics} or retrain Stage-II with --stage1-truncation {options.Truncation}.");
        }

        using var stageOne = new StageOneGenerator(networks);
        using var stageTwo = new StageTwoGenerator(networks);
        Checkpoint.LoadWeights(options.CheckpointDirectory, StackGanTrainer.StageOneFileName, stageOne);
        Checkpoint.LoadWeights(options.CheckpointDirectory, StackGanTrainer.StageTwoFileName, stageTwo);
        var stageOneBytes = exporter.ExportStageOne(stageOne).ToByteArray();
        var stageTwoBytes = exporter.ExportStageTwo(stageTwo).ToByteArray();
        using var pipeline = new OnnxStackGanPipeline(stageOneBytes, stageTwoBytes, networks);
        var dataDirectory = options.DataDirectory ?? info.DataDirectory;
        var report = await new TextToImageEvaluator(options.ClassifierPath, dataDirectory).EvaluateAsync(pipeline, options.EvaluationSamples, cancellationToken, options.Truncation).ConfigureAwait(false);
        report = report with { EmbeddingPathMaxDifference = EmbeddingPathDifference(stageOne, pipeline) };

        var full = Path.GetFullPath(options.OutputDirectory).TrimEnd(Path.DirectorySeparatorChar);
        var name = Path.GetFileName(full);
        var parent = Path.GetDirectoryName(full)!;
        var (stageOneName, stageTwoName) = ($"{name}-stage1", $"{name}-stage2");
        var captions = TextToImageEvaluator.HeldOutCaptions(SampleCount);
        var tokens = captions.SelectMany(c => CaptionGrammar.Tokenize(c.Caption)).ToArray();
        var (small, large) = pipeline.Generate(tokens, null, TextToImageEvaluator.Seeds(SampleCount), cancellationToken, options.Truncation);
        // The caption alone fits the two lines under each image; the seeds are 1000.. in reading order (docs/text-to-image.md).
        var labels = captions.Select(c => c.Caption).ToArray();
        var provenance = Provenance(info, networks, dataDirectory, options, report);

        await AtomicFolder.WriteAsync(Path.Combine(parent, stageOneName), async (staging, token) =>
        {
            await File.WriteAllBytesAsync(Path.Combine(staging, ModelPackageWriter.ModelFileName), stageOneBytes, token).ConfigureAwait(false);
            await File.WriteAllBytesAsync(Path.Combine(staging, ModelPackageWriter.SamplesFileName), StackGanSamples.EncodeSheet(small, CaptionedDigits.SmallSize, labels, columns: 6), token).ConfigureAwait(false);
            await WriteManifestAsync(staging, StageManifest(stageOneName, networks, stageTwo: false, provenance, options.Truncation), token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await AtomicFolder.WriteAsync(Path.Combine(parent, stageTwoName), async (staging, token) =>
        {
            await File.WriteAllBytesAsync(Path.Combine(staging, ModelPackageWriter.ModelFileName), stageTwoBytes, token).ConfigureAwait(false);
            await File.WriteAllBytesAsync(Path.Combine(staging, ModelPackageWriter.SamplesFileName), StackGanSamples.EncodeSheet(large, CaptionedDigits.LargeSize, labels, columns: 6), token).ConfigureAwait(false);
            await WriteManifestAsync(staging, StageManifest(stageTwoName, networks, stageTwo: true, provenance, options.Truncation), token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        await AtomicFolder.WriteAsync(full, async (staging, token) =>
        {
            await File.WriteAllBytesAsync(Path.Combine(staging, ModelPackageWriter.SamplesFileName), StackGanSamples.EncodeSheet(large, CaptionedDigits.LargeSize, labels, columns: 6), token).ConfigureAwait(false);
            var manifest = new JsonObject
            {
                ["name"] = name,
                ["kind"] = "text-conditional",
                ["description"] = options.Description ?? "StackGAN-style text-to-image: a caption such as \"a thick red seven on a black background\" → 64×64 colour digit (Stage-I 32×32 → Stage-II 64×64, run server-side)",
                ["pipeline"] = new JsonObject { ["steps"] = new JsonArray(new JsonObject { ["model"] = stageOneName }, new JsonObject { ["model"] = stageTwoName }) },
                ["defaults"] = new JsonObject { ["truncation"] = options.Truncation },
                ["provenance"] = provenance.DeepClone(),
            };
            await WriteManifestAsync(staging, manifest, token).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        return report;
    }

    /// <summary>Runs the pipeline once from text and once from the encoder's own sentence embeddings; the images must agree.</summary>
    private static double EmbeddingPathDifference(StageOneGenerator stageOne, OnnxStackGanPipeline pipeline)
    {
        var captions = StackGanSamples.GridCaptions;
        var tokens = captions.SelectMany(CaptionGrammar.Tokenize).ToArray();
        float[] embeddings;
        using (no_grad())
        using (var tokenTensor = tensor(tokens, [captions.Count, CaptionGrammar.MaxTokens]))
        using (var sentence = stageOne.Encoder.forward(tokenTensor))
        {
            embeddings = sentence.data<float>().ToArray();
        }

        var seeds = Enumerable.Range(0, captions.Count).Select(i => (ulong)i).ToArray();
        var (_, fromText) = pipeline.Generate(tokens, null, seeds, CancellationToken.None);
        var (_, fromEmbedding) = pipeline.Generate(null, embeddings, seeds, CancellationToken.None);
        return Math.Round(fromText.Zip(fromEmbedding, (a, b) => (double)Math.Abs(a - b)).Max(), 7);
    }

    private static async Task WriteManifestAsync(string folder, JsonObject manifest, CancellationToken cancellationToken) =>
        await File.WriteAllTextAsync(Path.Combine(folder, ManifestReader.FileName), manifest.ToJsonString(ManifestJson) + "\n", cancellationToken).ConfigureAwait(false);

    private static JsonObject StageManifest(string name, StackGanArchitecture networks, bool stageTwo, JsonObject provenance, float truncation)
    {
        static JsonObject Tensor(string name, string role, string dtype, params long[] shape) => new()
        {
            ["name"] = name,
            ["role"] = role,
            ["dtype"] = dtype,
            ["shape"] = new JsonArray([.. shape.Select(d => (JsonNode)d)]),
        };

        var size = stageTwo ? CaptionedDigits.LargeSize : CaptionedDigits.SmallSize;
        var inputs = new JsonArray(
            Tensor(StackGanExporter.TokensInput, TensorRoles.Tokens, "int64", -1, networks.MaxTokens),
            Tensor(StackGanExporter.EmbeddingInput, TensorRoles.Embedding, "float32", -1, networks.EmbeddingDimension));
        if (stageTwo)
        {
            var image = Tensor(StackGanExporter.StageOneImageInput, TensorRoles.Image, "float32", -1, 3, CaptionedDigits.SmallSize, CaptionedDigits.SmallSize);
            image["range"] = new JsonArray(-1, 1);
            inputs.Add(image);
        }
        else
        {
            inputs.Add(Tensor(StackGanExporter.LatentInput, TensorRoles.Latent, "float32", -1, networks.LatentDimension));
        }

        inputs.Add(Tensor(StackGanExporter.NoiseInput, TensorRoles.Noise, "float32", -1, networks.ConditionDimension));
        var output = Tensor(StackGanExporter.ImageOutput, TensorRoles.Image, "float32", -1, 3, size, size);
        output["range"] = new JsonArray(-1, 1);
        return new JsonObject
        {
            ["name"] = name,
            ["kind"] = "text-conditional",
            ["description"] = stageTwo
                ? "StackGAN Stage-II: refines a Stage-I image to 64×64 under the caption; runs as step 2 of the stackgan-digits pipeline"
                : "StackGAN Stage-I: caption → 32×32 colour digit (also step 1 of the stackgan-digits pipeline)",
            ["model"] = ModelPackageWriter.ModelFileName,
            ["inputs"] = inputs,
            ["outputs"] = new JsonArray(output),
            ["text"] = new JsonObject
            {
                ["vocabulary"] = new JsonArray([.. CaptionGrammar.Vocabulary.Select(w => (JsonNode)w)]),
                ["maxTokens"] = networks.MaxTokens,
                ["embeddingDim"] = networks.EmbeddingDimension,
            },
            ["batching"] = new JsonObject
            {
                ["maxBatchSize"] = 32,
                ["maxQueueDelayMs"] = 2,
                ["maxQueueSize"] = 512,
                ["preferredBatchSizes"] = new JsonArray(8, 16, 32),
            },
            ["defaults"] = new JsonObject { ["truncation"] = truncation },
            ["provenance"] = provenance.DeepClone(),
        };
    }

    private static JsonObject Provenance(CheckpointInfo info, StackGanArchitecture networks, string dataDirectory, ExportOptions options, TextToImageReport report)
    {
        var provenance = new JsonObject
        {
            ["dataset"] = $"captioned colour digits (docs/text-to-image.md) painted on the MNIST IDX training split ({info.TrainingImages:N0} digits) from {dataDirectory}; held-out (digit, colour, background, thickness) combinations never shown in training",
            ["commands"] = new JsonArray([.. info.EarlierCommands.Append(info.Command).Select(c => (JsonNode)c!)]),
            ["stage2Epochs"] = info.Epoch,
            ["stage2Steps"] = info.Step,
            ["batchSize"] = info.BatchSize,
            ["seed"] = info.Seed,
            ["trainingSeconds"] = info.TrainingSeconds,
            ["hardware"] = $"CPU, {Environment.ProcessorCount} cores (TorchSharp 0.107 / libtorch 2.10 CPU)",
            ["architecture"] = JsonSerializer.SerializeToNode(networks, Checkpoint.JsonOptions),
            ["textEncoderAccuracy"] = info.TestAccuracy,
            ["losses"] = "matching-aware GAN (real+caption → real; generated, or real + mismatched caption → fake, half weight each), non-saturating; + Conditioning Augmentation KL (--kl-weight, 1 unless the commands above set it); + the auxiliary attribute classifier of D (digit, stroke colour, background of real images; G rewarded when D reads its caption's) at --aux-weight (off unless the commands above set it), with thickness when the architecture's discriminatorThickness is true (--aux-thickness; at --aux-thickness-weight when the commands set it); thickness-only wrong captions with --thickness-negatives; Adam 2e-4, β1 0.5; text encoder pre-trained on caption → attributes, then frozen",
            ["metrics"] = JsonSerializer.SerializeToNode(report.ToMetrics()),
            ["embeddingPathMaxDifference"] = report.EmbeddingPathMaxDifference,
            ["evaluation"] = EvaluationText(report, options.ClassifierPath, withResNet: false),
        };
        return provenance;
    }

    private static string EvaluationText(TextToImageReport report, string classifierPath, bool withResNet) =>
        $"{report.Captions} captions of held-out combinations (TextToImageEvaluator.HeldOutCaptions), seeds 1000.., truncation {report.Truncation} (the manifests' default), through ONNX Runtime as the server runs the pipeline; background = nearest palette background to the border's median colour, stroke = nearest palette colour to the mean of pixels whose distance from the background is > 0.5 of the maximum, digit = {classifierPath} on that ink map area-downsized to 32×32 and cropped to 28×28; real* = the same reader on real renders of the same attributes (MNIST test digits); thickness* and report* = the report set, {report.ThicknessCaptions} captions of their own (TextToImageEvaluator.ThicknessCaptions, seeds 20000..), on which no choice of epoch, averaging or truncation is made (the held-out captions above, seeds 1000.., are the selection set): thickness by ThicknessReader (mean stroke width, calibrated per digit on renders of MNIST training digits), digit, colour and background by the reader above; borderRoughness* = mean |neighbour difference| in the 6-pixel border per caption background and checkerboard = mean |a − b − c + d| / 4 over aligned 2×2 blocks (a pixel-scale grid), both of the 64×64 images in 8-bit levels" + (withResNet ? ResNetText(report.Captions) : string.Empty);

    private static string ResNetText(int captions) =>
        $"; resNetFrechet64 = Fréchet distance in the 512 features of the ImageNet ResNet-18 of NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18 between the 64×64 RGB images of the selection set and real renders of the same attributes (MNIST test digits), stage1UpscaledResNetFrechet64 the same for Stage-I's images upscaled 2× (nearest), realVsRealResNetFrechet64 renders from MNIST training digits against those test renders (evaluate --resnet; with {captions} images for 512 features the covariances are rank-deficient, so these compare models on these captions only)";

    /// <summary>
    /// Writes an evaluation of an exported pipeline into the manifests of the pipeline folder and of its two steps
    /// (<c>evaluate --update-manifest</c>, e.g. to add the figures an older export did not compute): the evaluated figures
    /// replace or join <c>provenance.metrics</c> (the others stay), with the evaluation's description and
    /// <c>evaluationCommand</c>. The report must be the export's: its default caption count at the manifest's default
    /// truncation. With <paramref name="frechet"/> (<c>evaluate --resnet</c>, on the same captions), its ResNet-18 Fréchet
    /// distances join the figures, as the generators' manifests carry theirs. Each file is validated by the server's
    /// manifest reader; if one is refused, all are put back.
    /// </summary>
    public static async Task UpdateManifestFiguresAsync(string folder, IReadOnlyList<string> stepFolders, TextToImageReport report, TextToImageFrechetReport? frechet, string classifierPath, string command, CancellationToken cancellationToken)
    {
        var folders = new[] { folder }.Concat(stepFolders).ToArray();
        var before = new string[folders.Length];
        for (var i = 0; i < folders.Length; i++)
        {
            before[i] = await File.ReadAllTextAsync(Path.Combine(folders[i], ManifestReader.FileName), cancellationToken).ConfigureAwait(false);
        }

        var defaultTruncation = JsonNode.Parse(before[0])?["defaults"]?["truncation"]?.GetValue<float>() ?? 0f;
        if (report.Captions != TextToImageEvaluator.DefaultCaptions || report.Truncation != defaultTruncation)
        {
            throw new ArgumentException($"--update-manifest: a pipeline manifest's figures are those of the export's {TextToImageEvaluator.DefaultCaptions} captions at its default truncation {defaultTruncation}; this evaluation used --samples {report.Captions} --truncation {report.Truncation}.");
        }

        if (frechet is not null && frechet.Captions != report.Captions)
        {
            throw new ArgumentException($"--update-manifest --resnet: the Fréchet distances come from {frechet.Captions} captions, the evaluation from {report.Captions}; both must be the evaluation's captions.");
        }

        try
        {
            for (var i = 0; i < folders.Length; i++)
            {
                var path = Path.Combine(folders[i], ManifestReader.FileName);
                var manifest = JsonNode.Parse(before[i])?.AsObject() ?? throw new InvalidDataException($"{path}: holds JSON null, expected a manifest object.");
                var provenance = manifest["provenance"] as JsonObject ?? throw new InvalidDataException($"{path}: no provenance object to update.");
                if (provenance["metrics"] is not JsonObject metrics)
                {
                    metrics = [];
                    provenance["metrics"] = metrics;
                }

                foreach (var (name, value) in report.ToMetrics())
                {
                    metrics[name] = value;
                }

                foreach (var (name, value) in frechet?.ToMetrics() ?? new Dictionary<string, double>())
                {
                    metrics[name] = value;
                }

                // Figures of an earlier --resnet evaluation of the same weights stay, and so does their description.
                provenance["evaluation"] = EvaluationText(report, classifierPath, withResNet: metrics.ContainsKey("resNetFrechet64"));
                provenance["evaluationCommand"] = command;
                await ModelPackageWriter.ReplaceAsync(path, manifest.ToJsonString(ManifestJson) + "\n", cancellationToken).ConfigureAwait(false);

                // The server's own checks: the pipeline folder as a pipeline, each step as a model.
                var parsed = await ManifestReader.ParseAsync(folders[i], cancellationToken).ConfigureAwait(false);
                if (i == 0)
                {
                    ManifestReader.ForPipeline(parsed, Path.GetFileName(Path.GetFullPath(folders[i]).TrimEnd(Path.DirectorySeparatorChar)));
                }
                else
                {
                    ManifestReader.ForModel(parsed, folders[i]);
                }
            }
        }
        catch
        {
            for (var i = 0; i < folders.Length; i++)
            {
                await ModelPackageWriter.ReplaceAsync(Path.Combine(folders[i], ManifestReader.FileName), before[i], CancellationToken.None).ConfigureAwait(false);
            }

            throw;
        }
    }
}
