using GanInference.Api.V1;
using SkiaSharp;

namespace GanInference.Cli.Imaging;

/// <summary>Turns a <see cref="GeneratedImage"/> from the server into a Skia bitmap.</summary>
internal static class ImageBitmaps
{
    public static SKBitmap FromGenerated(GeneratedImage image)
    {
        switch (image.Format)
        {
            case ImageFormat.Png:
            case ImageFormat.Jpeg:
                return SKBitmap.Decode(image.Data.Span)
                    ?? throw new CliException($"image {image.Index} from the server is not a decodable {image.Format}.", ExitCodes.Failure);
            case ImageFormat.RawU8:
                return FromRawU8(image);
            default:
                throw new CliException($"image {image.Index}: {image.Format} cannot be drawn; ask for png, jpeg or raw-u8.");
        }
    }

    /// <summary>HWC uint8 with 1 (grey) or 3 (RGB) channels, as RAW_U8 defines.</summary>
    private static SKBitmap FromRawU8(GeneratedImage image)
    {
        int width = checked((int)image.Width), height = checked((int)image.Height), channels = checked((int)image.Channels);
        var source = image.Data.Span;
        if (channels is not (1 or 3) || source.Length != width * height * channels)
        {
            throw new CliException(
                $"image {image.Index}: RAW_U8 data of {source.Length} bytes does not match {width}x{height}x{channels}.", ExitCodes.Failure);
        }

        var bitmap = channels == 1
            ? new SKBitmap(new SKImageInfo(width, height, SKColorType.Gray8, SKAlphaType.Opaque))
            : new SKBitmap(new SKImageInfo(width, height, SKColorType.Rgba8888, SKAlphaType.Opaque));
        var pixels = bitmap.GetPixelSpan();
        var rowBytes = bitmap.RowBytes;
        for (var y = 0; y < height; y++)
        {
            var sourceRow = source.Slice(y * width * channels, width * channels);
            var targetRow = pixels.Slice(y * rowBytes);
            if (channels == 1)
            {
                sourceRow.CopyTo(targetRow);
                continue;
            }

            for (var x = 0; x < width; x++)
            {
                targetRow[(x * 4) + 0] = sourceRow[(x * 3) + 0];
                targetRow[(x * 4) + 1] = sourceRow[(x * 3) + 1];
                targetRow[(x * 4) + 2] = sourceRow[(x * 3) + 2];
                targetRow[(x * 4) + 3] = 255;
            }
        }

        return bitmap;
    }
}
