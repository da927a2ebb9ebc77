using SkiaSharp;

namespace GanInference.Cli.Imaging;

/// <summary>Lays images out on a grid (a contact sheet) and encodes it as PNG.</summary>
internal static class ContactSheet
{
    private const int Padding = 2;

    /// <param name="columns">Images per row; 0 picks a near-square layout.</param>
    /// <param name="scale">Integer upscaling with nearest-neighbour sampling, so small digits stay crisp.</param>
    public static byte[] ComposePng(IReadOnlyList<SKBitmap> images, int columns, int scale)
    {
        if (images.Count == 0)
        {
            throw new ArgumentException("a contact sheet needs at least one image.", nameof(images));
        }

        if (columns <= 0)
        {
            columns = (int)Math.Ceiling(Math.Sqrt(images.Count));
        }

        columns = Math.Min(columns, images.Count);
        var rows = (images.Count + columns - 1) / columns;
        var cellWidth = images.Max(i => i.Width) * scale;
        var cellHeight = images.Max(i => i.Height) * scale;
        var width = (columns * (cellWidth + Padding)) + Padding;
        var height = (rows * (cellHeight + Padding)) + Padding;

        using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new CliException($"cannot allocate a {width}x{height} contact sheet.", ExitCodes.Failure);
        var canvas = surface.Canvas;
        canvas.Clear(new SKColor(40, 40, 40));
        var sampling = new SKSamplingOptions(SKFilterMode.Nearest);
        for (var i = 0; i < images.Count; i++)
        {
            var x = Padding + ((i % columns) * (cellWidth + Padding));
            var y = Padding + ((i / columns) * (cellHeight + Padding));
            using var image = SKImage.FromBitmap(images[i]);
            canvas.DrawImage(image, SKRect.Create(x, y, images[i].Width * scale, images[i].Height * scale), sampling);
        }

        using var snapshot = surface.Snapshot();
        using var png = snapshot.Encode(SKEncodedImageFormat.Png, 100);
        return png.ToArray();
    }
}
