using GanInference.Trainers.Evaluation;

namespace GanInference.Trainers.Tests.Evaluation;

/// <summary>
/// <see cref="FrechetDistance"/> against closed forms. Each point set is built so that its sample mean and sample
/// covariance (n − 1 denominator) are exactly μ and A·Aᵀ: the 2d points μ ± c·aₖ (aₖ the columns of A) with
/// c² = (2d − 1)/2.
/// </summary>
public sealed class FrechetDistanceTests
{
    [Fact]
    public void Diagonal_Gaussians_give_the_mean_term_plus_the_squared_differences_of_the_standard_deviations()
    {
        var x = Points([0, 0, 0], Diagonal(1, 2, 3));
        var y = Points([1, 2, -1], Diagonal(2, 2, 1));

        // |Δμ|² = 1 + 4 + 1, Σ(σx − σy)² = 1 + 0 + 4.
        Assert.Equal(11.0, FrechetDistance.Compute(x, y, 3), 4);
        Assert.Equal(11.0, FrechetDistance.Compute(y, x, 3), 4);
    }

    [Fact]
    public void Non_commuting_covariances_match_the_two_by_two_closed_form()
    {
        // Σx = A Aᵀ = [[2, 1], [1, 2]], Σy = diag(1, 3): they do not commute, so √(Σx Σy) is not √Σx √Σy.
        var sqrt3 = Math.Sqrt(3);
        var rootX = new[,] { { (sqrt3 + 1) / 2, (sqrt3 - 1) / 2 }, { (sqrt3 - 1) / 2, (sqrt3 + 1) / 2 } }; // (√Σx)² = [[2, 1], [1, 2]]
        var x = Points([1, -1], rootX);
        var y = Points([0, 1], Diagonal(1, sqrt3));

        // Tr √M for a 2×2 M with non-negative eigenvalues is √(tr M + 2√det M); M = Σx Σy = [[2, 3], [1, 6]].
        var traceRoot = Math.Sqrt(8 + (2 * Math.Sqrt(9)));
        var expected = (1 + 4) + 4 + 4 - (2 * traceRoot);
        Assert.Equal(expected, FrechetDistance.Compute(x, y, 2), 4);
    }

    [Fact]
    public void A_set_against_itself_is_zero_and_a_shift_adds_its_square()
    {
        var random = new Random(5);
        var x = Enumerable.Range(0, 400 * 4).Select(_ => (float)random.NextDouble()).ToArray();
        var shifted = x.Select((v, i) => v + (i % 4 == 2 ? 3f : 0f)).ToArray();

        Assert.Equal(0.0, FrechetDistance.Compute(x, x, 4), 6);
        Assert.Equal(9.0, FrechetDistance.Compute(x, shifted, 4), 4);
        Assert.Throws<ArgumentException>(() => FrechetDistance.Compute(x.AsSpan(0, 4).ToArray(), x, 4));
    }

    private static double[,] Diagonal(params double[] values)
    {
        var matrix = new double[values.Length, values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            matrix[i, i] = values[i];
        }

        return matrix;
    }

    /// <summary>2d points [2d × d], row-major, whose sample mean is <paramref name="mean"/> and sample covariance A·Aᵀ.</summary>
    private static float[] Points(double[] mean, double[,] a)
    {
        var d = mean.Length;
        var c = Math.Sqrt(((2.0 * d) - 1) / 2);
        var points = new float[2 * d * d];
        for (var k = 0; k < d; k++)
        {
            for (var sign = 0; sign < 2; sign++)
            {
                var row = (2 * k) + sign;
                for (var i = 0; i < d; i++)
                {
                    points[(row * d) + i] = (float)(mean[i] + ((sign == 0 ? c : -c) * a[i, k]));
                }
            }
        }

        return points;
    }
}
