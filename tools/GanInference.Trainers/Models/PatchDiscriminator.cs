using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>Which normalisation a PatchGAN discriminator uses (BatchNorm in Pix2Pix, InstanceNorm in CycleGAN).</summary>
public enum PatchNormalization
{
    Batch,
    Instance,
}

/// <summary>
/// The 70×70-style PatchGAN of Pix2Pix/CycleGAN, sized for 64×64 inputs: Conv 4×4 s2 (ndf) →
/// LeakyReLU → Conv 4×4 s2 (2·ndf) → Norm → LeakyReLU → Conv 4×4 s1 (4·ndf) → Norm → LeakyReLU →
/// Conv 4×4 s1 (1) = a 14×14 map of real/fake logits, each judging a 34×34 patch.
/// </summary>
public sealed class PatchDiscriminator : nn.Module<Tensor, Tensor>
{
    private readonly Sequential body;

    public PatchDiscriminator(int inputChannels, int width, PatchNormalization normalization)
        : base(nameof(PatchDiscriminator))
    {
        if (inputChannels <= 0 || width <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), "channel counts and --ndf must be positive.");
        }

        nn.Module<Tensor, Tensor> Norm(long features) => normalization == PatchNormalization.Batch ? nn.BatchNorm2d(features) : nn.InstanceNorm2d(features);
        body = nn.Sequential(
            ("conv1", nn.Conv2d(inputChannels, width, kernel_size: 4, stride: 2, padding: 1)),
            ("act1", nn.LeakyReLU(0.2)),
            ("conv2", nn.Conv2d(width, width * 2, kernel_size: 4, stride: 2, padding: 1, bias: false)),
            ("norm2", Norm(width * 2)),
            ("act2", nn.LeakyReLU(0.2)),
            ("conv3", nn.Conv2d(width * 2, width * 4, kernel_size: 4, stride: 1, padding: 1, bias: false)),
            ("norm3", Norm(width * 4)),
            ("act3", nn.LeakyReLU(0.2)),
            ("conv4", nn.Conv2d(width * 4, 1, kernel_size: 4, stride: 1, padding: 1)));
        RegisterComponents();
    }

    /// <returns>[B, 1, 14, 14] patch logits.</returns>
    public override Tensor forward(Tensor input) => body.forward(input);
}
