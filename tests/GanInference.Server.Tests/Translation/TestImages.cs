using System.Runtime.InteropServices;
using Google.Protobuf;
using SkiaSharp;

namespace GanInference.Server.Tests.Translation;

/// <summary>Input images for the translate tests: deterministic pixel patterns, encoded by Skia like a client would.</summary>
internal static class TestImages
{
    /// <summary>Grey HWC bytes with a pattern that differs in every pixel of an 8×8 image.</summary>
    public static byte[] GreyPixels(int width, int height, int salt = 0)
    {
        var pixels = new byte[width * height];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(((i * 37) + (salt * 11) + 5) % 256);
        }

        return pixels;
    }

    /// <summary>RGB HWC bytes, channels differing from each other.</summary>
    public static byte[] RgbPixels(int width, int height, int salt = 0)
    {
        var pixels = new byte[width * height * 3];
        for (var i = 0; i < pixels.Length; i++)
        {
            pixels[i] = (byte)(((i * 53) + (salt * 7) + ((i % 3) * 90)) % 256);
        }

        return pixels;
    }

    public static byte[] Png(byte[] hwc, int width, int height, int channels) => Encode(hwc, width, height, channels, SKEncodedImageFormat.Png, 100);

    public static byte[] Jpeg(byte[] hwc, int width, int height, int channels, int quality = 95) => Encode(hwc, width, height, channels, SKEncodedImageFormat.Jpeg, quality);

    /// <summary>What Skia decodes from an encoded image, as HWC bytes (RGB for colour images).</summary>
    public static byte[] DecodeRgb(byte[] encoded)
    {
        using var bitmap = SKBitmap.Decode(encoded, new SKImageInfo(0, 0) { ColorType = SKColorType.Rgba8888, AlphaType = SKAlphaType.Unpremul })
            ?? SKBitmap.Decode(encoded);
        using var rgba = bitmap.Copy(SKColorType.Rgba8888);
        var bytes = rgba.Bytes;
        var rgb = new byte[rgba.Width * rgba.Height * 3];
        for (int p = 0, q = 0; q < rgb.Length; p += 4, q += 3)
        {
            (rgb[q], rgb[q + 1], rgb[q + 2]) = (bytes[p], bytes[p + 1], bytes[p + 2]);
        }

        return rgb;
    }

    /// <summary>Pixel bytes to the model's [-1, 1] range: 2·b/255 − 1.</summary>
    public static float ToRange(byte value) => (2f * value / 255f) - 1f;

    public static float[] Floats(ByteString data) => MemoryMarshal.Cast<byte, float>(data.Span).ToArray();

    public static ByteString RawF32(float[] values) => ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan()));

    private static byte[] Encode(byte[] hwc, int width, int height, int channels, SKEncodedImageFormat format, int quality)
    {
        var grey = channels == 1;
        var info = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        var pixels = grey ? hwc : new byte[width * height * 4];
        if (!grey)
        {
            for (int p = 0, q = 0; p < width * height; p++, q += 3)
            {
                (pixels[p * 4], pixels[(p * 4) + 1], pixels[(p * 4) + 2], pixels[(p * 4) + 3]) = (hwc[q], hwc[q + 1], hwc[q + 2], 255);
            }
        }

        using var image = SKImage.FromPixelCopy(info, pixels);
        using var data = image.Encode(format, quality);
        return data.ToArray();
    }
}
