using System.Buffers;
using System.Buffers.Binary;
using GanInference.Core.Errors;
using GanInference.Core.Limits;
using SkiaSharp;

namespace GanInference.Core.Imaging;

/// <summary>
/// Turns an uploaded image (PNG, JPEG, raw uint8 HWC or raw float32 CHW) into planar float pixels in [0, 1]
/// at its own size and channel count. Untrusted input: sizes are checked from the header (or the declared raw
/// geometry) against the pixel limit before any pixel memory is allocated, and every refusal is an
/// <see cref="InvalidFieldException"/> naming <c>field</c> and the reason. Thread-safe.
/// </summary>
public static class SourceImageDecoder
{
    private static ReadOnlySpan<byte> PngMagic => [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A];

    private static ReadOnlySpan<byte> JpegMagic => [0xFF, 0xD8, 0xFF];

    /// <summary>Decodes one image.</summary>
    /// <param name="image">The upload.</param>
    /// <param name="field">The image's field in the API (e.g. <c>images[3]</c>), for error messages.</param>
    /// <param name="maxPixels">Largest width × height accepted.</param>
    /// <param name="limitName">Configuration key of <paramref name="maxPixels"/>, for the message.</param>
    /// <param name="rawF32Min">Value of RAW_F32 input that means black (the model's input range).</param>
    /// <param name="rawF32Max">Value of RAW_F32 input that means white.</param>
    /// <param name="minWidth">The smallest width the caller needs (0: full size). A JPEG at least twice as large in both
    /// directions is decoded at libjpeg's reduced scales (1/8 … 7/8, the IDCT skips what is dropped), at the smallest
    /// one no smaller than <paramref name="minWidth"/> × <paramref name="minHeight"/>; the caller still resamples.</param>
    /// <param name="minHeight">The smallest height the caller needs (0: full size).</param>
    /// <returns>Pooled planar pixels in [0, 1]; the caller returns them.</returns>
    /// <exception cref="InvalidFieldException">The image is corrupt, truncated, of an unsupported format or size.</exception>
    public static PlanarImage Decode(in SourceImage image, string field, long maxPixels, string limitName, float rawF32Min, float rawF32Max, int minWidth = 0, int minHeight = 0)
    {
        var data = image.Data.Span;
        if (data.IsEmpty)
        {
            throw new InvalidFieldException(field, "data is empty");
        }

        return image.Encoding switch
        {
            SourceEncoding.Auto => DecodeEncoded(data, Sniff(data) ?? throw new InvalidFieldException(field, $"not a PNG or JPEG image ({Describe(data)})"), field, maxPixels, limitName, minWidth, minHeight),
            SourceEncoding.Png or SourceEncoding.Jpeg => DecodeEncoded(data, CheckMagic(data, image.Encoding, field), field, maxPixels, limitName, minWidth, minHeight),
            SourceEncoding.RawU8 => DecodeRawU8(image, data, field, maxPixels, limitName),
            SourceEncoding.RawF32 => DecodeRawF32(image, data, field, maxPixels, limitName, rawF32Min, rawF32Max),
            _ => throw new InvalidFieldException(field, $"encoding {(int)image.Encoding} is not one of AUTO, PNG, JPEG, RAW_U8, RAW_F32"),
        };
    }

    /// <summary>
    /// The image's width and height from its header (PNG IHDR, JPEG SOF) or its declared raw geometry, without
    /// decoding; false when the header cannot be read (the decoder then reports why).
    /// </summary>
    public static bool TryReadSize(in SourceImage image, out int width, out int height)
    {
        (width, height) = (0, 0);
        var data = image.Data.Span;
        var encoding = image.Encoding == SourceEncoding.Auto ? Sniff(data) : image.Encoding;
        switch (encoding)
        {
            case SourceEncoding.RawU8 or SourceEncoding.RawF32:
                (width, height) = (image.Width, image.Height);
                return width > 0 && height > 0;
            case SourceEncoding.Png when data.Length >= 24 && data.StartsWith(PngMagic) && data[12..16].SequenceEqual("IHDR"u8):
                (width, height) = ((int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(data[16..]), int.MaxValue), (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(data[20..]), int.MaxValue));
                return true;
            case SourceEncoding.Jpeg:
                return TryReadJpegSize(data, out width, out height);
            default:
                return false;
        }
    }

    /// <summary>Walks the JPEG markers up to the first start-of-frame, which holds the size.</summary>
    private static bool TryReadJpegSize(ReadOnlySpan<byte> data, out int width, out int height)
    {
        (width, height) = (0, 0);
        var position = 2;
        while (position + 4 <= data.Length)
        {
            if (data[position] != 0xFF)
            {
                return false;
            }

            var marker = data[position + 1];
            if (marker == 0xFF)
            {
                position++; // fill byte
                continue;
            }

            if (marker is 0x01 or (>= 0xD0 and <= 0xD8))
            {
                position += 2; // markers without a length
                continue;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(data[(position + 2)..]);
            var isFrame = marker is >= 0xC0 and <= 0xCF && marker is not (0xC4 or 0xC8 or 0xCC);
            if (isFrame)
            {
                if (position + 9 > data.Length)
                {
                    return false;
                }

                height = BinaryPrimitives.ReadUInt16BigEndian(data[(position + 5)..]);
                width = BinaryPrimitives.ReadUInt16BigEndian(data[(position + 7)..]);
                return width > 0 && height > 0;
            }

            position += 2 + length;
        }

        return false;
    }

    private static SourceEncoding? Sniff(ReadOnlySpan<byte> data) =>
        data.StartsWith(PngMagic) ? SourceEncoding.Png : data.StartsWith(JpegMagic) ? SourceEncoding.Jpeg : null;

    private static SourceEncoding CheckMagic(ReadOnlySpan<byte> data, SourceEncoding declared, string field)
    {
        var actual = Sniff(data);
        if (actual != declared)
        {
            throw new InvalidFieldException(field, $"encoding is {declared.ToString().ToUpperInvariant()} but the data is not a {declared.ToString().ToUpperInvariant()} file ({Describe(data)})");
        }

        return declared;
    }

    /// <summary>Names what the bytes look like, so "not a PNG" tells the caller what they sent instead.</summary>
    private static string Describe(ReadOnlySpan<byte> data)
    {
        var kind = data switch
        {
            [0x89, 0x50, 0x4E, 0x47, ..] => "a damaged PNG signature",
            [(byte)'G', (byte)'I', (byte)'F', (byte)'8', ..] => "looks like GIF, which is not supported",
            [(byte)'B', (byte)'M', ..] => "looks like BMP, which is not supported",
            [(byte)'R', (byte)'I', (byte)'F', (byte)'F', _, _, _, _, (byte)'W', (byte)'E', (byte)'B', (byte)'P', ..] => "looks like WebP, which is not supported",
            [0x49, 0x49, 0x2A, 0x00, ..] or [0x4D, 0x4D, 0x00, 0x2A, ..] => "looks like TIFF, which is not supported",
            _ => "unrecognised content",
        };
        return $"{kind}; first bytes {Convert.ToHexString(data[..Math.Min(8, data.Length)])}; use RAW_U8 or RAW_F32 for pixels";
    }

    private static unsafe PlanarImage DecodeEncoded(ReadOnlySpan<byte> data, SourceEncoding format, string field, long maxPixels, string limitName, int minWidth, int minHeight)
    {
        var name = format == SourceEncoding.Png ? "PNG" : "JPEG";
        using var skData = SKData.CreateCopy(data);
        using var codec = SKCodec.Create(skData)
            ?? throw new InvalidFieldException(field, $"{name} header could not be read (corrupt or truncated)");
        var (width, height) = (codec.Info.Width, codec.Info.Height);

        // Checked from the header, before the pixels are allocated: a small file claiming to be huge costs nothing.
        RequestLimits.CheckImagePixels(field, width, height, maxPixels, limitName);
        if (format == SourceEncoding.Jpeg)
        {
            (width, height) = ScaledJpegSize(codec, width, height, minWidth, minHeight);
        }

        var grey = codec.Info.ColorType == SKColorType.Gray8;
        var info = new SKImageInfo(width, height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Unpremul);
        var bytes = ArrayPool<byte>.Shared.Rent(info.BytesSize);
        try
        {
            SKCodecResult result;
            fixed (byte* address = bytes)
            {
                result = codec.GetPixels(info, (nint)address);
            }

            // Skia fills the missing rows of a truncated file and says IncompleteInput; a partial image is not an answer.
            if (result != SKCodecResult.Success)
            {
                var reason = result == SKCodecResult.IncompleteInput ? "the data ends before the image does (truncated)" : $"decoding failed ({result})";
                throw new InvalidFieldException(field, $"{name} of {width}x{height}: {reason}");
            }

            var channels = grey ? 1 : 3;
            var planar = Rent(channels, height, width);
            var plane = width * height;
            var pixels = planar.Pixels;
            if (grey)
            {
                for (var p = 0; p < plane; p++)
                {
                    pixels[p] = bytes[p] / 255f;
                }
            }
            else
            {
                // RGBA → RGB planes; alpha is dropped (not composited), see docs/translate.md.
                for (var p = 0; p < plane; p++)
                {
                    pixels[p] = bytes[p * 4] / 255f;
                    pixels[plane + p] = bytes[(p * 4) + 1] / 255f;
                    pixels[(2 * plane) + p] = bytes[(p * 4) + 2] / 255f;
                }
            }

            return planar;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>
    /// The smallest of libjpeg's scales n/8 whose size is at least <paramref name="minWidth"/> × <paramref name="minHeight"/>;
    /// the full size when none is smaller than the image or no minimum is given. (Skia's GetScaledDimensions rounds a
    /// scale to the nearest eighth, possibly down, so each eighth is asked for exactly.)
    /// </summary>
    private static (int Width, int Height) ScaledJpegSize(SKCodec codec, int width, int height, int minWidth, int minHeight)
    {
        if (minWidth <= 0 || minHeight <= 0 || width < 2 * minWidth || height < 2 * minHeight)
        {
            return (width, height);
        }

        for (var eighths = 1; eighths < 8; eighths++)
        {
            var scaled = codec.GetScaledDimensions(eighths / 8f);
            if (scaled.Width >= minWidth && scaled.Height >= minHeight)
            {
                return scaled.Width < width ? (scaled.Width, scaled.Height) : (width, height);
            }
        }

        return (width, height);
    }

    private static void CheckRawGeometry(in SourceImage image, int data, int bytesPerValue, string field, long maxPixels, string limitName)
    {
        RequestLimits.CheckImagePixels(field, image.Width, image.Height, maxPixels, limitName);
        if (image.Channels is not (1 or 3))
        {
            throw new InvalidFieldException($"{field}.channels", $"{image.Channels} is not 1 (grey) or 3 (RGB)");
        }

        var expected = (long)image.Width * image.Height * image.Channels * bytesPerValue;
        if (data != expected)
        {
            throw new InvalidFieldException($"{field}.data", $"{data} bytes, but {image.Width}x{image.Height}x{image.Channels} at {bytesPerValue} byte(s) per value needs {expected}");
        }
    }

    private static PlanarImage DecodeRawU8(in SourceImage image, ReadOnlySpan<byte> data, string field, long maxPixels, string limitName)
    {
        CheckRawGeometry(image, data.Length, 1, field, maxPixels, limitName);
        var (channels, plane) = (image.Channels, image.Width * image.Height);
        var planar = Rent(channels, image.Height, image.Width);
        for (var c = 0; c < channels; c++)
        {
            var target = planar.Pixels.AsSpan(c * plane, plane);
            for (var p = 0; p < plane; p++)
            {
                target[p] = data[(p * channels) + c] / 255f;
            }
        }

        return planar;
    }

    private static PlanarImage DecodeRawF32(in SourceImage image, ReadOnlySpan<byte> data, string field, long maxPixels, string limitName, float min, float max)
    {
        CheckRawGeometry(image, data.Length, sizeof(float), field, maxPixels, limitName);
        var planar = Rent(image.Channels, image.Height, image.Width);
        var values = planar.Span;
        var scale = 1f / (max - min);
        for (var i = 0; i < values.Length; i++)
        {
            var value = BinaryPrimitives.ReadSingleLittleEndian(data.Slice(i * sizeof(float), sizeof(float)));
            if (!float.IsFinite(value))
            {
                planar.Return();
                throw new InvalidFieldException($"{field}.data", $"value {i} is {value}; raw float32 pixels must be finite");
            }

            values[i] = (value - min) * scale;
        }

        return planar;
    }

    private static PlanarImage Rent(int channels, int height, int width) =>
        new(ArrayPool<float>.Shared.Rent(channels * height * width), channels, height, width, IsPooled: true);
}
