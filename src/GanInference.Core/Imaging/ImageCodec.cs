using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.InteropServices;
using SkiaSharp;

namespace GanInference.Core.Imaging;

/// <summary>
/// Turns a model's float CHW output into delivered bytes (PNG, JPEG, raw uint8 HWC, raw float32 CHW),
/// and decodes PNG/JPEG back to 8-bit pixels. Values map to bytes by
/// <c>round((v - min) / (max - min) * 255)</c>, clamped to 0..255. Thread-safe; called in parallel.
/// </summary>
public static class ImageCodec
{
    /// <summary>Encodes one image.</summary>
    /// <param name="chw">C·H·W floats in the model's range.</param>
    /// <param name="geometry">Its shape and range.</param>
    /// <param name="encoding">Target format.</param>
    /// <returns>The encoded bytes (exactly sized: they become the message payload).</returns>
    public static byte[] Encode(ReadOnlySpan<float> chw, ImageGeometry geometry, ImageEncoding encoding)
    {
        if (chw.Length != geometry.Length)
        {
            throw new ArgumentException($"expected {geometry.Length} values for {geometry.Channels}x{geometry.Height}x{geometry.Width}, got {chw.Length}", nameof(chw));
        }

        switch (encoding.Format)
        {
            case ImageFormatKind.RawF32:
                return EncodeRawF32(chw);
            case ImageFormatKind.RawU8:
                var raw = new byte[geometry.Length];
                ToHwcBytes(chw, geometry, raw);
                return raw;
            case ImageFormatKind.Png:
            case ImageFormatKind.Jpeg:
                return EncodeWithSkia(chw, geometry, encoding);
            default:
                throw new ArgumentOutOfRangeException(nameof(encoding), encoding.Format, "unknown image format");
        }
    }

    /// <summary>The bytes of one RAW_U8 or RAW_F32 image (fixed by the geometry); PNG and JPEG sizes depend on the pixels.</summary>
    public static int RawBytes(ImageGeometry geometry, ImageFormatKind format) => format switch
    {
        ImageFormatKind.RawU8 => geometry.Length,
        ImageFormatKind.RawF32 => geometry.Length * sizeof(float),
        _ => throw new ArgumentOutOfRangeException(nameof(format), format, "only RAW formats have a fixed size"),
    };

    /// <summary>Encodes one image as RAW_U8 or RAW_F32 into <paramref name="destination"/> (<see cref="RawBytes"/> long), allocating nothing.</summary>
    public static void EncodeRaw(ReadOnlySpan<float> chw, ImageGeometry geometry, ImageFormatKind format, Span<byte> destination)
    {
        if (chw.Length != geometry.Length || destination.Length != RawBytes(geometry, format))
        {
            throw new ArgumentException($"expected {geometry.Length} values and {RawBytes(geometry, format)} bytes for {geometry.Channels}x{geometry.Height}x{geometry.Width}, got {chw.Length} and {destination.Length}");
        }

        if (format == ImageFormatKind.RawU8)
        {
            ToHwcBytes(chw, geometry, destination);
        }
        else if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(chw).CopyTo(destination);
        }
        else
        {
            for (var i = 0; i < chw.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(destination[(i * sizeof(float))..], chw[i]);
            }
        }
    }

    /// <summary>Maps CHW floats to HWC bytes.</summary>
    public static void ToHwcBytes(ReadOnlySpan<float> chw, ImageGeometry geometry, Span<byte> hwc)
    {
        var (channels, plane) = (geometry.Channels, geometry.Height * geometry.Width);
        var scale = 255f / (geometry.Max - geometry.Min);
        for (var c = 0; c < channels; c++)
        {
            var source = chw.Slice(c * plane, plane);
            for (var p = 0; p < plane; p++)
            {
                hwc[(p * channels) + c] = ToByte(source[p], geometry.Min, scale);
            }
        }
    }

    private static byte ToByte(float value, float min, float scale)
    {
        var scaled = MathF.Round((value - min) * scale);
        return scaled <= 0 ? (byte)0 : scaled >= 255 ? (byte)255 : (byte)scaled;
    }

    private static byte[] EncodeRawF32(ReadOnlySpan<float> chw)
    {
        var bytes = new byte[chw.Length * sizeof(float)];
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(chw).CopyTo(bytes);
        }
        else
        {
            for (var i = 0; i < chw.Length; i++)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), chw[i]);
            }
        }

        return bytes;
    }

    private static unsafe byte[] EncodeWithSkia(ReadOnlySpan<float> chw, ImageGeometry geometry, ImageEncoding encoding)
    {
        // Skia has no 24-bit RGB pixel format: colour goes through opaque RGBA, which the PNG encoder writes as RGB.
        var grey = geometry.Channels == 1;
        var info = new SKImageInfo(geometry.Width, geometry.Height, grey ? SKColorType.Gray8 : SKColorType.Rgba8888, SKAlphaType.Opaque);
        var pixelBytes = info.BytesSize;
        var pixels = ArrayPool<byte>.Shared.Rent(pixelBytes);
        try
        {
            if (grey)
            {
                ToHwcBytes(chw, geometry, pixels);
            }
            else
            {
                FillRgba(chw, geometry, pixels);
            }

            fixed (byte* address = pixels)
            {
                using var pixmap = new SKPixmap(info, (nint)address, info.RowBytes);
                using var data = encoding.Format == ImageFormatKind.Png
                    ? pixmap.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.AllFilters, zLibLevel: 6))
                    : pixmap.Encode(new SKJpegEncoderOptions(encoding.JpegQuality, SKJpegEncoderDownsample.Downsample444, SKJpegEncoderAlphaOption.Ignore));
                if (data is null)
                {
                    throw new InvalidOperationException($"Skia could not encode a {geometry.Width}x{geometry.Height} {encoding.Format} image");
                }

                return data.ToArray();
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(pixels);
        }
    }

    private static void FillRgba(ReadOnlySpan<float> chw, ImageGeometry geometry, Span<byte> rgba)
    {
        var plane = geometry.Height * geometry.Width;
        var scale = 255f / (geometry.Max - geometry.Min);
        for (var p = 0; p < plane; p++)
        {
            rgba[(p * 4) + 0] = ToByte(chw[p], geometry.Min, scale);
            rgba[(p * 4) + 1] = ToByte(chw[plane + p], geometry.Min, scale);
            rgba[(p * 4) + 2] = ToByte(chw[(2 * plane) + p], geometry.Min, scale);
            rgba[(p * 4) + 3] = 255;
        }
    }
}
