using SkiaSharp;

namespace GanInference.Cli.Imaging;

/// <summary>Lays images out on a grid (a contact sheet) and encodes it as PNG or JPEG.</summary>
internal static class ContactSheet
{
    /// <summary>Most images on one sheet: every image is held in memory until the sheet is drawn.</summary>
    public const int MaxImages = 10_000;

    /// <summary>Most pixels of one sheet (about 400 MB as RGBA while it is drawn).</summary>
    public const long MaxPixels = 100_000_000;

    private const int Padding = 2;

    /// <summary>Refuses, before any request, a sheet that would hold too many images or pixels to draw in memory.</summary>
    public static void CheckSize(long images, int width, int height, int scale)
    {
        var pixels = images * (width * (long)scale + Padding) * (height * (long)scale + Padding);
        if (images > MaxImages || pixels > MaxPixels)
        {
            throw new CliException(
                $"--grid: {images:N0} images of {width}x{height} at --scale {scale} are too many for one contact sheet (at most {MaxImages:N0} images and {MaxPixels / 1_000_000} megapixels, "
                + "held in memory until the sheet is drawn); use --out FOLDER for one file per image (streamed), or ask for fewer images.");
        }
    }

    /// <summary>The sheet's file format from its name: .png, or .jpg/.jpeg; anything else is refused naming --grid.</summary>
    public static SKEncodedImageFormat FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => SKEncodedImageFormat.Png,
        ".jpg" or ".jpeg" => SKEncodedImageFormat.Jpeg,
        var other => throw new CliException($"--grid: '{path}' must end in .png or .jpg/.jpeg (the sheet is written in the format its name says){(other.Length == 0 ? "" : $", not {other}")}."),
    };

    /// <param name="columns">Images per row; 0 picks a near-square layout.</param>
    /// <param name="scale">Integer upscaling with nearest-neighbour sampling, so small digits stay crisp.</param>
    public static byte[] Compose(IReadOnlyList<SKBitmap> images, int columns, int scale, SKEncodedImageFormat format = SKEncodedImageFormat.Png)
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
        using var encoded = snapshot.Encode(format, format == SKEncodedImageFormat.Jpeg ? 95 : 100);
        return encoded.ToArray();
    }
}
