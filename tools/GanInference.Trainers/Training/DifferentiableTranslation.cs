using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>
/// DiffAugment's translation (Zhao et al. 2020, "Differentiable Augmentation for Data-Efficient GAN Training"): every
/// image the discriminator sees, real or generated, is shifted by its own random whole-pixel offset of up to
/// <c>ratio</c> of its size in each direction, the uncovered border filled with the background (−1). On a training set
/// as small as 9,000 digits the discriminator otherwise learns the set itself, and its verdicts stop teaching the
/// generator; seeing every image shifted, it cannot. The shift is an index gather, so gradients reach the generator
/// through it; the generator itself is never asked to draw shifted digits, since real and generated images are shifted
/// alike.
/// </summary>
internal static class DifferentiableTranslation
{
    /// <summary>The background value images are padded with (black in [−1, 1]).</summary>
    public const float Background = -1f;

    /// <summary>Shifts each image of <paramref name="images"/> [B, C, H, W] by up to <c>round(ratio · size)</c> pixels per axis.</summary>
    public static Tensor Apply(Tensor images, double ratio)
    {
        var (batch, height, width) = (images.shape[0], images.shape[2], images.shape[3]);
        var shiftY = (long)Math.Round(height * ratio, MidpointRounding.AwayFromZero);
        var shiftX = (long)Math.Round(width * ratio, MidpointRounding.AwayFromZero);
        var dy = randint(-shiftY, shiftY + 1, [batch, 1, 1], dtype: ScalarType.Int64, device: images.device);
        var dx = randint(-shiftX, shiftX + 1, [batch, 1, 1], dtype: ScalarType.Int64, device: images.device);
        return Shift(images, dy, dx);
    }

    /// <summary>
    /// Shifts image b by (<paramref name="dy"/>[b], <paramref name="dx"/>[b]) pixels (down and right when positive;
    /// [B, 1, 1] each), filling what is uncovered with <see cref="Background"/>.
    /// </summary>
    public static Tensor Shift(Tensor images, Tensor dy, Tensor dx)
    {
        var (batch, height, width) = (images.shape[0], images.shape[2], images.shape[3]);
        var grid = meshgrid([arange(batch, device: images.device), arange(height, device: images.device), arange(width, device: images.device)], indexing: "ij");
        // Output pixel (y, x) reads input (y − dy, x − dx) of the image padded by one background pixel; indices past
        // the image clamp onto that padding.
        var rows = (grid[1] - dy + 1).clamp(0, height + 1);
        var columns = (grid[2] - dx + 1).clamp(0, width + 1);
        var padded = nn.functional.pad(images, [1, 1, 1, 1], PaddingModes.Constant, Background);
        return padded.permute(0, 2, 3, 1)
            .index(TensorIndex.Tensor(grid[0]), TensorIndex.Tensor(rows), TensorIndex.Tensor(columns))
            .permute(0, 3, 1, 2);
    }
}
