using SkiaSharp;

namespace GanInference.Trainers.Imaging;

/// <summary>Tiles single-channel images with values in [-1, 1] into one greyscale PNG.</summary>
public static class ImageGrid
{
    /// <param name="pixels">Images back to back, row-major, <paramref name="imageSize"/>² values each.</param>
    /// <param name="columns">Images per row.</param>
    /// <param name="imageSize">Side of each (square) image.</param>
    /// <param name="scale">Nearest-neighbour upscaling, so 28×28 digits are visible.</param>
    /// <param name="gap">Dark pixels between tiles (before scaling).</param>
    public static byte[] EncodePng(ReadOnlySpan<float> pixels, int columns, int imageSize = 28, int scale = 2, int gap = 2)
    {
        var area = imageSize * imageSize;
        if (columns <= 0 || pixels.Length == 0 || pixels.Length % area != 0)
        {
            throw new ArgumentException($"expected a positive number of {imageSize}x{imageSize} images and columns > 0.", nameof(pixels));
        }

        var count = pixels.Length / area;
        var rows = (count + columns - 1) / columns;
        var cell = imageSize + gap;
        var width = ((columns * cell) + gap) * scale;
        var height = ((rows * cell) + gap) * scale;

        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque));
        var target = bitmap.GetPixelSpan();
        target.Fill(32); // dark grey gaps, distinct from the black digit background
        for (var index = 0; index < count; index++)
        {
            var originX = (gap + ((index % columns) * cell)) * scale;
            var originY = (gap + ((index / columns) * cell)) * scale;
            var image = pixels.Slice(index * area, area);
            for (var y = 0; y < imageSize; y++)
            {
                for (var x = 0; x < imageSize; x++)
                {
                    var grey = ToByte(image[(y * imageSize) + x]);
                    for (var dy = 0; dy < scale; dy++)
                    {
                        target.Slice(((originY + (y * scale) + dy) * bitmap.RowBytes) + originX + (x * scale), scale).Fill(grey);
                    }
                }
            }
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }

    /// <summary>[-1, 1] → 0..255, rounded, clamped.</summary>
    public static byte ToByte(float value) => (byte)Math.Clamp(MathF.Round((value + 1f) * 127.5f), 0f, 255f);
}
