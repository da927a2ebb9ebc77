using SkiaSharp;

namespace GanInference.Trainers.Imaging;

/// <summary>One column of an <see cref="ImageTable"/>: images back to back, CHW, values in [-1, 1].</summary>
public sealed record ImageColumn(float[] Pixels, int Channels);

/// <summary>
/// Lays out image-to-image results as a table, one row per example and one column per stage
/// (input, output, target…), grey (1 channel) or RGB (3 channels), as one RGB PNG.
/// </summary>
public static class ImageTable
{
    public static byte[] EncodePng(IReadOnlyList<ImageColumn> columns, int imageSize, int scale = 2, int gap = 2)
    {
        if (columns.Count == 0)
        {
            throw new ArgumentException("at least one column is needed.", nameof(columns));
        }

        var area = imageSize * imageSize;
        var rows = columns[0].Pixels.Length / (columns[0].Channels * area);
        foreach (var column in columns)
        {
            if (column.Channels is not (1 or 3) || column.Pixels.Length != rows * column.Channels * area)
            {
                throw new ArgumentException($"every column needs {rows} images of 1 or 3 channels, {imageSize}x{imageSize}.", nameof(columns));
            }
        }

        var cell = imageSize + gap;
        var width = ((columns.Count * cell) + gap) * scale;
        var height = ((rows * cell) + gap) * scale;
        using var bitmap = new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var target = bitmap.GetPixelSpan();
        for (var i = 0; i < target.Length; i += 4)
        {
            target[i] = target[i + 1] = target[i + 2] = 96; // mid-grey gaps: distinct from black and from paper
            target[i + 3] = 255;
        }

        for (var c = 0; c < columns.Count; c++)
        {
            var column = columns[c];
            for (var row = 0; row < rows; row++)
            {
                var image = column.Pixels.AsSpan(row * column.Channels * area, column.Channels * area);
                var originX = (gap + (c * cell)) * scale;
                var originY = (gap + (row * cell)) * scale;
                for (var y = 0; y < imageSize; y++)
                {
                    for (var x = 0; x < imageSize; x++)
                    {
                        var p = (y * imageSize) + x;
                        var r = ImageGrid.ToByte(image[p]);
                        var g = column.Channels == 3 ? ImageGrid.ToByte(image[area + p]) : r;
                        var b = column.Channels == 3 ? ImageGrid.ToByte(image[(2 * area) + p]) : r;
                        for (var dy = 0; dy < scale; dy++)
                        {
                            for (var dx = 0; dx < scale; dx++)
                            {
                                var offset = ((originY + (y * scale) + dy) * bitmap.RowBytes) + ((originX + (x * scale) + dx) * 4);
                                target[offset] = r;
                                target[offset + 1] = g;
                                target[offset + 2] = b;
                            }
                        }
                    }
                }
            }
        }

        using var data = bitmap.Encode(SKEncodedImageFormat.Png, 100);
        return data.ToArray();
    }
}
