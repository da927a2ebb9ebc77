using System.Buffers;

namespace GanInference.Core.Imaging;

/// <summary>
/// Channel conversion and resizing of planar float images (docs/translate.md has the exact formulas):
/// grey → RGB copies the plane; RGB → grey is ITU-R BT.601 luma 0.299 R + 0.587 G + 0.114 B; resizing is
/// bilinear with half-pixel centres, the same as PyTorch's <c>interpolate(mode="bilinear", align_corners=False,
/// antialias=False)</c>. All are linear, so they work the same in [0, 1] or in a model's range.
/// </summary>
public static class ImageResampler
{
    /// <summary>BT.601 luma weights of R, G and B.</summary>
    public const float LumaR = 0.299f;

    /// <inheritdoc cref="LumaR"/>
    public const float LumaG = 0.587f;

    /// <inheritdoc cref="LumaR"/>
    public const float LumaB = 0.114f;

    /// <summary>
    /// Converts <paramref name="source"/> to <paramref name="channels"/> channels and
    /// <paramref name="height"/> × <paramref name="width"/> pixels, writing into <paramref name="destination"/>
    /// (C·H·W values). The source is not changed.
    /// </summary>
    public static void Convert(in PlanarImage source, int channels, int height, int width, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfNotEqual(destination.Length, channels * height * width, nameof(destination));
        if (source.Channels == channels)
        {
            Resize(source.Span, channels, source.Height, source.Width, height, width, destination);
            return;
        }

        // Convert channels at the source size first (fewer pixels when shrinking), then resize.
        var plane = source.Height * source.Width;
        var converted = ArrayPool<float>.Shared.Rent(channels * plane);
        try
        {
            ConvertChannels(source.Span, source.Channels, plane, channels, converted.AsSpan(0, channels * plane));
            Resize(converted.AsSpan(0, channels * plane), channels, source.Height, source.Width, height, width, destination);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(converted);
        }
    }

    /// <summary>grey → RGB (plane copied) or RGB → grey (BT.601 luma); equal counts copy.</summary>
    public static void ConvertChannels(ReadOnlySpan<float> source, int sourceChannels, int plane, int channels, Span<float> destination)
    {
        if (sourceChannels == channels)
        {
            source[..(channels * plane)].CopyTo(destination);
        }
        else if (sourceChannels == 1 && channels == 3)
        {
            for (var c = 0; c < 3; c++)
            {
                source[..plane].CopyTo(destination.Slice(c * plane, plane));
            }
        }
        else if (sourceChannels == 3 && channels == 1)
        {
            var r = source[..plane];
            var g = source.Slice(plane, plane);
            var b = source.Slice(2 * plane, plane);
            for (var p = 0; p < plane; p++)
            {
                destination[p] = (LumaR * r[p]) + (LumaG * g[p]) + (LumaB * b[p]);
            }
        }
        else
        {
            throw new ArgumentException($"cannot convert {sourceChannels} channels to {channels}");
        }
    }

    /// <summary>
    /// Bilinear resize with half-pixel centres of each of <paramref name="channels"/> planes. For an output
    /// row y the source coordinate is s = max(0, (y + 0.5)·inH/outH − 0.5), y0 = floor(s), y1 = min(y0 + 1, inH − 1),
    /// weight s − y0; columns likewise. The same size copies.
    /// </summary>
    public static void Resize(ReadOnlySpan<float> source, int channels, int inHeight, int inWidth, int outHeight, int outWidth, Span<float> destination)
    {
        if (inHeight == outHeight && inWidth == outWidth)
        {
            source[..(channels * inHeight * inWidth)].CopyTo(destination);
            return;
        }

        Span<int> x0 = outWidth <= 1024 ? stackalloc int[outWidth] : new int[outWidth];
        Span<int> x1 = outWidth <= 1024 ? stackalloc int[outWidth] : new int[outWidth];
        Span<float> wx = outWidth <= 1024 ? stackalloc float[outWidth] : new float[outWidth];
        Taps(inWidth, outWidth, x0, x1, wx);
        var (inPlane, outPlane) = (inHeight * inWidth, outHeight * outWidth);
        var yScale = (double)inHeight / outHeight;
        for (var c = 0; c < channels; c++)
        {
            var input = source.Slice(c * inPlane, inPlane);
            var output = destination.Slice(c * outPlane, outPlane);
            for (var y = 0; y < outHeight; y++)
            {
                var (y0, y1, wy) = Tap(y, yScale, inHeight);
                var row0 = input.Slice(y0 * inWidth, inWidth);
                var row1 = input.Slice(y1 * inWidth, inWidth);
                var target = output.Slice(y * outWidth, outWidth);
                for (var x = 0; x < outWidth; x++)
                {
                    var top = ((1 - wx[x]) * row0[x0[x]]) + (wx[x] * row0[x1[x]]);
                    var bottom = ((1 - wx[x]) * row1[x0[x]]) + (wx[x] * row1[x1[x]]);
                    target[x] = ((1 - wy) * top) + (wy * bottom);
                }
            }
        }
    }

    private static void Taps(int inSize, int outSize, Span<int> lower, Span<int> upper, Span<float> weight)
    {
        var scale = (double)inSize / outSize;
        for (var i = 0; i < outSize; i++)
        {
            (lower[i], upper[i], weight[i]) = Tap(i, scale, inSize);
        }
    }

    private static (int Lower, int Upper, float Weight) Tap(int index, double scale, int inSize)
    {
        var s = Math.Max(0, ((index + 0.5) * scale) - 0.5);
        var lower = Math.Min((int)s, inSize - 1);
        var upper = Math.Min(lower + 1, inSize - 1);
        return (lower, upper, (float)(s - lower));
    }
}
