namespace GanInference.Core.Generation;

/// <summary>
/// The inputs of one image: either a seed (the latent and any noise come from its stream, see
/// docs/determinism.md) or an explicit latent vector, plus the class label for conditional models.
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

    /// <summary>An image drawn from <paramref name="seed"/>.</summary>
    public static GenerationItem FromSeed(ulong seed, float truncation, long label = NoLabel) => new(seed, true, default, truncation, label);

    /// <summary>An image from an explicit latent vector.</summary>
    public static GenerationItem FromLatent(ReadOnlyMemory<float> latent, long label = NoLabel) => new(0, false, latent, 0, label);
}
