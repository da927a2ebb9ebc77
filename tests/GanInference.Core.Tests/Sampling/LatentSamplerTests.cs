using GanInference.Core.Sampling;

namespace GanInference.Core.Tests.Sampling;

public sealed class LatentSamplerTests
{
    // The table in docs/determinism.md, produced by its Python reference implementation.
    public static TheoryData<ulong, float[]> DocumentedFirstValues => new()
    {
        { 0UL, [-0.45275774598121643f, 0.20776604115962982f, 2.6506059169769287f, -0.4904228150844574f, -0.9886041283607483f, 1.8721014261245728f] },
        { 1UL, [-0.028249746188521385f, -1.0656176805496216f, -0.22791951894760132f, 0.08309417217969894f, 0.10309094935655594f, -1.2696620225906372f] },
    };

    [Theory]
    [MemberData(nameof(DocumentedFirstValues))]
    public void First_values_match_the_documented_table(ulong seed, float[] expected)
    {
        var actual = new float[expected.Length];
        LatentSampler.Fill(seed, 0, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Documented_truncated_values_skip_rejected_normals()
    {
        // Seed 0 with t = 0.5: 2.65 and -0.99 and 1.87 are rejected, the stream continues after them.
        float[] expected = [-0.45275774598121643f, 0.20776604115962982f, -0.4904228150844574f, 0.2524627149105072f, -0.4973915219306946f, 0.09423340111970901f];
        var actual = new float[expected.Length];
        LatentSampler.Fill(0, 0.5f, actual);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Same_seed_gives_the_same_latent_and_different_seeds_differ()
    {
        var a = new float[100];
        var b = new float[100];
        var c = new float[100];
        LatentSampler.Fill(12345, 0, a);
        LatentSampler.Fill(12345, 0, b);
        LatentSampler.Fill(12346, 0, c);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Theory]
    [InlineData(5)]
    [InlineData(6)]
    public void A_shorter_latent_is_a_prefix_of_a_longer_one(int length)
    {
        var shorter = new float[length];
        var longer = new float[11];
        LatentSampler.Fill(7, 0, shorter);
        LatentSampler.Fill(7, 0, longer);
        Assert.Equal(longer[..length], shorter);
    }

    [Theory]
    [InlineData(0.5f)]
    [InlineData(1f)]
    [InlineData(2f)]
    public void Truncated_values_stay_inside_the_bound(float truncation)
    {
        var values = new float[20_000];
        LatentSampler.Fill(99, truncation, values);
        Assert.All(values, v => Assert.InRange(MathF.Abs(v), 0f, truncation));

        // Truncation keeps the distribution symmetric and spread over the interval, not collapsed.
        Assert.InRange(values.Average(), -0.05, 0.05);
        Assert.True(values.Max() > truncation * 0.95f && values.Min() < -truncation * 0.95f);
    }

    [Fact]
    public void Untruncated_values_look_standard_normal()
    {
        var values = new float[50_000];
        LatentSampler.Fill(3, 0, values);
        var mean = values.Average();
        var variance = values.Select(v => (v - mean) * (v - mean)).Average();
        Assert.InRange(mean, -0.02, 0.02);
        Assert.InRange(variance, 0.97, 1.03);
        Assert.Contains(values, v => MathF.Abs(v) > 3);
    }

    [Fact]
    public void Negative_truncation_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LatentSampler.Fill(0, -1, new float[4]));
    }
}
