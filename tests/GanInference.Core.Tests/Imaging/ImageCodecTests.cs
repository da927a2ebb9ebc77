using System.Buffers.Binary;
using GanInference.Core.Imaging;
using GanInference.Tests.TestModels;

namespace GanInference.Core.Tests.Imaging;

public sealed class ImageCodecTests
{
    [Fact]
    public void Grey_png_round_trips_exactly_as_one_channel()
    {
        var geometry = new ImageGeometry(1, 5, 7, -1, 1);
        var chw = Pattern(geometry);

        var decoded = ImageFiles.Decode(ImageCodec.Encode(chw, geometry, new ImageEncoding(ImageFormatKind.Png)));

        Assert.Equal((7, 5, 1), (decoded.Width, decoded.Height, decoded.Channels));
        Assert.Equal(ExpectedHwc(chw, geometry), decoded.Pixels);
    }

    [Fact]
    public void Rgb_png_round_trips_exactly_as_three_channels()
    {
        var geometry = new ImageGeometry(3, 4, 6, -1, 1);
        var chw = Pattern(geometry);

        var png = ImageCodec.Encode(chw, geometry, new ImageEncoding(ImageFormatKind.Png));
        var decoded = ImageFiles.Decode(png);

        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], png[..4]);
        Assert.Equal((6, 4, 3), (decoded.Width, decoded.Height, decoded.Channels));
        Assert.Equal(ExpectedHwc(chw, geometry), decoded.Pixels);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void Jpeg_decodes_close_to_the_source_and_quality_changes_size(int channels)
    {
        var geometry = new ImageGeometry(channels, 32, 32, -1, 1);
        var chw = Smooth(geometry);

        var high = ImageCodec.Encode(chw, geometry, new ImageEncoding(ImageFormatKind.Jpeg, 95));
        var low = ImageCodec.Encode(chw, geometry, new ImageEncoding(ImageFormatKind.Jpeg, 10));
        var decoded = ImageFiles.Decode(high);

        Assert.Equal([0xFF, 0xD8], high[..2]);
        Assert.Equal((32, 32, channels), (decoded.Width, decoded.Height, decoded.Channels));
        var expected = ExpectedHwc(chw, geometry);
        var meanError = expected.Zip(decoded.Pixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(meanError < 4, $"mean abs error {meanError}");
        Assert.True(low.Length < high.Length, $"quality 10 gave {low.Length} bytes, 95 gave {high.Length}");
    }

    [Fact]
    public void Raw_u8_is_hwc_with_the_range_mapped_to_0_255()
    {
        var geometry = new ImageGeometry(3, 1, 2, -1, 1);

        // CHW: channel 0 = [-1, 1], channel 1 = [0, 0.5], channel 2 = [2 (clamped), -3 (clamped)].
        float[] chw = [-1, 1, 0, 0.5f, 2, -3];
        var raw = ImageCodec.Encode(chw, geometry, new ImageEncoding(ImageFormatKind.RawU8));

        Assert.Equal([0, 128, 255, 255, 191, 0], raw);
    }

    [Fact]
    public void Raw_f32_is_little_endian_chw_in_the_model_range()
    {
        var geometry = new ImageGeometry(3, 2, 2, -1, 1);
        var chw = Pattern(geometry);

        var raw = ImageCodec.Encode(chw, geometry, new ImageEncoding(ImageFormatKind.RawF32));

        Assert.Equal(chw.Length * 4, raw.Length);
        var back = Enumerable.Range(0, chw.Length).Select(i => BinaryPrimitives.ReadSingleLittleEndian(raw.AsSpan(i * 4))).ToArray();
        Assert.Equal(chw, back);
    }

    [Fact]
    public void A_different_range_maps_its_own_ends_to_0_and_255()
    {
        var geometry = new ImageGeometry(1, 1, 3, 0, 1);
        var raw = ImageCodec.Encode([0f, 0.5f, 1f], geometry, new ImageEncoding(ImageFormatKind.RawU8));
        Assert.Equal([0, 128, 255], raw);
    }

    [Fact]
    public void Garbage_bytes_do_not_decode()
    {
        Assert.Throws<ArgumentException>(() => ImageFiles.Decode([1, 2, 3, 4, 5]));
    }

    private static float[] Pattern(ImageGeometry geometry) =>
        Enumerable.Range(0, geometry.Length).Select(i => MathF.Sin(i * 0.7f)).ToArray();

    private static float[] Smooth(ImageGeometry geometry)
    {
        var values = new float[geometry.Length];
        for (var c = 0; c < geometry.Channels; c++)
        {
            for (var y = 0; y < geometry.Height; y++)
            {
                for (var x = 0; x < geometry.Width; x++)
                {
                    values[(((c * geometry.Height) + y) * geometry.Width) + x] = MathF.Sin((x + (2 * c)) * 0.2f) * MathF.Cos(y * 0.15f);
                }
            }
        }

        return values;
    }

    // Independent of the codec: the documented mapping round((v - min) / (max - min) * 255), clamped, in HWC order.
    private static byte[] ExpectedHwc(float[] chw, ImageGeometry g)
    {
        var plane = g.Height * g.Width;
        var hwc = new byte[chw.Length];
        for (var c = 0; c < g.Channels; c++)
        {
            for (var p = 0; p < plane; p++)
            {
                var scaled = MathF.Round((chw[(c * plane) + p] - g.Min) / (g.Max - g.Min) * 255f);
                hwc[(p * g.Channels) + c] = (byte)Math.Clamp(scaled, 0, 255);
            }
        }

        return hwc;
    }
}
