using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// Unconditional DCGAN discriminator: image → one real-vs-fake logit (a 7×7 conv over the 7×7
/// feature maps). This is the discriminator of the shipped dcgan-mnist; changing its layers makes
/// that run's discriminator checkpoints unloadable (resume) and its command no longer reproducible.
/// </summary>
public sealed class DcganDiscriminator : nn.Module<Tensor, Tensor>, IDiscriminator
{
    private readonly Sequential features;
    private readonly Conv2d head;

    public DcganDiscriminator(GanArchitecture architecture)
        : base(nameof(DcganDiscriminator))
    {
        architecture.Validate();
        features = DcganBlocks.DiscriminatorFeatures(architecture.DiscriminatorWidth);
        head = nn.Conv2d(architecture.DiscriminatorWidth * 2, 1, kernel_size: 7);
        RegisterComponents();
    }

    nn.Module IDiscriminator.Module => this;

    public override Tensor forward(Tensor input)
    {
        using var h = features.forward(input);
        using var logits = head.forward(h);
        return logits.reshape(-1);
    }

    public Tensor Score(Tensor images, Tensor? labels) => forward(images);
}
