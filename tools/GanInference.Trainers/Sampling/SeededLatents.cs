using GanInference.Core.Sampling;

namespace GanInference.Trainers.Sampling;

/// <summary>Latent batches drawn exactly as the server draws them (the determinism contract).</summary>
public static class SeededLatents
{
    /// <summary>Row i is the latent of <paramref name="seeds"/>[i]: [seeds.Count × dimension] row-major.</summary>
    public static float[] Create(IReadOnlyList<ulong> seeds, int dimension, float truncation = 0f)
    {
        var latents = new float[seeds.Count * dimension];
        for (var i = 0; i < seeds.Count; i++)
        {
            LatentSampler.Fill(seeds[i], truncation, latents.AsSpan(i * dimension, dimension));
        }

        return latents;
    }

    /// <summary>The seeds and labels of a sample grid: for conditional models one row per class, the same seeds in every row.</summary>
    public static (ulong[] Seeds, long[]? Labels) GridLayout(bool conditional, int classCount, int columns, int rows)
    {
        if (!conditional)
        {
            return (Enumerable.Range(0, rows * columns).Select(i => (ulong)i).ToArray(), null);
        }

        var seeds = new ulong[classCount * columns];
        var labels = new long[classCount * columns];
        for (var row = 0; row < classCount; row++)
        {
            for (var column = 0; column < columns; column++)
            {
                seeds[(row * columns) + column] = (ulong)column;
                labels[(row * columns) + column] = row;
            }
        }

        return (seeds, labels);
    }
}
