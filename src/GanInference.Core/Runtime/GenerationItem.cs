namespace GanInference.Core.Runtime;

/// <summary>
/// The inputs of one image: either a seed (the latent and any noise come from its stream, see
/// docs/determinism.md) or an explicit latent vector, plus the conditioning the model takes: the class label,
/// the token ids or sentence embedding of a text, the image of the previous pipeline step. Conditioning a model
/// has no input for is ignored; an input whose value is left empty is fed zeros.
/// </summary>
public readonly record struct GenerationItem
{
    /// <summary>Label value meaning "no label" (unconditional models).</summary>
    public const long NoLabel = -1;

    private GenerationItem(ulong seed, bool hasSeed, ReadOnlyMemory<float> latent, float truncation, long label)
    {
        Seed = seed;
        HasSeed = hasSeed;
        Latent = latent;
        Truncation = truncation;
        Label = label;
    }

    /// <summary>The seed, when <see cref="HasSeed"/>.</summary>
    public ulong Seed { get; }

    /// <summary>True when the latent is drawn from <see cref="Seed"/>.</summary>
    public bool HasSeed { get; }

    /// <summary>The explicit latent vector, when there is no seed.</summary>
    public ReadOnlyMemory<float> Latent { get; }

    /// <summary>Truncation for seeded latents (0 = plain N(0, 1)).</summary>
    public float Truncation { get; }

    /// <summary>Class label, or <see cref="NoLabel"/>.</summary>
    public long Label { get; }

    /// <summary>Token ids, one row of the model's maxTokens; empty feeds all padding (0).</summary>
    public ReadOnlyMemory<long> Tokens { get; init; }

    /// <summary>Sentence embedding, one row of the model's embeddingDim; empty feeds zeros.</summary>
    public ReadOnlyMemory<float> Embedding { get; init; }

    /// <summary>The previous pipeline step's output (C·H·W floats in its range), for a model with an image input.</summary>
    public ReadOnlyMemory<float> Image { get; init; }

    /// <summary>Values of the seed's stream drawn by earlier pipeline steps; this model's latent and noise start after them.</summary>
    public int StreamOffset { get; init; }

    /// <summary>An image drawn from <paramref name="seed"/>.</summary>
    public static GenerationItem FromSeed(ulong seed, float truncation, long label = NoLabel) => new(seed, true, default, truncation, label);

    /// <summary>An image from an explicit latent vector.</summary>
    public static GenerationItem FromLatent(ReadOnlyMemory<float> latent, long label = NoLabel) => new(0, false, latent, 0, label);
}
