namespace GanInference.Trainers.Data;

/// <summary>
/// The unpaired CycleGAN domains (docs/image-to-image.md). Domain A: grey MNIST digits, white on
/// black, 64×64, 1 channel. Domain B: digits drawn in dark-blue ink on light paper, 3 channels:
/// w = 3×3 binomial blur of the 64×64 digit, colour = paper·(1 − w) + ink·w, plus per-pixel grain
/// (the same offset on R, G and B) uniform in ±<see cref="GrainAmplitude"/> from a seeded
/// SplitMix64 stream, clamped to [0, 1]. A and B are built from disjoint digits.
/// </summary>
public static class InkDigits
{
    public const int ChannelsA = 1;
    public const int ChannelsB = 3;
    public const float GrainAmplitude = 0.03f;

    /// <summary>Seed of the grain; part of the data definition.</summary>
    public const ulong GrainSeed = 4;

    /// <summary>Paper colour (235, 228, 210) / 255.</summary>
    public static readonly float[] Paper = [235f / 255f, 228f / 255f, 210f / 255f];

    /// <summary>Ink colour (30, 40, 120) / 255.</summary>
    public static readonly float[] Ink = [30f / 255f, 40f / 255f, 120f / 255f];

    private const ulong Gamma = 0x9E3779B97F4A7C15UL;

    /// <summary>Domain A: MNIST digits <paramref name="start"/>.. as 64×64 grey.</summary>
    public static ImageSet DomainA(MnistDataset source, int start, int count)
    {
        OutlineDigits.CheckRange(source, start, count);
        var area = DigitImaging.Size * DigitImaging.Size;
        var pixels = new float[count * area];
        Parallel.For(0, count, i => OutlineDigits.Upscale(source, start + i, pixels.AsSpan(i * area, area)));
        return new ImageSet(ChannelsA, pixels, source.Labels.AsSpan(start, count).ToArray(), Enumerable.Range(start, count).ToArray());
    }

    /// <summary>Domain B: MNIST digits <paramref name="start"/>.. rendered as ink on paper.</summary>
    public static ImageSet DomainB(MnistDataset source, int start, int count)
    {
        OutlineDigits.CheckRange(source, start, count);
        var area = DigitImaging.Size * DigitImaging.Size;
        var pixels = new float[count * ChannelsB * area];
        Parallel.For(0, count, i =>
        {
            var grey = new float[area];
            OutlineDigits.Upscale(source, start + i, grey);
            Render(grey, start + i, pixels.AsSpan(i * ChannelsB * area, ChannelsB * area));
        });
        return new ImageSet(ChannelsB, pixels, source.Labels.AsSpan(start, count).ToArray(), Enumerable.Range(start, count).ToArray());
    }

    /// <summary>
    /// Renders a 64×64 grey digit (white on black, [0, 1]) as ink on paper, planar RGB. The grain of
    /// pixel (y, x) of MNIST image i is the k-th output of SplitMix64 seeded with
    /// <see cref="GrainSeed"/>, k = 1 + i·4096 + y·64 + x, mapped to u = (output ≫ 11)·2⁻⁵³ and
    /// offset = (2u − 1)·<see cref="GrainAmplitude"/>.
    /// </summary>
    public static void Render(ReadOnlySpan<float> grey, int sourceIndex, Span<float> rgb)
    {
        var area = DigitImaging.Size * DigitImaging.Size;
        Span<float> weight = stackalloc float[area];
        DigitImaging.Blur3x3(grey, DigitImaging.Size, weight);
        for (var p = 0; p < area; p++)
        {
            var k = 1UL + ((ulong)sourceIndex * (ulong)area) + (ulong)p;
            var u = (SplitMix64(GrainSeed + (k * Gamma)) >> 11) * (1.0 / (1UL << 53));
            var grain = (float)((2 * u) - 1) * GrainAmplitude;
            for (var c = 0; c < ChannelsB; c++)
            {
                rgb[(c * area) + p] = Math.Clamp((Paper[c] * (1 - weight[p])) + (Ink[c] * weight[p]) + grain, 0f, 1f);
            }
        }
    }

    /// <summary>
    /// The inverse used to read a domain-B image as a digit: the projection of each pixel onto the
    /// paper → ink line, clamped to [0, 1] (1 = full ink = white in domain A).
    /// </summary>
    public static void InkWeight(ReadOnlySpan<float> rgb, Span<float> grey)
    {
        var area = grey.Length;
        var (dr, dg, db) = (Ink[0] - Paper[0], Ink[1] - Paper[1], Ink[2] - Paper[2]);
        var norm = (dr * dr) + (dg * dg) + (db * db);
        for (var p = 0; p < area; p++)
        {
            var projection = (((rgb[p] - Paper[0]) * dr) + ((rgb[area + p] - Paper[1]) * dg) + ((rgb[(2 * area) + p] - Paper[2]) * db)) / norm;
            grey[p] = Math.Clamp(projection, 0f, 1f);
        }
    }

    /// <summary>SplitMix64's output function (Steele, Lea, Flood 2014) applied to a state.</summary>
    internal static ulong SplitMix64(ulong state)
    {
        var z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
