namespace GanInference.Trainers.Data;

/// <summary>
/// The pixel operations that define the image-to-image data (docs/image-to-image.md), in plain C#
/// so any client can reproduce them exactly: bilinear resizing with half-pixel centres (PyTorch's
/// <c>interpolate(mode='bilinear', align_corners=False)</c>), area downsizing (PyTorch's
/// <c>mode='area'</c>), the 3×3 morphological outline and a 3×3 binomial blur. Single-channel
/// images, row-major, values in [0, 1].
/// </summary>
public static class DigitImaging
{
    /// <summary>Side of every image-to-image tensor.</summary>
    public const int Size = 64;

    /// <summary>
    /// Bilinear resize, align_corners=false: the source coordinate of destination pixel d is
    /// max(0, (d + 0.5)·in/out − 0.5); neighbours beyond the last pixel clamp to it.
    /// </summary>
    public static void ResizeBilinear(ReadOnlySpan<float> source, int sourceSize, Span<float> destination, int destinationSize)
    {
        CheckLengths(source, sourceSize, destination, destinationSize);
        var scale = (float)sourceSize / destinationSize;
        for (var y = 0; y < destinationSize; y++)
        {
            var (y0, y1, wy) = SourceSpan(y, scale, sourceSize);
            for (var x = 0; x < destinationSize; x++)
            {
                var (x0, x1, wx) = SourceSpan(x, scale, sourceSize);
                var top = ((1 - wx) * source[(y0 * sourceSize) + x0]) + (wx * source[(y0 * sourceSize) + x1]);
                var bottom = ((1 - wx) * source[(y1 * sourceSize) + x0]) + (wx * source[(y1 * sourceSize) + x1]);
                destination[(y * destinationSize) + x] = ((1 - wy) * top) + (wy * bottom);
            }
        }
    }

    /// <summary>
    /// Area (box) downsizing as adaptive average pooling: destination pixel d averages source
    /// pixels floor(d·in/out) … ceil((d + 1)·in/out) − 1 on each axis. Used to feed 64×64 outputs to
    /// the 28×28 classifier.
    /// </summary>
    public static void ResizeArea(ReadOnlySpan<float> source, int sourceSize, Span<float> destination, int destinationSize)
    {
        CheckLengths(source, sourceSize, destination, destinationSize);
        for (var y = 0; y < destinationSize; y++)
        {
            var y0 = y * sourceSize / destinationSize;
            var y1 = (((y + 1) * sourceSize) + destinationSize - 1) / destinationSize;
            for (var x = 0; x < destinationSize; x++)
            {
                var x0 = x * sourceSize / destinationSize;
                var x1 = (((x + 1) * sourceSize) + destinationSize - 1) / destinationSize;
                var sum = 0f;
                for (var sy = y0; sy < y1; sy++)
                {
                    for (var sx = x0; sx < x1; sx++)
                    {
                        sum += source[(sy * sourceSize) + sx];
                    }
                }

                destination[(y * destinationSize) + x] = sum / ((y1 - y0) * (x1 - x0));
            }
        }
    }

    /// <summary>
    /// The outline: for each pixel, the maximum over its 3×3 neighbourhood minus the minimum over
    /// it (a morphological gradient); pixels beyond the border replicate the edge pixel.
    /// </summary>
    public static void Outline(ReadOnlySpan<float> image, int size, Span<float> destination)
    {
        CheckLengths(image, size, destination, size);
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var max = float.MinValue;
                var min = float.MaxValue;
                for (var dy = -1; dy <= 1; dy++)
                {
                    var row = Math.Clamp(y + dy, 0, size - 1) * size;
                    for (var dx = -1; dx <= 1; dx++)
                    {
                        var value = image[row + Math.Clamp(x + dx, 0, size - 1)];
                        max = Math.Max(max, value);
                        min = Math.Min(min, value);
                    }
                }

                destination[(y * size) + x] = max - min;
            }
        }
    }

    /// <summary>3×3 binomial blur, kernel [1 2 1]ᵀ[1 2 1] / 16; the border replicates the edge pixel.</summary>
    public static void Blur3x3(ReadOnlySpan<float> image, int size, Span<float> destination)
    {
        CheckLengths(image, size, destination, size);
        ReadOnlySpan<float> weights = [0.25f, 0.5f, 0.25f];
        for (var y = 0; y < size; y++)
        {
            for (var x = 0; x < size; x++)
            {
                var sum = 0f;
                for (var dy = -1; dy <= 1; dy++)
                {
                    var row = Math.Clamp(y + dy, 0, size - 1) * size;
                    for (var dx = -1; dx <= 1; dx++)
                    {
                        sum += weights[dy + 1] * weights[dx + 1] * image[row + Math.Clamp(x + dx, 0, size - 1)];
                    }
                }

                destination[(y * size) + x] = sum;
            }
        }
    }

    /// <summary>The two source pixels of a destination coordinate and the weight of the second.</summary>
    private static (int First, int Second, float Weight) SourceSpan(int destination, float scale, int sourceSize)
    {
        var position = Math.Max(0f, ((destination + 0.5f) * scale) - 0.5f);
        var first = Math.Min((int)position, sourceSize - 1);
        var second = Math.Min(first + 1, sourceSize - 1);
        return (first, second, position - first);
    }

    private static void CheckLengths(ReadOnlySpan<float> source, int sourceSize, Span<float> destination, int destinationSize)
    {
        if (source.Length != sourceSize * sourceSize)
        {
            throw new ArgumentException($"source holds {source.Length} values, expected {sourceSize}x{sourceSize}.", nameof(source));
        }

        if (destination.Length != destinationSize * destinationSize)
        {
            throw new ArgumentException($"destination holds {destination.Length} values, expected {destinationSize}x{destinationSize}.", nameof(destination));
        }
    }
}
