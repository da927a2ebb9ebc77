using SkiaSharp;

namespace GanInference.Tests.TestModels;

/// <summary>A decoded 8-bit image, pixels in HWC order.</summary>
public sealed record DecodedImage(int Width, int Height, int Channels, byte[] Pixels);

/// <summary>
/// Decodes the PNG and JPEG replies the tests receive, as any client would, with Skia (the server decodes uploads
/// with <c>SourceImageDecoder</c>; nothing in the product decodes its own replies).
/// </summary>
public static class ImageFiles
{
    /// <summary>Pixels <see cref="Decode"/> accepts by default (4096 x 4096).</summary>
    public const long DefaultMaxPixels = 4096L * 4096L;

    /// <summary>Decodes a PNG or JPEG to 8-bit HWC pixels: grey images give one channel, colour ones three.</summary>
    /// <param name="encoded">The encoded bytes.</param>
    /// <param name="maxPixels">
    /// Largest width x height accepted. Checked from the header before any pixel memory is allocated, so a small
    /// file that claims to be huge (a decompression bomb) costs nothing.
    /// </param>
    /// <exception cref="ArgumentException">The bytes are not a decodable image, or the image is larger than <paramref name="maxPixels"/>.</exception>
    public static DecodedImage Decode(ReadOnlySpan<byte> encoded, long maxPixels = DefaultMaxPixels)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data) ?? throw new ArgumentException("not a PNG or JPEG image", nameof(encoded));
        // Skia also reads BMP, GIF, WBMP, WebP and ICO; a reply is only ever PNG or JPEG, so anything else is a wrong reply.
        if (codec.EncodedFormat is not (SKEncodedImageFormat.Png or SKEncodedImageFormat.Jpeg))
        {
            throw new ArgumentException($"not a PNG or JPEG image (Skia reads it as {codec.EncodedFormat})", nameof(encoded));
        }

        var (width, height) = (codec.Info.Width, codec.Info.Height);
        if (width <= 0 || height <= 0 || (long)width * height > maxPixels)
        {
            throw new ArgumentException($"image of {width}x{height} pixels is outside the accepted size (at most {maxPixels} pixels)", nameof(encoded));
        }

        var grey = codec.Info.ColorType == SKColorType.Gray8;
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var decoded = new byte[info.BytesSize];
        var result = codec.GetPixels(info, decoded);
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
        {
            throw new ArgumentException($"image could not be decoded: {result}", nameof(encoded));
        }

        if (grey)
        {
            return new DecodedImage(info.Width, info.Height, 1, decoded);
        }

        var rgb = new byte[info.Width * info.Height * 3];
        for (int p = 0, q = 0; p < decoded.Length; p += 4, q += 3)
        {
            rgb[q] = decoded[p];
            rgb[q + 1] = decoded[p + 1];
            rgb[q + 2] = decoded[p + 2];
        }

        return new DecodedImage(info.Width, info.Height, 3, rgb);
    }
}
