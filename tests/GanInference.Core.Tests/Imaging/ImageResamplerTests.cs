using GanInference.Core.Imaging;

namespace GanInference.Core.Tests.Imaging;

public sealed class ImageResamplerTests
{
    [Fact]
    public void Upscaling_two_by_two_to_four_by_four_matches_pytorch_bilinear_with_half_pixel_centres()
    {
        // torch.nn.functional.interpolate(x, size=(4, 4), mode="bilinear", align_corners=False) along one axis
        // maps [a, b] to [a, 0.75a + 0.25b, 0.25a + 0.75b, b]; the 2-D result is that applied to rows and columns.
        float[] source = [0, 1, 2, 3];
        var output = new float[16];
        ImageResampler.Resize(source, 1, 2, 2, 4, 4, output);

        float[] weights0 = [1, 0.75f, 0.25f, 0];
        for (var y = 0; y < 4; y++)
        {
            for (var x = 0; x < 4; x++)
            {
                var top = (weights0[x] * 0) + ((1 - weights0[x]) * 1);
                var bottom = (weights0[x] * 2) + ((1 - weights0[x]) * 3);
                Assert.Equal((weights0[y] * top) + ((1 - weights0[y]) * bottom), output[(y * 4) + x], 5);
            }
        }
    }

    [Fact]
    public void Halving_averages_each_two_by_two_block_per_channel_and_a_non_square_resize_keeps_flat_planes_flat()
    {
        var source = Enumerable.Range(0, 2 * 4 * 6).Select(i => (float)((i * 7) % 11)).ToArray();
        var half = new float[2 * 2 * 3];
        ImageResampler.Resize(source, 2, 4, 6, 2, 3, half);
        for (var c = 0; c < 2; c++)
        {
            for (var y = 0; y < 2; y++)
            {
                for (var x = 0; x < 3; x++)
                {
                    float At(int yy, int xx) => source[(c * 24) + (yy * 6) + xx];
                    var mean = (At(2 * y, 2 * x) + At(2 * y, (2 * x) + 1) + At((2 * y) + 1, 2 * x) + At((2 * y) + 1, (2 * x) + 1)) / 4;
                    Assert.Equal(mean, half[(c * 6) + (y * 3) + x], 5);
                }
            }
        }

        var flat = Enumerable.Repeat(0.3f, 5 * 7).ToArray();
        var stretched = new float[11 * 3];
        ImageResampler.Resize(flat, 1, 5, 7, 11, 3, stretched);
        Assert.All(stretched, v => Assert.Equal(0.3f, v, 6));
    }

    [Fact]
    public void Rgb_to_grey_is_bt601_luma_and_grey_to_rgb_copies_the_plane()
    {
        float[] rgb = [1, 0, 0.5f, /* G */ 0, 1, 0.5f, /* B */ 0, 0, 0.5f];
        var grey = new float[3];
        ImageResampler.ConvertChannels(rgb, 3, 3, 1, grey);
        Assert.Equal([0.299f, 0.587f, 0.5f], grey.Select(v => MathF.Round(v, 5)));

        var back = new float[9];
        ImageResampler.ConvertChannels(grey, 1, 3, 3, back);
        Assert.Equal(grey.Concat(grey).Concat(grey), back);
    }

    [Fact]
    public void Convert_changes_channels_and_size_in_one_call_without_touching_the_source()
    {
        var source = new PlanarImage(Enumerable.Repeat(0.5f, 3 * 4 * 4).Concat(new float[5]).ToArray(), 3, 4, 4, IsPooled: false);
        var copy = source.Pixels.ToArray();
        var destination = new float[2 * 2];
        ImageResampler.Convert(source, 1, 2, 2, destination);

        Assert.All(destination, v => Assert.Equal(0.5f, v, 5));
        Assert.Equal(copy, source.Pixels);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImageResampler.Convert(source, 1, 2, 2, new float[5]));
    }
}
