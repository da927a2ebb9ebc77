using GanInference.Trainers.Data;
using GanInference.Trainers.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Data;

/// <summary>The documented data definitions, checked against PyTorch's own operators (via TorchSharp) where one exists.</summary>
public sealed class ImageToImageDataTests
{
    private const int Side = 28;
    private const int Big = DigitImaging.Size;

    [Fact]
    public void Bilinear_resize_matches_torch_interpolate_without_align_corners()
    {
        var source = RandomImage(Side, seed: 1);
        var ours = new float[Big * Big];
        DigitImaging.ResizeBilinear(source, Side, ours, Big);

        using var input = tensor(source, [1, 1, Side, Side]);
        using var reference = nn.functional.interpolate(input, [Big, Big], mode: InterpolationMode.Bilinear, align_corners: false);
        Assert.InRange(MaxDifference(reference, ours), 0f, 1e-5f);
    }

    [Fact]
    public void Area_resize_matches_torch_adaptive_average_pooling()
    {
        var source = RandomImage(Big, seed: 2);
        var ours = new float[Side * Side];
        DigitImaging.ResizeArea(source, Big, ours, Side);

        using var input = tensor(source, [1, 1, Big, Big]);
        using var reference = nn.functional.adaptive_avg_pool2d(input, [Side, Side]);
        Assert.InRange(MaxDifference(reference, ours), 0f, 1e-5f);
    }

    [Fact]
    public void Outline_is_3x3_max_minus_3x3_min_with_replicated_edges()
    {
        var image = RandomImage(Big, seed: 3);
        var ours = new float[Big * Big];
        DigitImaging.Outline(image, Big, ours);

        using var input = tensor(image, [1, 1, Big, Big]);
        using var padded = nn.functional.pad(input, [1, 1, 1, 1], PaddingModes.Replicate);
        using var max = nn.functional.max_pool2d(padded, 3, 1);
        using var negatedMax = nn.functional.max_pool2d(padded.neg(), 3, 1);
        using var reference = max + negatedMax;
        Assert.InRange(MaxDifference(reference, ours), 0f, 1e-6f);

        // A flat image has no outline; a single bright pixel outlines its whole 3x3 neighbourhood.
        var dot = new float[Big * Big];
        dot[(10 * Big) + 10] = 1f;
        DigitImaging.Outline(dot, Big, ours);
        Assert.Equal(9, ours.Count(v => v == 1f));
        Assert.Equal(1f, ours[(11 * Big) + 9]);
        Assert.Equal(0f, ours[(12 * Big) + 10]);
    }

    [Fact]
    public void Blur_is_the_binomial_kernel_with_replicated_edges()
    {
        var image = RandomImage(Big, seed: 4);
        var ours = new float[Big * Big];
        DigitImaging.Blur3x3(image, Big, ours);

        using var input = tensor(image, [1, 1, Big, Big]);
        using var padded = nn.functional.pad(input, [1, 1, 1, 1], PaddingModes.Replicate);
        using var kernel = tensor(new float[] { 1, 2, 1, 2, 4, 2, 1, 2, 1 }, [1, 1, 3, 3]).div(16);
        using var reference = nn.functional.conv2d(padded, kernel);
        Assert.InRange(MaxDifference(reference, ours), 0f, 1e-6f);
    }

    [Fact]
    public void Grain_stream_is_SplitMix64()
    {
        // Reference outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
        Assert.Equal(0xE220A8397B1DCDAFUL, InkDigits.SplitMix64(0x9E3779B97F4A7C15UL));
        Assert.Equal(0x6E789E6AA1B965F4UL, InkDigits.SplitMix64(unchecked(2 * 0x9E3779B97F4A7C15UL)));
    }

    [Fact]
    public void Ink_rendering_puts_blue_ink_on_paper_deterministically_and_inverts()
    {
        var grey = new float[Big * Big];
        for (var y = 20; y < 44; y++)
        {
            for (var x = 28; x < 36; x++)
            {
                grey[(y * Big) + x] = 1f; // a thick vertical bar
            }
        }

        var rgb = new float[3 * Big * Big];
        var again = new float[3 * Big * Big];
        InkDigits.Render(grey, sourceIndex: 7, rgb);
        InkDigits.Render(grey, sourceIndex: 7, again);
        Assert.Equal(rgb, again);
        InkDigits.Render(grey, sourceIndex: 8, again);
        Assert.NotEqual(rgb, again); // the grain depends on the digit's index

        var area = Big * Big;
        for (var c = 0; c < 3; c++)
        {
            Assert.InRange(rgb[(c * area) + 0], InkDigits.Paper[c] - InkDigits.GrainAmplitude, InkDigits.Paper[c] + InkDigits.GrainAmplitude);
            Assert.InRange(rgb[(c * area) + (32 * Big) + 32], InkDigits.Ink[c] - InkDigits.GrainAmplitude, InkDigits.Ink[c] + InkDigits.GrainAmplitude);
        }

        // Blur: the pixel just outside the bar gets a quarter... of ink: (1/4 + 2/4 + 1/4) * 1/4 horizontally.
        var weight = new float[area];
        InkDigits.InkWeight(rgb, weight);
        Assert.InRange(weight[(32 * Big) + 27], 0.25f - 0.1f, 0.25f + 0.1f);
        Assert.InRange(weight[(32 * Big) + 32], 0.9f, 1f);
        Assert.InRange(weight[0], 0f, 0.1f);
    }

    [Fact]
    public async Task Pix2Pix_pairs_are_digits_and_their_outlines_and_CycleGAN_domains_share_no_digit()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Path, trainCount: 20, testCount: 10, gzip: false);
        var train = await MnistDataset.LoadAsync(temp.Path, MnistSplit.Train, CancellationToken.None);

        var (outlines, digits) = OutlineDigits.Create(train, 2, 5);
        Assert.Equal([2, 3, 4, 5, 6], digits.SourceIndices);
        Assert.Equal(train.Labels.AsSpan(2, 5).ToArray(), digits.Labels);
        var expected = new float[Big * Big];
        DigitImaging.Outline(digits.Image(3), Big, expected);
        Assert.Equal(expected, outlines.Image(3).ToArray());
        Assert.InRange(digits.Pixels.Max(), 0.5f, 1f);
        Assert.Throws<ArgumentOutOfRangeException>(() => OutlineDigits.Create(train, 18, 5));

        var (a, b) = CycleGanTrainer.Domains(train);
        Assert.Equal(1, a.Channels);
        Assert.Equal(3, b.Channels);
        Assert.Equal(20, a.Count + b.Count);
        Assert.Empty(a.SourceIndices.Intersect(b.SourceIndices));

        using var tensorA = a.ToTensor();
        Assert.Equal([a.Count, 1L, Big, Big], tensorA.shape);
        Assert.InRange(tensorA.min().item<float>(), -1f, -0.99f);
    }

    private static float[] RandomImage(int side, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, side * side).Select(_ => (float)random.NextDouble()).ToArray();
    }

    private static float MaxDifference(Tensor reference, float[] actual)
    {
        var expected = reference.contiguous().data<float>().ToArray();
        Assert.Equal(expected.Length, actual.Length);
        return expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
    }
}
