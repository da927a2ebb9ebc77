using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// Unconditional DCGAN discriminator: image → one real-vs-fake logit. The head is the projection
/// discriminator's without the label term (7×7 conv to 4·ndf features, LeakyReLU, linear): a single
/// linear 7×7 conv straight to the logit proved too weak a critic for G to learn balanced digits.
/// </summary>
public sealed class DcganDiscriminator : nn.Module<Tensor, Tensor>, IDiscriminator
{
    private readonly Sequential features;
    private readonly Conv2d pool;
    private readonly LeakyReLU poolActivation;
    private readonly Linear head;

    public DcganDiscriminator(GanArchitecture architecture)
        : base(nameof(DcganDiscriminator))
    {
        architecture.Validate();
        var width = architecture.DiscriminatorWidth;
        features = DcganBlocks.DiscriminatorFeatures(width);
        pool = nn.Conv2d(width * 2, width * 4, kernel_size: 7);
        poolActivation = nn.LeakyReLU(0.2);
        head = nn.Linear(width * 4, 1);
        RegisterComponents();
    }

    nn.Module IDiscriminator.Module => this;

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = poolActivation.forward(pool.forward(features.forward(input))).flatten(1);
        return head.forward(h).reshape(-1).MoveToOuterDisposeScope();
    }

    public Tensor Score(Tensor images, Tensor? labels) => forward(images);
}
