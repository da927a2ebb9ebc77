namespace GanInference.Core.Generation;

/// <summary>
/// A generation request as the caller gave it (the transport-neutral twin of <c>gan.v1.GenerateRequest</c>);
/// <see cref="GenerationPlan.Create"/> checks it against a model.
/// </summary>
public sealed class GenerationSpec
{
    /// <summary>Number of images; 0 means 1, or the number implied by <see cref="Seeds"/> or <see cref="Latents"/>.</summary>
    public int Count { get; init; }

    /// <summary>First seed (image i uses seed + i); null lets the server pick one.</summary>
    public ulong? Seed { get; init; }

    /// <summary>Explicit seeds, one per image; override <see cref="Seed"/>.</summary>
    public IReadOnlyList<ulong> Seeds { get; init; } = [];

    /// <summary>Explicit latent vectors, flattened; override seeds.</summary>
    public ReadOnlyMemory<float> Latents { get; init; }

    /// <summary>Truncation; null or 0 means the model's default.</summary>
    public float? Truncation { get; init; }

    /// <summary>One label for all images, one per image, or none.</summary>
    public IReadOnlyList<int> Labels { get; init; } = [];
}
