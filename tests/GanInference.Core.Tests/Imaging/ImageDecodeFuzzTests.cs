using System.Buffers.Binary;
using FsCheck;
using FsCheck.Xunit;
using GanInference.Core.Imaging;
using GanInference.Tests.TestModels;

namespace GanInference.Core.Tests.Imaging;

/// <summary>
/// Property tests of Skia's decoding through the tests' <see cref="ImageFiles.Decode"/>: whatever the bytes, it
/// yields a well-formed image or throws <see cref="ArgumentException"/>; it never crashes, hangs or allocates for a
/// size the header merely claims. (Uploads go through <c>SourceImageDecoder</c>, fuzzed in its own tests.)
/// </summary>
public sealed class ImageDecodeFuzzTests
{
    private static readonly ImageGeometry Geometry = new(3, 16, 16, -1, 1);
    private static readonly byte[] Png = Encode(ImageFormatKind.Png);
    private static readonly byte[] Jpeg = Encode(ImageFormatKind.Jpeg);

    [Property(MaxTest = 300)]
    public void Random_bytes_decode_or_are_refused_with_an_argument_exception(byte[] bytes) => DecodesOrRefuses(bytes);

    [Property(MaxTest = 300)]
    public void A_png_or_jpeg_with_corrupted_and_cut_bytes_decodes_or_is_refused(bool jpeg, int[] positions, byte[] values, NonNegativeInt cut)
    {
        var bytes = (jpeg ? Jpeg : Png).ToArray();
        for (var i = 0; i < Math.Min(positions.Length, values.Length); i++)
        {
            bytes[(int)((uint)positions[i] % (uint)bytes.Length)] = values[i];
        }

        DecodesOrRefuses(bytes.AsSpan(0, bytes.Length - (cut.Get % bytes.Length)).ToArray());
    }

    [Fact]
    public void A_png_whose_first_bytes_make_it_a_wbmp_is_refused_not_decoded_as_one()
    {
        // The case the corrupted-bytes property found (FsCheck's shrunk input: bytes 0, 1, 2 set to 0, 0, 160): Skia reads
        // the rest as a WBMP 4167 pixels wide, which is not a reply any server sends.
        var bytes = Png.ToArray();
        (bytes[0], bytes[1], bytes[2]) = (0, 0, 160);

        var error = Assert.Throws<ArgumentException>(() => ImageFiles.Decode(bytes));

        Assert.Contains("not a PNG or JPEG image (Skia reads it as Wbmp)", error.Message, StringComparison.Ordinal);
    }

    [Property(MaxTest = 100)]
    public void A_png_header_claiming_a_huge_size_is_refused_before_any_pixel_memory_is_allocated(PositiveInt width, PositiveInt height)
    {
        // A well-formed PNG (valid CRC) whose header claims up to 2^31 x 2^31 pixels: a decompression bomb.
        var (w, h) = ((uint)width.Get * 4099u % int.MaxValue + 4097u, (uint)height.Get * 7919u % int.MaxValue + 4097u);
        var bytes = Png.ToArray();
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(16), w);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(20), h);
        BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(29), Crc32(bytes.AsSpan(12, 17)));
        var before = GC.GetAllocatedBytesForCurrentThread();

        var error = Assert.Throws<ArgumentException>(() => ImageFiles.Decode(bytes));

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the refusal allocated more than 1 MiB");
        Assert.Contains("outside the accepted size", error.Message);
    }

    private static void DecodesOrRefuses(byte[] bytes)
    {
        DecodedImage image;
        try
        {
            image = ImageFiles.Decode(bytes);
        }
        catch (ArgumentException)
        {
            return;
        }

        Assert.InRange(image.Width, 1, int.MaxValue);
        Assert.InRange(image.Height, 1, int.MaxValue);
        Assert.InRange((long)image.Width * image.Height, 1, ImageFiles.DefaultMaxPixels);
        Assert.Contains(image.Channels, new[] { 1, 3 });
        Assert.Equal(image.Width * image.Height * image.Channels, image.Pixels.Length);
    }

    private static byte[] Encode(ImageFormatKind format)
    {
        var chw = new float[Geometry.Length];
        for (var i = 0; i < chw.Length; i++)
        {
            chw[i] = MathF.Sin(i * 0.1f);
        }

        return ImageCodec.Encode(chw, Geometry, new ImageEncoding(format));
    }

    /// <summary>The CRC-32 of PNG chunks (ISO 3309, reflected, polynomial 0xEDB88320).</summary>
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        var crc = 0xFFFFFFFFu;
        foreach (var b in data)
        {
            crc ^= b;
            for (var k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320u : crc >> 1;
            }
        }

        return ~crc;
    }
}
