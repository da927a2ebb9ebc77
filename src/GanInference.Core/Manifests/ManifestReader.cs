using System.Text.Json;
using GanInference.Core.Errors;
using GanInference.Core.Text;

namespace GanInference.Core.Manifests;

/// <summary>
/// Reads <c>gan.json</c> from a model folder and checks it on its own terms (required fields, known
/// kinds, roles and dtypes, ranges). Checks against the ONNX graph come after, in <c>ModelSignature</c> (Models).
/// Every problem is a <see cref="ModelLoadException"/> whose message names the file and the field.
/// </summary>
public static class ManifestReader
{
    /// <summary>The manifest's file name inside a model folder.</summary>
    public const string FileName = "gan.json";

    /// <summary>The ONNX file used when the manifest names none.</summary>
    public const string DefaultModelFile = "model.onnx";

    /// <summary>Upper bound for <c>batching.maxRunsInFlight</c>.</summary>
    public const int MaxRunsInFlightLimit = 16;

    /// <summary>Upper bound for <c>batching.maxBatchSize</c>.</summary>
    public const int MaxBatchSizeLimit = 4096;

    /// <summary>Upper bound for <c>batching.maxQueueDelayMs</c>.</summary>
    public const double MaxQueueDelayMsLimit = 10_000;

    /// <summary>Upper bound for <c>batching.maxQueueSize</c>.</summary>
    public const int MaxQueueSizeLimit = 1_000_000;

    /// <summary>Upper bound for <c>text.maxTokens</c>.</summary>
    public const int MaxTokensLimit = 1024;

    /// <summary>Upper bound for <c>text.embeddingDim</c>.</summary>
    public const int MaxEmbeddingDimLimit = 65_536;

    /// <summary>Upper bound for the number of <c>text.vocabulary</c> entries.</summary>
    public const int MaxVocabularySize = 1_000_000;

    /// <summary>Upper bound for the number of <c>pipeline.steps</c>.</summary>
    public const int MaxPipelineSteps = 16;

    /// <summary>Smallest positive truncation; below it rejection sampling would spin for too long.</summary>
    public const float MinimumTruncation = 0.01f;

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly string[] KnownDtypes = ["float32", "int64", "int32", "uint8", "bool"];

    /// <summary>Reads and checks <c>folder/gan.json</c> of a model folder (one with an ONNX file).</summary>
    /// <param name="folder">The model folder; its name must equal the manifest's <c>name</c>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The manifest, its kind, and the full path of its ONNX file.</returns>
    public static async Task<ManifestReadResult> ReadAsync(string folder, CancellationToken cancellationToken) =>
        ForModel(await ParseAsync(folder, cancellationToken).ConfigureAwait(false), folder);

    /// <summary>Reads <c>folder/gan.json</c> as JSON, without checking its fields (see <see cref="ForModel"/> and <see cref="ForPipeline"/>).</summary>
    /// <param name="folder">The model or pipeline folder.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    public static async Task<ModelManifest> ParseAsync(string folder, CancellationToken cancellationToken)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path))
        {
            throw new ModelLoadException($"{FileName} not found in '{folder}'");
        }

        ModelManifest? manifest;
        try
        {
            await using var stream = File.OpenRead(path);
            manifest = await JsonSerializer.DeserializeAsync<ModelManifest>(stream, JsonOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            var where = ex.Path is { Length: > 0 } jsonPath ? $" at {jsonPath}" : string.Empty;
            throw new ModelLoadException($"{FileName}: invalid JSON{where} (line {(ex.LineNumber ?? 0) + 1}): {ex.Message}", ex);
        }

        return manifest ?? throw new ModelLoadException($"{FileName}: the file holds JSON null, expected an object");
    }

    /// <summary>Checks the manifest of a model folder and finds its ONNX file.</summary>
    /// <param name="manifest">The parsed file.</param>
    /// <param name="folder">The model folder; its name must equal the manifest's <c>name</c>.</param>
    public static ManifestReadResult ForModel(ModelManifest manifest, string folder)
    {
        if (manifest.Pipeline is not null)
        {
            throw Fail("pipeline", "this folder is a pipeline of other models and has no ONNX file of its own");
        }

        var kind = Validate(manifest, Path.GetFileName(Path.TrimEndingDirectorySeparator(folder)));
        var modelFile = manifest.Model ?? DefaultModelFile;
        var folderFull = Path.GetFullPath(folder);
        var modelPath = Path.GetFullPath(Path.Combine(folderFull, modelFile));
        if (!modelPath.StartsWith(folderFull + Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            throw new ModelLoadException($"{FileName}: model '{modelFile}' must be a file inside the model folder");
        }

        if (!File.Exists(modelPath))
        {
            throw new ModelLoadException($"{modelFile} not found in '{folder}' (named by {FileName} field 'model')");
        }

        return new ManifestReadResult(manifest, kind, modelPath);
    }

    /// <summary>
    /// Checks the manifest of a pipeline folder on its own terms (name, kind, steps; none of the fields that only a
    /// model has). Whether its steps are loaded and fit together is decided later, against the loaded models
    /// (<c>ServedPipeline</c>, in the repository).
    /// </summary>
    /// <param name="manifest">The parsed file, with a <c>pipeline</c> block.</param>
    /// <param name="folderName">The folder's name, which <c>name</c> must equal.</param>
    public static PipelineDefinition ForPipeline(ModelManifest manifest, string folderName)
    {
        var kind = ValidateNameAndKind(manifest, folderName);
        if (kind != ModelKind.TextConditional)
        {
            throw Fail("kind", $"'{manifest.Kind}': a pipeline must be text-conditional (pipelines are served by GenerateFromText)");
        }

        (string Field, bool Present)[] modelOnly =
        [
            ("model", manifest.Model is not null), ("inputs", manifest.Inputs is not null), ("outputs", manifest.Outputs is not null),
            ("classes", manifest.Classes is not null), ("text", manifest.Text is not null), ("batching", manifest.Batching is not null),
        ];
        foreach (var (field, present) in modelOnly)
        {
            if (present)
            {
                throw Fail(field, "a pipeline has none of its own: each step's manifest describes its model");
            }
        }

        var steps = manifest.Pipeline?.Steps;
        if (steps is null || steps.Count == 0)
        {
            throw Fail("pipeline.steps", "must list at least one step, e.g. [{ \"model\": \"stage1\" }]");
        }

        if (steps.Count > MaxPipelineSteps)
        {
            throw Fail("pipeline.steps", $"{steps.Count} steps is over the limit of {MaxPipelineSteps}");
        }

        var names = new string[steps.Count];
        for (var i = 0; i < steps.Count; i++)
        {
            var model = steps[i]?.Model;
            if (string.IsNullOrWhiteSpace(model))
            {
                throw Fail($"pipeline.steps[{i}].model", "is required: the name of a model of this repository");
            }

            if (model == manifest.Name)
            {
                throw Fail($"pipeline.steps[{i}].model", "a pipeline cannot be a step of itself");
            }

            names[i] = model;
        }

        ValidateCommon(manifest);
        return new PipelineDefinition(manifest, names);
    }

    /// <summary>Checks a parsed manifest; returns its kind.</summary>
    /// <param name="manifest">The parsed file.</param>
    /// <param name="folderName">The folder's name, which <c>name</c> must equal.</param>
    public static ModelKind Validate(ModelManifest manifest, string folderName)
    {
        var kind = ValidateNameAndKind(manifest, folderName);
        ValidateTensors(manifest.Inputs, "inputs", isInput: true);
        ValidateTensors(manifest.Outputs, "outputs", isInput: false);
        ValidateClasses(manifest, kind);
        ValidateText(manifest.Text, kind, manifest.Kind);
        ValidateBatching(manifest.Batching);
        ValidateCommon(manifest);
        return kind;
    }

    /// <summary>True for 0 (no truncation) or a finite value of at least <see cref="MinimumTruncation"/>.</summary>
    public static bool IsValidTruncation(float truncation) =>
        truncation == 0 || (float.IsFinite(truncation) && truncation >= MinimumTruncation);

    private static ModelKind ValidateNameAndKind(ModelManifest manifest, string folderName)
    {
        if (string.IsNullOrWhiteSpace(manifest.Name))
        {
            throw Fail("name", "is required");
        }

        if (!string.Equals(manifest.Name, folderName, StringComparison.Ordinal))
        {
            throw Fail("name", $"'{manifest.Name}' must equal its folder name '{folderName}'");
        }

        if (manifest.Kind is null)
        {
            throw Fail("kind", $"is required (one of: {ModelKindNames.Allowed})");
        }

        if (!ModelKindNames.TryParse(manifest.Kind, out var kind))
        {
            throw Fail("kind", $"'{manifest.Kind}' is not one of: {ModelKindNames.Allowed}");
        }

        return kind;
    }

    /// <summary>The fields models and pipelines share: provenance and defaults.</summary>
    private static void ValidateCommon(ModelManifest manifest)
    {
        if (manifest.Provenance is { } provenance && provenance.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            throw Fail("provenance", $"must be an object, got {provenance.ValueKind}");
        }

        if (manifest.Defaults?.Truncation is { } truncation && !IsValidTruncation(truncation))
        {
            throw Fail("defaults.truncation", $"{truncation} must be 0 or a finite number >= {MinimumTruncation}");
        }
    }

    private static void ValidateText(TextManifest? text, ModelKind kind, string? kindName)
    {
        if (kind != ModelKind.TextConditional)
        {
            if (text is not null)
            {
                throw Fail("text", $"only text-conditional models have a text block; this one is '{kindName}'");
            }

            return;
        }

        if (text is null)
        {
            throw Fail("text", "a text-conditional model needs a text block: { \"vocabulary\": [\"<pad>\", ...], \"maxTokens\": N, \"embeddingDim\": D }");
        }

        if (text.Vocabulary is not { Count: > 1 } vocabulary)
        {
            throw Fail("text.vocabulary", $"must list \"{TextTokenizer.PadToken}\" and at least one word");
        }

        if (vocabulary.Count > MaxVocabularySize)
        {
            throw Fail("text.vocabulary", $"{vocabulary.Count} entries is over the limit of {MaxVocabularySize}");
        }

        if (vocabulary[0] != TextTokenizer.PadToken)
        {
            throw Fail("text.vocabulary[0]", $"must be \"{TextTokenizer.PadToken}\" (token id 0 is padding), got '{vocabulary[0]}'");
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 1; i < vocabulary.Count; i++)
        {
            var word = vocabulary[i];
            if (!TextTokenizer.IsWord(word))
            {
                throw Fail($"text.vocabulary[{i}]", $"'{word}' is not a lower-case word of [a-z0-9]");
            }

            if (!seen.TryAdd(word, i))
            {
                throw Fail($"text.vocabulary[{i}]", $"'{word}' is listed twice (also at {seen[word]})");
            }
        }

        if (text.MaxTokens is not { } maxTokens || maxTokens < 1 || maxTokens > MaxTokensLimit)
        {
            throw Fail("text.maxTokens", $"{text.MaxTokens?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(missing)"} is outside 1..{MaxTokensLimit}");
        }

        if (text.EmbeddingDim is not { } embeddingDim || embeddingDim < 1 || embeddingDim > MaxEmbeddingDimLimit)
        {
            throw Fail("text.embeddingDim", $"{text.EmbeddingDim?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "(missing)"} is outside 1..{MaxEmbeddingDimLimit}");
        }
    }

    private static void ValidateTensors(IReadOnlyList<TensorManifest>? tensors, string field, bool isInput)
    {
        if (tensors is null || tensors.Count == 0)
        {
            throw Fail(field, "must list at least one tensor");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < tensors.Count; i++)
        {
            var tensor = tensors[i];
            var at = $"{field}[{i}]";
            if (tensor is null)
            {
                throw Fail(at, "must be an object");
            }

            if (string.IsNullOrWhiteSpace(tensor.Name))
            {
                throw Fail($"{at}.name", "is required");
            }

            if (!names.Add(tensor.Name))
            {
                throw Fail($"{at}.name", $"'{tensor.Name}' is listed twice");
            }

            if (isInput && !TensorRoles.InputRoles.Contains(tensor.Role))
            {
                throw Fail($"{at}.role", $"'{tensor.Role}' is not one of: {string.Join(", ", TensorRoles.InputRoles)}");
            }

            if (!isInput && tensor.Role != TensorRoles.Image)
            {
                throw Fail($"{at}.role", $"'{tensor.Role}' is not supported for outputs (expected '{TensorRoles.Image}')");
            }

            if (!KnownDtypes.Contains(tensor.Dtype))
            {
                throw Fail($"{at}.dtype", $"'{tensor.Dtype}' is not one of: {string.Join(", ", KnownDtypes)}");
            }

            if (tensor.Shape is null || tensor.Shape.Count == 0)
            {
                throw Fail($"{at}.shape", "is required, e.g. [-1, 100]");
            }

            if (tensor.Shape[0] != -1)
            {
                throw Fail($"{at}.shape", $"the first axis must be the dynamic batch axis -1, got {tensor.Shape[0]}");
            }

            for (var d = 1; d < tensor.Shape.Count; d++)
            {
                if (tensor.Shape[d] < 1)
                {
                    throw Fail($"{at}.shape[{d}]", $"must be a positive size, got {tensor.Shape[d]}");
                }
            }

            if (tensor.Role == TensorRoles.Image)
            {
                ValidateImageTensor(tensor, at);
            }
        }

        if (!isInput && tensors.Count != 1)
        {
            throw Fail(field, $"must list exactly one image tensor, got {tensors.Count}");
        }
    }

    private static void ValidateImageTensor(TensorManifest tensor, string at)
    {
        if (tensor.Dtype != "float32")
        {
            throw Fail($"{at}.dtype", $"an image tensor must be float32, got '{tensor.Dtype}'");
        }

        if (tensor.Shape!.Count != 4 || tensor.Shape[1] is not (1 or 3))
        {
            throw Fail($"{at}.shape", $"an image tensor must be [-1, C, H, W] with C = 1 or 3, got [{string.Join(", ", tensor.Shape)}]");
        }

        if (tensor.Range is not { Count: 2 } range || !float.IsFinite(range[0]) || !float.IsFinite(range[1]) || range[0] >= range[1])
        {
            throw Fail($"{at}.range", "must be [min, max] with finite min < max, e.g. [-1, 1]");
        }
    }

    private static void ValidateClasses(ModelManifest manifest, ModelKind kind)
    {
        if (kind == ModelKind.ClassConditional)
        {
            if (manifest.Classes is null || manifest.Classes.Count == 0)
            {
                throw Fail("classes", "a class-conditional model must list its class names");
            }

            for (var i = 0; i < manifest.Classes.Count; i++)
            {
                if (string.IsNullOrWhiteSpace(manifest.Classes[i]))
                {
                    throw Fail($"classes[{i}]", "must be a non-empty name");
                }
            }
        }
        else if (manifest.Classes is { Count: > 0 })
        {
            throw Fail("classes", $"only class-conditional models have classes; this one is '{manifest.Kind}'");
        }
    }

    private static void ValidateBatching(BatchingManifest? batching)
    {
        if (batching is null)
        {
            return;
        }

        if (batching.MaxBatchSize is { } max && max is < 1 or > MaxBatchSizeLimit)
        {
            throw Fail("batching.maxBatchSize", $"{max} is outside 1..{MaxBatchSizeLimit}");
        }

        if (batching.MaxQueueDelayMs is { } delay && !(delay >= 0 && delay <= MaxQueueDelayMsLimit))
        {
            throw Fail("batching.maxQueueDelayMs", $"{delay} is outside 0..{MaxQueueDelayMsLimit}");
        }

        if (batching.MaxQueueSize is { } queue && queue is < 1 or > MaxQueueSizeLimit)
        {
            throw Fail("batching.maxQueueSize", $"{queue} is outside 1..{MaxQueueSizeLimit}");
        }

        if (batching.MaxRunsInFlight is { } runs && runs is < 1 or > MaxRunsInFlightLimit)
        {
            throw Fail("batching.maxRunsInFlight", $"{runs} is outside 1..{MaxRunsInFlightLimit}");
        }

        if (batching.Policy is { } policy && !BatchingManifest.IsPolicy(policy))
        {
            throw Fail("batching.policy", $"'{policy}' is not one of: {BatchingManifest.Policies}");
        }

        var limit = batching.MaxBatchSize ?? MaxBatchSizeLimit;
        if (batching.PreferredBatchSizes is { } preferred)
        {
            for (var i = 0; i < preferred.Count; i++)
            {
                if (preferred[i] < 1 || preferred[i] > limit)
                {
                    throw Fail($"batching.preferredBatchSizes[{i}]", $"{preferred[i]} is outside 1..{limit} (maxBatchSize)");
                }
            }
        }
    }

    private static ModelLoadException Fail(string field, string problem) => new($"{FileName}: {field}: {problem}");
}

/// <summary>A manifest that passed <see cref="ManifestReader"/>'s checks.</summary>
/// <param name="Manifest">The parsed file.</param>
/// <param name="Kind">Its parsed kind.</param>
/// <param name="ModelPath">Full path of its ONNX file.</param>
public sealed record ManifestReadResult(ModelManifest Manifest, ModelKind Kind, string ModelPath);

/// <summary>A pipeline manifest that passed <see cref="ManifestReader.ForPipeline"/>'s checks; its steps are not resolved yet.</summary>
/// <param name="Manifest">The parsed file.</param>
/// <param name="Steps">The step model names, first to last.</param>
public sealed record PipelineDefinition(ModelManifest Manifest, IReadOnlyList<string> Steps)
{
    /// <summary>The pipeline's name in the API.</summary>
    public string Name => Manifest.Name!;
}
