namespace GanInference.Core.Manifests;

/// <summary>What a model takes as conditioning, which decides the RPCs it serves.</summary>
public enum ModelKind
{
    /// <summary>Latent only (e.g. DCGAN).</summary>
    Unconditional,

    /// <summary>Latent plus a class label (e.g. conditional DCGAN).</summary>
    ClassConditional,

    /// <summary>Text tokens or embeddings plus latent (e.g. StackGAN Stage-I).</summary>
    TextConditional,

    /// <summary>An input image (e.g. pix2pix).</summary>
    ImageToImage,
}

/// <summary>The manifest spelling of <see cref="ModelKind"/>.</summary>
public static class ModelKindNames
{
    private static readonly (string Name, ModelKind Kind)[] Names =
    [
        ("unconditional", ModelKind.Unconditional),
        ("class-conditional", ModelKind.ClassConditional),
        ("text-conditional", ModelKind.TextConditional),
        ("image-to-image", ModelKind.ImageToImage),
    ];

    /// <summary>All accepted spellings, for error messages.</summary>
    public static string Allowed => string.Join(", ", Names.Select(n => n.Name));

    /// <summary>Parses a manifest <c>kind</c>; false for anything else.</summary>
    public static bool TryParse(string? name, out ModelKind kind)
    {
        foreach (var (candidate, value) in Names)
        {
            if (string.Equals(candidate, name, StringComparison.Ordinal))
            {
                kind = value;
                return true;
            }
        }

        kind = default;
        return false;
    }

    /// <summary>The manifest spelling of <paramref name="kind"/>.</summary>
    public static string ToManifestName(this ModelKind kind) => Names.First(n => n.Kind == kind).Name;
}
