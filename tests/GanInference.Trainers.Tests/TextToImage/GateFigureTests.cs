using GanInference.Trainers.TextToImage;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>The text model's gate figures that see pixel-scale texture: border roughness and nearest upscaling.</summary>
public sealed class GateFigureTests
{
    private const int Size = CaptionedDigits.LargeSize;

    [Fact]
    public void Border_roughness_is_zero_on_a_flat_border_whatever_the_centre_holds()
    {
        var image = Image((c, x, y) => 0.2f * c);
        var random = new Random(1);
        Paint(image, (c, x, y) => x is >= 6 and < Size - 6 && y is >= 6 and < Size - 6 ? (float)((random.NextDouble() * 2) - 1) : null);

        Assert.Equal(0, TextToImageEvaluator.BorderRoughness(image, Size), 9);
    }

    [Fact]
    public void Border_roughness_measures_a_two_pixel_column_stripe_in_8_bit_levels()
    {
        // Columns alternate every 2 pixels between −0.5 and −0.5 + 18/127.5 (18 levels apart), as the shipped Stage-II paints on grey.
        var step = 18f / 127.5f;
        var image = Image((c, x, y) => -0.5f + ((x / 2) % 2 == 0 ? 0 : step));

        // Vertical pairs never differ; horizontal pairs differ at every second column boundary. Count the border pairs exactly.
        double differing = 0, pairs = 0;
        for (var y = 0; y < Size; y++)
        {
            for (var x = 0; x < Size; x++)
            {
                bool Border(int px, int py) => px < 6 || py < 6 || px >= Size - 6 || py >= Size - 6;
                if (!Border(x, y))
                {
                    continue;
                }

                if (x + 1 < Size && Border(x + 1, y))
                {
                    pairs++;
                    differing += (x / 2) % 2 != ((x + 1) / 2) % 2 ? 1 : 0;
                }

                if (y + 1 < Size && Border(x, y + 1))
                {
                    pairs++;
                }
            }
        }

        Assert.Equal(18 * differing / pairs, TextToImageEvaluator.BorderRoughness(image, Size), 3);
        Assert.InRange(TextToImageEvaluator.BorderRoughness(image, Size), 4, 5);
    }

    [Fact]
    public void Roughness_is_averaged_per_caption_background_and_nearest_upscaling_repeats_pixels()
    {
        var small = new float[2 * 3 * 32 * 32];
        for (var i = 0; i < small.Length; i++)
        {
            small[i] = i % 7 / 7f;
        }

        var large = TextToImageEvaluator.UpscaleNearest(small, 32);
        Assert.Equal(2 * 3 * Size * Size, large.Length);
        Assert.Equal(small[(3 * 32 * 32) + (5 * 32) + 9], large[(3 * Size * Size) + (11 * Size) + 18]);
        Assert.Equal(small[(3 * 32 * 32) + (5 * 32) + 9], large[(3 * Size * Size) + (10 * Size) + 19]);

        var flat = Image((c, x, y) => 0f);
        var checker = Image((c, x, y) => (x + y) % 2 == 0 ? 1f : -1f);
        var captions = new (DigitAttributes, string)[] { (new DigitAttributes(1, 0, 2, 0), "a"), (new DigitAttributes(2, 1, 2, 1), "b"), (new DigitAttributes(3, 0, 0, 0), "c") };
        var byBackground = TextToImageEvaluator.BorderRoughnessByBackground([.. flat, .. checker, .. checker], Size, captions);

        Assert.Equal(255, byBackground[0], 6);       // black: the checkerboard alone (every pair 2 apart = 255 levels)
        Assert.True(double.IsNaN(byBackground[1]));  // white: no caption
        Assert.Equal(127.5, byBackground[2], 6);     // gray: flat and checkerboard
    }

    [Fact]
    public void Checkerboard_measures_alternating_pixels_in_8_bit_levels_and_ignores_block_means_and_edges()
    {
        // Pixels alternating ±8 levels around a colour that differs per channel: every 2×2 block gives |4 × 8| / 4 = 8.
        var amplitude = 8f / 127.5f;
        var checker = Image((c, x, y) => (0.3f * c) - 0.4f + ((x + y) % 2 == 0 ? amplitude : -amplitude));
        Assert.Equal(8, TextToImageEvaluator.Checkerboard(checker, Size), 4);

        // What area-downsizing sees (2×2 means) and what a digit's straight edges are (f(x) + g(y), at any offset)
        // have no checkerboard: nearest-upscaled random blocks, and random rows plus random columns.
        var random = new Random(3);
        var blocks = new float[3 * 32 * 32];
        for (var i = 0; i < blocks.Length; i++)
        {
            blocks[i] = (float)((random.NextDouble() * 2) - 1);
        }

        Assert.Equal(0, TextToImageEvaluator.Checkerboard(TextToImageEvaluator.UpscaleNearest(blocks, 32), Size), 9);
        var rows = Enumerable.Range(0, Size).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        var columns = Enumerable.Range(0, Size).Select(_ => (float)random.NextDouble() - 0.5f).ToArray();
        Assert.Equal(0, TextToImageEvaluator.Checkerboard(Image((c, x, y) => rows[y] + columns[x]), Size), 5);

        // A grid painted over upscaled blocks is measured as the grid alone; over several images the mean of each.
        var upscaled = TextToImageEvaluator.UpscaleNearest(blocks, 32);
        var gridded = upscaled.Select((v, i) => v + (((i % Size) + (i / Size % Size)) % 2 == 0 ? amplitude : -amplitude)).ToArray();
        Assert.Equal(8, TextToImageEvaluator.Checkerboard(gridded, Size), 4);
        Assert.Equal(4, TextToImageEvaluator.Checkerboard([.. gridded, .. upscaled], Size), 4);
    }

    private static float[] Image(Func<int, int, int, float> value)
    {
        var image = new float[3 * Size * Size];
        Paint(image, (c, x, y) => value(c, x, y));
        return image;
    }

    private static void Paint(float[] image, Func<int, int, int, float?> value)
    {
        for (var c = 0; c < 3; c++)
        {
            for (var y = 0; y < Size; y++)
            {
                for (var x = 0; x < Size; x++)
                {
                    if (value(c, x, y) is { } v)
                    {
                        image[(c * Size * Size) + (y * Size) + x] = v;
                    }
                }
            }
        }
    }
}
