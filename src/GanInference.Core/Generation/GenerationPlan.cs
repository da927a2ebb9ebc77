using GanInference.Core.Errors;
using GanInference.Core.Limits;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Runtime;

namespace GanInference.Core.Generation;

/// <summary>
/// A checked generation request: how many images and, lazily per index, each image's seed, latent and
/// label. Nothing is materialised per image up front, so a request for 100,000 images costs no more
/// memory than one for 10.
/// </summary>
public sealed class GenerationPlan
{
    private readonly ulong _firstSeed;
    private readonly IReadOnlyList<ulong> _seeds;
    private readonly ReadOnlyMemory<float> _latents;
    private readonly int _latentDim;
    private readonly IReadOnlyList<int> _labels;
    private readonly int _classCount;

    private GenerationPlan(int count, ulong firstSeed, IReadOnlyList<ulong> seeds, ReadOnlyMemory<float> latents, int latentDim, float truncation, IReadOnlyList<int> labels, int classCount)
    {
        Count = count;
        _firstSeed = firstSeed;
        _seeds = seeds;
        _latents = latents;
        _latentDim = latentDim;
        Truncation = truncation;
        _labels = labels;
        _classCount = classCount;
    }

    /// <summary>Number of images.</summary>
    public int Count { get; }

    /// <summary>Effective truncation (the request's, or the model's default).</summary>
    public float Truncation { get; }

    /// <summary>True when images come from explicit latents and carry no seed.</summary>
    public bool UsesExplicitLatents => !_latents.IsEmpty;

    /// <summary>
    /// Checks <paramref name="spec"/> against <paramref name="signature"/> and the image limit; throws
    /// <see cref="InvalidFieldException"/> naming the field and the allowed range, or
    /// <see cref="ModelKindMismatchException"/> when the model cannot generate.
    /// </summary>
    /// <param name="model">Model name, for messages.</param>
    /// <param name="signature">The model's checked signature.</param>
    /// <param name="defaultTruncation">The model's default truncation.</param>
    /// <param name="spec">The request.</param>
    /// <param name="maxImages">Most images this call may ask for.</param>
    /// <param name="limitName">Where <paramref name="maxImages"/> is configured (e.g. <c>Limits:MaxImagesPerRequest</c>), named in the error.</param>
    public static GenerationPlan Create(string model, ModelSignature signature, float defaultTruncation, GenerationSpec spec, int maxImages, string? limitName = null)
    {
        if (!signature.IsGenerator)
        {
            throw GenerationRules.KindMismatch(model, signature.Kind);
        }

        if (spec.Count < 0)
        {
            throw new InvalidFieldException("count", $"{spec.Count} is outside 0..{maxImages}");
        }

        var count = ResolveCount(spec, signature.LatentDim, model, signature);
        RequestLimits.CheckAtMost("count", count, maxImages, limitName, "images");

        var truncation = GenerationRules.ResolveTruncation(spec.Truncation, defaultTruncation);
        CheckLabels(model, signature, spec.Labels, count);
        var firstSeed = spec.Seed ?? GenerationRules.RandomSeed();
        return new GenerationPlan(count, firstSeed, spec.Seeds, spec.Latents, signature.LatentDim, truncation, spec.Labels, signature.Classes.Count);
    }

    /// <summary>The seed of image <paramref name="index"/>, or null for explicit latents.</summary>
    public ulong? SeedAt(int index)
    {
        if (UsesExplicitLatents)
        {
            return null;
        }

        return _seeds.Count > 0 ? _seeds[index] : unchecked(_firstSeed + (ulong)index);
    }

    /// <summary>The label of image <paramref name="index"/>, or null for unconditional models.</summary>
    public int? LabelAt(int index)
    {
        if (_classCount == 0)
        {
            return null;
        }

        return _labels.Count switch
        {
            0 when SeedAt(index) is { } seed => (int)(seed % (ulong)_classCount),
            0 => index % _classCount,
            1 => _labels[0],
            _ => _labels[index],
        };
    }

    /// <summary>The model inputs of image <paramref name="index"/>.</summary>
    public GenerationItem ItemAt(int index)
    {
        var label = LabelAt(index) ?? GenerationItem.NoLabel;
        return SeedAt(index) is { } seed
            ? GenerationItem.FromSeed(seed, Truncation, label)
            : GenerationItem.FromLatent(_latents.Slice(index * _latentDim, _latentDim), label);
    }

    private static int ResolveCount(GenerationSpec spec, int latentDim, string model, ModelSignature signature)
    {
        if (!spec.Latents.IsEmpty)
        {
            if (signature.NoiseInputs.Count > 0)
            {
                throw new InvalidFieldException("latents", $"model '{model}' also draws noise inputs from the seed; give seeds instead of explicit latents");
            }

            if (spec.Latents.Length % latentDim != 0)
            {
                throw new InvalidFieldException("latents", $"length {spec.Latents.Length} is not a multiple of latent_dim {latentDim}");
            }

            var span = spec.Latents.Span;
            for (var i = 0; i < span.Length; i++)
            {
                if (!float.IsFinite(span[i]))
                {
                    throw new InvalidFieldException($"latents[{i}]", $"{span[i]} is not a finite number");
                }
            }

            return Implied(spec.Count, spec.Latents.Length / latentDim, "latent vectors");
        }

        if (spec.Seeds.Count > 0)
        {
            return Implied(spec.Count, spec.Seeds.Count, "values in seeds");
        }

        return spec.Count == 0 ? 1 : spec.Count;
    }

    private static int Implied(int count, int implied, string what)
    {
        if (count != 0 && count != implied)
        {
            throw new InvalidFieldException("count", $"{count} does not match the {implied} {what} (give 0 or {implied})");
        }

        return implied;
    }

    private static void CheckLabels(string model, ModelSignature signature, IReadOnlyList<int> labels, int count)
    {
        if (signature.Classes.Count == 0)
        {
            if (labels.Count > 0)
            {
                throw new InvalidFieldException("labels", $"model '{model}' is {signature.Kind.ToManifestName()} and takes no labels");
            }

            return;
        }

        if (labels.Count > 1 && labels.Count != count)
        {
            throw new InvalidFieldException("labels", $"expected 0, 1 or {count} values (one per image), got {labels.Count}");
        }

        for (var i = 0; i < labels.Count; i++)
        {
            if (labels[i] < 0 || labels[i] >= signature.Classes.Count)
            {
                throw new InvalidFieldException($"labels[{i}]", $"{labels[i]} is outside 0..{signature.Classes.Count - 1} (classes of model '{model}')");
            }
        }
    }
}
