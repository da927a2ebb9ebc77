using static TorchSharp.torch;

namespace GanInference.Trainers.Evaluation;

/// <summary>
/// The Fréchet distance between Gaussians fitted to two feature sets (FID's formula):
/// |μ₁ − μ₂|² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^½). Computed in float64.
/// </summary>
public static class FrechetDistance
{
    /// <param name="a">Features [n × dimension], row-major.</param>
    /// <param name="b">Features [m × dimension], row-major.</param>
    public static double Compute(float[] a, float[] b, int dimension)
    {
        if (a.Length % dimension != 0 || b.Length % dimension != 0 || a.Length / dimension < 2 || b.Length / dimension < 2)
        {
            throw new ArgumentException("each feature set needs at least two rows of the given dimension.");
        }

        using var scope = NewDisposeScope();
        var x = tensor(a, [a.Length / dimension, dimension]).to_type(ScalarType.Float64);
        var y = tensor(b, [b.Length / dimension, dimension]).to_type(ScalarType.Float64);
        var (muX, sigmaX) = MeanAndCovariance(x);
        var (muY, sigmaY) = MeanAndCovariance(y);

        // Tr((Σx Σy)^½) = Tr((Σx^½ Σy Σx^½)^½), and the inner matrix is symmetric PSD, so both
        // square roots come from symmetric eigendecompositions (tiny negative eigenvalues are rounding).
        var sqrtX = SymmetricSqrt(sigmaX);
        var inner = sqrtX.matmul(sigmaY).matmul(sqrtX);
        inner = (inner + inner.T) / 2;
        var traceSqrt = linalg.eigvalsh(inner).clamp_min(0).sqrt().sum().item<double>();

        var meanTerm = (muX - muY).pow(2).sum().item<double>();
        return meanTerm + sigmaX.trace().item<double>() + sigmaY.trace().item<double>() - (2 * traceSqrt);
    }

    private static (Tensor Mean, Tensor Covariance) MeanAndCovariance(Tensor rows)
    {
        var mean = rows.mean([0]);
        var centred = rows - mean;
        return (mean, centred.T.matmul(centred) / (rows.shape[0] - 1));
    }

    private static Tensor SymmetricSqrt(Tensor matrix)
    {
        var (values, vectors) = linalg.eigh(matrix);
        return vectors.matmul(diag(values.clamp_min(0).sqrt())).matmul(vectors.T);
    }
}
