using System.Runtime.InteropServices;
using GanInference.Core.Errors;
using GanInference.Core.Imaging;

namespace GanInference.Core.Tests.Imaging;

public sealed class SourceImageDecoderTests
{
    private const long MaxPixels = 64 * 64;

    [Fact]
    public void A_grey_png_decodes_to_one_plane_of_b_over_255()
    {
        var geometry = new ImageGeometry(1, 3, 5, 0, 1);
        var values = Enumerable.Range(0, 15).Select(i => i / 14f).ToArray();
        var png = ImageCodec.Encode(values, geometry, new ImageEncoding(ImageFormatKind.Png));

        var image = Decode(new SourceImage(png, SourceEncoding.Auto, 0, 0, 0, "a"));
        try
        {
            Assert.Equal((1, 3, 5), (image.Channels, image.Height, image.Width));
            var expected = values.Select(v => MathF.Round(v * 255) / 255f);
            Assert.Equal(expected.Select(v => MathF.Round(v, 5)), image.Span.ToArray().Select(v => MathF.Round(v, 5)));
        }
        finally
        {
            image.Return();
        }
    }

    [Fact]
    public void An_rgb_jpeg_decodes_to_three_planes()
    {
        var geometry = new ImageGeometry(3, 8, 8, 0, 1);
        var jpeg = ImageCodec.Encode(new float[geometry.Length], geometry, new ImageEncoding(ImageFormatKind.Jpeg, 90));

        var image = Decode(new SourceImage(jpeg, SourceEncoding.Jpeg, 0, 0, 0, string.Empty));
        image.Return();

        Assert.Equal((3, 8, 8), (image.Channels, image.Height, image.Width));
    }

    [Fact]
    public void Raw_u8_is_read_as_hwc_and_raw_f32_maps_the_model_range_to_zero_one()
    {
        byte[] hwc = [0, 255, 51, 102, 204, 153]; // 1 x 2 pixels, RGB
        var u8 = Decode(new SourceImage(hwc, SourceEncoding.RawU8, 2, 1, 3, string.Empty));
        Assert.Equal([0f, 102 / 255f, 255 / 255f, 204 / 255f, 51 / 255f, 153 / 255f], u8.Span.ToArray());
        u8.Return();

        float[] chw = [-1, 0, 1, 0.5f];
        var f32 = SourceImageDecoder.Decode(new SourceImage(MemoryMarshal.AsBytes(chw.AsSpan()).ToArray(), SourceEncoding.RawF32, 2, 2, 1, string.Empty), "image", MaxPixels, "Limits:X", -1, 1);
        Assert.Equal([0f, 0.5f, 1f, 0.75f], f32.Span.ToArray());
        f32.Return();
    }

    [Fact]
    public void A_truncated_png_is_refused_rather_than_returned_half_filled()
    {
        var noise = new float[3 * 32 * 32];
        var random = new Random(3);
        for (var i = 0; i < noise.Length; i++)
        {
            noise[i] = random.NextSingle();
        }

        var png = ImageCodec.Encode(noise, new ImageGeometry(3, 32, 32, 0, 1), new ImageEncoding(ImageFormatKind.Png));
        var error = Assert.Throws<InvalidFieldException>(() => Decode(new SourceImage(png.AsMemory(0, png.Length * 2 / 3), SourceEncoding.Auto, 0, 0, 0, string.Empty)));

        Assert.Equal("images[0]", error.Field);
        Assert.Contains("truncated", error.Message);
    }

    [Theory]
    [InlineData(new byte[] { 0x47, 0x49, 0x46, 0x38, 0x39, 0x61 }, "GIF")]
    [InlineData(new byte[] { 0x52, 0x49, 0x46, 0x46, 0, 0, 0, 0, 0x57, 0x45, 0x42, 0x50 }, "WebP")]
    [InlineData(new byte[] { 1, 2, 3 }, "unrecognised content; first bytes 010203")]
    public void Unsupported_formats_are_named(byte[] data, string expected)
    {
        var error = Assert.Throws<InvalidFieldException>(() => Decode(new SourceImage(data, SourceEncoding.Auto, 0, 0, 0, string.Empty)));
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Raw_geometry_is_checked_against_the_pixel_limit_before_the_length()
    {
        var error = Assert.Throws<InvalidFieldException>(() => Decode(new SourceImage(new byte[3], SourceEncoding.RawU8, 100, 100, 1, string.Empty)));
        Assert.Contains("10000 pixels is over the limit of 4096 pixels (Limits:X)", error.Message);
    }

    [Theory]
    [InlineData(1024, 768, 256, 256, 384, 288)] // 2/8 would give 192 rows: 3/8 is the smallest eighth that fits
    [InlineData(1024, 1024, 256, 256, 256, 256)] // exactly 2/8
    [InlineData(1024, 1024, 100, 100, 128, 128)] // 1/8
    [InlineData(1024, 1024, 600, 600, 1024, 1024)] // under twice the size: full size
    [InlineData(1024, 1024, 0, 0, 1024, 1024)] // no minimum: full size
    public void A_large_jpeg_is_decoded_at_the_smallest_eighth_scale_no_smaller_than_the_minimum(int width, int height, int minWidth, int minHeight, int expectedWidth, int expectedHeight)
    {
        var geometry = new ImageGeometry(3, height, width, 0, 1);
        var jpeg = ImageCodec.Encode(Gradient(geometry), geometry, new ImageEncoding(ImageFormatKind.Jpeg, 95));

        var image = SourceImageDecoder.Decode(new SourceImage(jpeg, SourceEncoding.Auto, 0, 0, 0, "a"), "images[0]", 4096L * 4096, "Limits:X", -1, 1, minWidth, minHeight);
        var full = SourceImageDecoder.Decode(new SourceImage(jpeg, SourceEncoding.Auto, 0, 0, 0, "a"), "images[0]", 4096L * 4096, "Limits:X", -1, 1);
        try
        {
            Assert.Equal((3, expectedHeight, expectedWidth), (image.Channels, image.Height, image.Width));

            // The scaled decode shows the same picture as the full one resized to its size.
            var resized = new float[image.Length];
            ImageResampler.Resize(full.Span, 3, height, width, expectedHeight, expectedWidth, resized);
            var meanError = resized.Zip(image.Span.ToArray(), (a, b) => Math.Abs(a - b)).Average();
            Assert.True(meanError < 0.02, $"mean absolute difference {meanError}");
        }
        finally
        {
            image.Return();
            full.Return();
        }
    }

    [Fact]
    public void A_png_is_always_decoded_at_full_size()
    {
        var geometry = new ImageGeometry(3, 512, 512, 0, 1);
        var png = ImageCodec.Encode(Gradient(geometry), geometry, new ImageEncoding(ImageFormatKind.Png));

        var image = SourceImageDecoder.Decode(new SourceImage(png, SourceEncoding.Auto, 0, 0, 0, "a"), "images[0]", 4096L * 4096, "Limits:X", -1, 1, 64, 64);
        image.Return();

        Assert.Equal((512, 512), (image.Height, image.Width));
    }

    /// <summary>Smooth colour ramps in [0, 1] (JPEG keeps them well, so scaled and full decodes can be compared).</summary>
    private static float[] Gradient(ImageGeometry geometry)
    {
        var (h, w) = (geometry.Height, geometry.Width);
        var values = new float[3 * h * w];
        for (var y = 0; y < h; y++)
        {
            for (var x = 0; x < w; x++)
            {
                values[(y * w) + x] = (float)x / w;
                values[(h * w) + (y * w) + x] = (float)y / h;
                values[(2 * h * w) + (y * w) + x] = 0.5f + (0.4f * MathF.Sin((x + y) * 0.01f));
            }
        }

        return values;
    }

    private static PlanarImage Decode(SourceImage image) => SourceImageDecoder.Decode(image, "images[0]", MaxPixels, "Limits:X", -1, 1);
}
