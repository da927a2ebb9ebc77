namespace GanInference.Core.TextGeneration;

/// <summary>
/// A text-to-image request as the caller gave it (the transport-neutral twin of <c>gan.v1.GenerateFromTextRequest</c>);
/// <see cref="TextGenerationPlan.Create"/> checks it against a model or pipeline.
/// </summary>
public sealed class TextGenerationSpec
{
    /// <summary>Captions; one set of images each. Exclusive with <see cref="Embeddings"/>.</summary>
    public IReadOnlyList<string> Texts { get; init; } = [];

    /// <summary>Sentence embeddings, flattened rows of the model's embedding_dim; one set of images per row.</summary>
    public ReadOnlyMemory<float> Embeddings { get; init; }

    /// <summary>Images per text (or embedding row); 0 means 1, or the number implied by <see cref="Seeds"/>.</summary>
    public int Count { get; init; }

    /// <summary>First seed: image j of the request (text-major) uses seed + j; null lets the server pick one.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Explicit seeds, one per image in request order; override <see cref="Seed"/>.</summary>
    public IReadOnlyList<ulong> Seeds { get; init; } = [];

    /// <summary>Truncation; null or 0 means the model's default.</summary>
    public float? Truncation { get; init; }
}

/// <summary>The configured limits a text-to-image call runs under, with their configuration keys for messages.</summary>
/// <param name="MaxTexts">Most texts (or embedding rows) per call.</param>
/// <param name="MaxTextLength">Most characters per text, checked before tokenizing.</param>
/// <param name="MaxImages">Most images per call.</param>
/// <param name="MaxTextsKey">Where <paramref name="MaxTexts"/> is configured.</param>
/// <param name="MaxTextLengthKey">Where <paramref name="MaxTextLength"/> is configured.</param>
/// <param name="MaxImagesKey">Where <paramref name="MaxImages"/> is configured.</param>
public sealed record TextRequestLimits(int MaxTexts, int MaxTextLength, int MaxImages, string? MaxTextsKey, string? MaxTextLengthKey, string? MaxImagesKey);
