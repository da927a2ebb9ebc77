using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Training;

/// <summary>DiffAugment's translation of the discriminator's inputs: exact per-image shifts, background fill, gradients.</summary>
public sealed class DifferentiableTranslationTests
{
    [Fact]
    public void Each_image_moves_by_its_own_offset_and_the_uncovered_border_is_background()
    {
        using var scope = NewDisposeScope();
        // Two 4x5 single-channel images with distinct pixel values 0..19 and 100..119.
        var images = cat([arange(20f).reshape(1, 1, 4, 5), (arange(20f) + 100).reshape(1, 1, 4, 5)]);
        var dy = tensor(new long[] { 1, 0 }).reshape(2, 1, 1);
        var dx = tensor(new long[] { -2, 3 }).reshape(2, 1, 1);

        var shifted = DifferentiableTranslation.Shift(images, dy, dx);

        Assert.Equal(images.shape, shifted.shape);
        for (var b = 0; b < 2; b++)
        {
            for (var y = 0; y < 4; y++)
            {
                for (var x = 0; x < 5; x++)
                {
                    var (sy, sx) = (y - dy[b, 0, 0].item<long>(), x - dx[b, 0, 0].item<long>());
                    var expected = sy is >= 0 and < 4 && sx is >= 0 and < 5 ? images[b, 0, sy, sx].item<float>() : DifferentiableTranslation.Background;
                    Assert.Equal(expected, shifted[b, 0, y, x].item<float>());
                }
            }
        }
    }

    [Fact]
    public void Random_shifts_stay_within_the_ratio_and_gradients_reach_every_pixel_still_in_view()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(3);
        var images = rand(64, 1, 28, 28).requires_grad_(true);

        var shifted = DifferentiableTranslation.Apply(images, ratio: 0.125); // up to 4 pixels each way
        shifted.sum().backward();

        // Each image's gradient is 1 on the pixels still in view, 0 on those shifted out: a window of the offset's size.
        var seen = images.grad!.sum([1, 2, 3]).data<float>().ToArray();
        Assert.All(seen, s => Assert.InRange(s, 24 * 24, 28 * 28));
        Assert.Contains(seen, s => s < 28 * 28); // some did move
        Assert.True(seen.Distinct().Count() > 1, "every image got the same shift");
        // The shifted batch is exactly the pixels in view (each once) plus background for the rest.
        var inView = images.grad!.sum().item<float>();
        var expected = images.detach().mul(images.grad!).sum().item<float>() + (DifferentiableTranslation.Background * ((64 * 28 * 28) - inView));
        Assert.Equal(expected, shifted.detach().sum().item<float>(), 0.5f);
    }
}
