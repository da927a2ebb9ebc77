namespace GanInference.Trainers.Data;

/// <summary>
/// The paired Pix2Pix data (docs/image-to-image.md): the target is the MNIST digit scaled to
/// 64×64 (bilinear, half-pixel centres, values in [0, 1]); the input is its 3×3 morphological
/// outline (max − min over each pixel's 3×3 neighbourhood, edges replicated).
/// </summary>
public static class OutlineDigits
{
    public const int Channels = 1;

    /// <summary>Inputs (outlines) and targets (digits) of MNIST images <paramref name="start"/>.. <paramref name="start"/>+<paramref name="count"/>-1.</summary>
    public static (ImageSet Outlines, ImageSet Digits) Create(MnistDataset source, int start, int count)
    {
        CheckRange(source, start, count);
        var area = DigitImaging.Size * DigitImaging.Size;
        var digits = new float[count * area];
        var outlines = new float[count * area];
        var labels = new byte[count];
        var indices = new int[count];
        Parallel.For(0, count, i =>
        {
            var digit = digits.AsSpan(i * area, area);
            Upscale(source, start + i, digit);
            OutlineOf(digit, outlines.AsSpan(i * area, area));
            labels[i] = source.Labels[start + i];
            indices[i] = start + i;
        });
        return (new ImageSet(Channels, outlines, labels, indices), new ImageSet(Channels, digits, labels, indices));
    }

    /// <summary>The model input for a 64×64 digit in [0, 1].</summary>
    public static void OutlineOf(ReadOnlySpan<float> digit, Span<float> outline) => DigitImaging.Outline(digit, DigitImaging.Size, outline);

    /// <summary>MNIST image <paramref name="index"/> (bytes / 255) resized to 64×64 by bilinear interpolation.</summary>
    public static void Upscale(MnistDataset source, int index, Span<float> destination)
    {
        const int side = MnistDataset.ImageSize;
        Span<float> unit = stackalloc float[side * side];
        var bytes = source.Pixels.AsSpan(index * side * side, side * side);
        for (var i = 0; i < unit.Length; i++)
        {
            unit[i] = bytes[i] / 255f;
        }

        DigitImaging.ResizeBilinear(unit, side, destination, DigitImaging.Size);
    }

    internal static void CheckRange(MnistDataset source, int start, int count)
    {
        if (start < 0 || count <= 0 || start + count > source.Count)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"digits {start}..{start + count - 1} are outside the {source.Count} digits of the data set.");
        }
    }
}
