using GanInference.Trainers.TextToImage;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>
/// --stage2-antialias's filter: what it must remove (every pattern with a 2-pixel period, up to the border) and what it
/// must keep (flat areas, the inside of ramps), and that a Stage-II built with it filters its refinement, not its base.
/// </summary>
public sealed class BinomialFilterTests
{
    private const int Size = 12;

    [Theory]
    [InlineData(1, 1)] // pixel checkerboard
    [InlineData(1, 0)] // 2-pixel column stripe
    [InlineData(0, 1)] // 2-pixel row stripe
    public void Patterns_with_a_two_pixel_period_come_out_as_zero_up_to_the_border(int acrossParity, int downParity)
    {
        using var pattern = Pattern((y, x) => ((((acrossParity * x) + (downParity * y)) % 2) == 0 ? 0.5f : -0.5f));
        using var filtered = BinomialFilter.Apply(pattern);
        Assert.Equal(pattern.shape, filtered.shape);
        Assert.InRange(filtered.abs().max().item<float>(), 0f, 1e-6f);
    }

    [Fact]
    public void Flat_areas_pass_unchanged_and_ramps_pass_unchanged_inside()
    {
        using var flat = Pattern((_, _) => 0.3f);
        using var flatOut = BinomialFilter.Apply(flat);
        Assert.InRange((flatOut - flat).abs().max().item<float>(), 0f, 1e-6f);

        using var ramp = Pattern((y, x) => (0.05f * x) - (0.03f * y));
        using var rampOut = BinomialFilter.Apply(ramp);
        using var inside = (rampOut - ramp)[.., .., 1..^1, 1..^1];
        Assert.InRange(inside.abs().max().item<float>(), 0f, 1e-6f);
    }

    [Fact]
    public void A_stage_two_with_the_filter_adds_the_same_weights_refinement_filtered_to_its_base()
    {
        random.manual_seed(31);
        var networks = SmallStackGan.Networks with { StageTwoResidual = true, StageTwoPaper = true };
        using var plain = new StageTwoGenerator(networks);
        using var filtered = new StageTwoGenerator(networks with { StageTwoAntiAlias = true });
        using (no_grad())
        {
            // Default initialisation gives a refinement of hundredths of a level; make it a visible one.
            plain.get_parameter("up.rgb.weight")!.mul_(30);
        }

        filtered.load_state_dict(plain.state_dict());
        plain.eval();
        filtered.eval();

        // A noisy Stage-I image, so a random Stage-II's refinement (its output less the bilinear base) has every frequency.
        using var stageOne = (rand(2, 3, 32, 32) - 0.5f) * 0.6f;
        using var tokens = SmallStackGan.Tokens(2);
        using var epsilon = randn(2, SmallStackGan.Networks.ConditionDimension);
        using var embedding = zeros(2, SmallStackGan.Networks.EmbeddingDimension);
        using var _ = no_grad();
        using var baseImage = nn.functional.interpolate(stageOne, scale_factor: [2, 2], mode: InterpolationMode.Bilinear, align_corners: false);
        using var withoutFilter = plain.Forward(tokens, embedding, stageOne, epsilon);
        using var withFilter = filtered.Forward(tokens, embedding, stageOne, epsilon);
        Assert.True(withoutFilter.Image.abs().max().item<float>() < 1f, "no clipping, so output less base is the refinement");

        // The filtered generator's refinement is the plain one's, filtered: so by the tests above it holds no pattern with
        // a 2-pixel period, whatever the weights. (Filtering after the base was added would blur the base too and fail.)
        using var plainRefinement = withoutFilter.Image - baseImage;
        using var expected = BinomialFilter.Apply(plainRefinement);
        using var actual = withFilter.Image - baseImage;
        Assert.True(plainRefinement.abs().max().item<float>() > 0.05f, "the refinement must be large enough to see");
        Assert.InRange((actual - expected).abs().max().item<float>(), 0f, 1e-5f);
        Assert.True((actual - plainRefinement).abs().max().item<float>() > 0.01f, "the filter must change the refinement");
    }

    /// <summary>One image [1, 3, Size, Size] of value(y, x), scaled by 1/3, 2/3 and 1 in the three channels.</summary>
    private static Tensor Pattern(Func<int, int, float> value)
    {
        var values = new float[3 * Size * Size];
        for (var c = 0; c < 3; c++)
        {
            for (var y = 0; y < Size; y++)
            {
                for (var x = 0; x < Size; x++)
                {
                    values[(((c * Size) + y) * Size) + x] = value(y, x) * (c + 1) / 3f;
                }
            }
        }

        return tensor(values, [1, 3, Size, Size]);
    }
}
