using System.Text.Json;

namespace GanInference.Core.Manifests;

/// <summary>
/// <c>gan.json</c> as written on disk (docs/manifest.md). Every field is nullable here because the
/// file is untrusted input: <see cref="ManifestReader"/> checks presence and ranges and reports the
/// first problem by field name.
/// </summary>
public sealed class ModelManifest
{
    /// <summary>The model's name in the API; must equal its folder name.</summary>
    public string? Name { get; init; }

    /// <summary><c>unconditional</c>, <c>class-conditional</c>, <c>text-conditional</c> or <c>image-to-image</c>.</summary>
    public string? Kind { get; init; }

    /// <summary>Free text for people.</summary>
    public string? Description { get; init; }

    /// <summary>The ONNX file, relative to the folder; <c>model.onnx</c> when absent.</summary>
    public string? Model { get; init; }

    /// <summary>Graph inputs the server feeds.</summary>
    public IReadOnlyList<TensorManifest>? Inputs { get; init; }

    /// <summary>Graph outputs the server reads.</summary>
    public IReadOnlyList<TensorManifest>? Outputs { get; init; }

    /// <summary>Class names (index = label); class-conditional models only.</summary>
    public IReadOnlyList<string>? Classes { get; init; }

    /// <summary>Dynamic batching parameters.</summary>
    public BatchingManifest? Batching { get; init; }

    /// <summary>Defaults applied when a request gives none.</summary>
    public DefaultsManifest? Defaults { get; init; }

    /// <summary>Where the weights came from; passed through to clients as a Struct.</summary>
    public JsonElement? Provenance { get; init; }

    /// <summary>Vocabulary and sizes of a text-conditional model (docs/text-to-image.md).</summary>
    public TextManifest? Text { get; init; }

    /// <summary>The steps of a pipeline model; a pipeline folder has no ONNX file of its own.</summary>
    public PipelineManifest? Pipeline { get; init; }
}

/// <summary>The <c>text</c> block of a text-conditional model.</summary>
public sealed class TextManifest
{
    /// <summary>Token id = index; entry 0 is <c>&lt;pad&gt;</c>, every other entry a lower-case word of [a-z0-9].</summary>
    public IReadOnlyList<string>? Vocabulary { get; init; }

    /// <summary>Width of the <c>tokens</c> input: the most words one text may have.</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Width of the <c>embedding</c> input.</summary>
    public int? EmbeddingDim { get; init; }
}

/// <summary>The <c>pipeline</c> block: other models of the repository, run in order.</summary>
public sealed class PipelineManifest
{
    /// <summary>The steps, first to last.</summary>
    public IReadOnlyList<PipelineStepManifest>? Steps { get; init; }
}

/// <summary>One step of a pipeline.</summary>
public sealed class PipelineStepManifest
{
    /// <summary>The step's model name (a folder of the same repository).</summary>
    public string? Model { get; init; }
}

/// <summary>One tensor entry of <c>inputs</c> or <c>outputs</c>.</summary>
public sealed class TensorManifest
{
    /// <summary>Tensor name in the ONNX graph.</summary>
    public string? Name { get; init; }

    /// <summary>What the server feeds or reads (see <see cref="TensorRoles"/>).</summary>
    public string? Role { get; init; }

    /// <summary>Element type: <c>float32</c>, <c>int64</c>, <c>int32</c>, <c>uint8</c> or <c>bool</c>.</summary>
    public string? Dtype { get; init; }

    /// <summary>Shape; -1 is the dynamic batch axis.</summary>
    public IReadOnlyList<long>? Shape { get; init; }

    /// <summary>Value range [min, max] of an image tensor.</summary>
    public IReadOnlyList<float>? Range { get; init; }
}

/// <summary>The <c>batching</c> block; all optional.</summary>
public sealed class BatchingManifest
{
    /// <summary>The <c>policy</c> that forms only batch sizes that pay (the default).</summary>
    public const string MeasuredPolicy = "measured";

    /// <summary>The <c>policy</c> that lets batches grow to <c>maxBatchSize</c>.</summary>
    public const string FixedPolicy = "fixed";

    /// <summary>Every <c>policy</c>, for messages.</summary>
    public const string Policies = MeasuredPolicy + ", " + FixedPolicy;

    /// <summary>Most items per ONNX Runtime run.</summary>
    public int? MaxBatchSize { get; init; }

    /// <summary>How long a queued item may wait for others, in milliseconds.</summary>
    public double? MaxQueueDelayMs { get; init; }

    /// <summary>Most requests waiting in the queue.</summary>
    public int? MaxQueueSize { get; init; }

    /// <summary>Batch sizes dispatched without waiting for the delay.</summary>
    public IReadOnlyList<int>? PreferredBatchSizes { get; init; }

    /// <summary>Most batches running at once on the model's session (default 2; the measured policy may run fewer).</summary>
    public int? MaxRunsInFlight { get; init; }

    /// <summary><c>measured</c> (default: batches only as large as pays, from the batch size profile) or <c>fixed</c> (up to maxBatchSize).</summary>
    public string? Policy { get; init; }

    /// <summary>True when <paramref name="policy"/> is one of <see cref="Policies"/> (case-insensitive).</summary>
    public static bool IsPolicy(string policy) => policy.Trim().ToLowerInvariant() is MeasuredPolicy or FixedPolicy;
}

/// <summary>The <c>defaults</c> block.</summary>
public sealed class DefaultsManifest
{
    /// <summary>Truncation used when a request gives none (0 = plain N(0, 1)).</summary>
    public float? Truncation { get; init; }
}

/// <summary>The tensor roles of docs/manifest.md.</summary>
public static class TensorRoles
{
    /// <summary>float32 [-1, D], drawn from the seed.</summary>
    public const string Latent = "latent";

    /// <summary>int64 [-1], class index.</summary>
    public const string Label = "label";

    /// <summary>Token ids of a text-conditional model.</summary>
    public const string Tokens = "tokens";

    /// <summary>float32 [-1, K], further random input drawn from the seed's stream after the latent.</summary>
    public const string Noise = "noise";

    /// <summary>A precomputed text embedding.</summary>
    public const string Embedding = "embedding";

    /// <summary>An image tensor [-1, C, H, W].</summary>
    public const string Image = "image";

    /// <summary>Every input role the server knows.</summary>
    public static readonly IReadOnlyList<string> InputRoles = [Latent, Label, Tokens, Noise, Embedding, Image];
}
