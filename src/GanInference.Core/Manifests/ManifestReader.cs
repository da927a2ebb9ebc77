using System.Text.Json;
using GanInference.Core.Errors;
using GanInference.Core.Models;

namespace GanInference.Core.Manifests;

/// <summary>
/// Reads <c>gan.json</c> from a model folder and checks it on its own terms (required fields, known
/// kinds, roles and dtypes, ranges). Checks against the ONNX graph come after, in <see cref="ModelSignature"/>.
/// Every problem is a <see cref="ModelLoadException"/> whose message names the file and the field.
/// </summary>
public static class ManifestReader
{
    /// <summary>The manifest's file name inside a model folder.</summary>
    public const string FileName = "gan.json";

    /// <summary>The ONNX file used when the manifest names none.</summary>
    public const string DefaultModelFile = "model.onnx";

    /// <summary>Upper bound for <c>batching.maxBatchSize</c>.</summary>
    public const int MaxBatchSizeLimit = 4096;

    /// <summary>Upper bound for <c>batching.maxQueueDelayMs</c>.</summary>
    public const double MaxQueueDelayMsLimit = 10_000;

    /// <summary>Upper bound for <c>batching.maxQueueSize</c>.</summary>
    public const int MaxQueueSizeLimit = 1_000_000;

    /// <summary>Smallest positive truncation; below it rejection sampling would spin for too long.</summary>
    public const float MinimumTruncation = 0.01f;

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
    };

    private static readonly string[] KnownDtypes = ["float32", "int64", "int32", "uint8", "bool"];

    /// <summary>Reads and checks <c>folder/gan.json</c>.</summary>
    /// <param name="folder">The model folder; its name must equal the manifest's <c>name</c>.</param>
    /// <param name="cancellationToken">Cancels the read.</param>
    /// <returns>The manifest, its kind, and the full path of its ONNX file.</returns>
    public static async Task<ManifestReadResult> ReadAsync(string folder, CancellationToken cancellationToken)
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

        if (manifest is null)
        {
            throw new ModelLoadException($"{FileName}: the file holds JSON null, expected an object");
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

    /// <summary>Checks a parsed manifest; returns its kind.</summary>
    /// <param name="manifest">The parsed file.</param>
    /// <param name="folderName">The folder's name, which <c>name</c> must equal.</param>
    public static ModelKind Validate(ModelManifest manifest, string folderName)
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

        ValidateTensors(manifest.Inputs, "inputs", isInput: true);
        ValidateTensors(manifest.Outputs, "outputs", isInput: false);
        ValidateClasses(manifest, kind);
        ValidateBatching(manifest.Batching);
        if (manifest.Provenance is { } provenance && provenance.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null))
        {
            throw Fail("provenance", $"must be an object, got {provenance.ValueKind}");
        }
        if (manifest.Defaults?.Truncation is { } truncation && !IsValidTruncation(truncation))
        {
            throw Fail("defaults.truncation", $"{truncation} must be 0 or a finite number >= {MinimumTruncation}");
        }

        return kind;
    }

    /// <summary>True for 0 (no truncation) or a finite value of at least <see cref="MinimumTruncation"/>.</summary>
    public static bool IsValidTruncation(float truncation) =>
        truncation == 0 || (float.IsFinite(truncation) && truncation >= MinimumTruncation);

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
