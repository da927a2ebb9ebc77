using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// Unconditional discriminator with a minibatch standard-deviation channel (Karras et al., 2018):
/// the features' standard deviation across the batch, averaged to one number, is appended as a
/// constant feature map before the head. A batch of near-identical digits then looks fake, which
/// pushes the generator to cover every digit in proportion.
/// </summary>
public sealed class MinibatchStdDiscriminator : nn.Module<Tensor, Tensor>, IDiscriminator
{
    /// <summary>Added to the variance before its square root (ProGAN's 1e-8).</summary>
    public const double Epsilon = 1e-8;

    private readonly Sequential features;
    private readonly Conv2d pool;
    private readonly LeakyReLU poolActivation;
    private readonly Linear head;

    public MinibatchStdDiscriminator(GanArchitecture architecture)
        : base(nameof(MinibatchStdDiscriminator))
    {
        architecture.Validate();
        var width = architecture.DiscriminatorWidth;
        features = DcganBlocks.DiscriminatorFeatures(width);
        pool = nn.Conv2d((width * 2) + 1, width * 4, kernel_size: 7);
        poolActivation = nn.LeakyReLU(0.2);
        head = nn.Linear(width * 4, 1);
        RegisterComponents();
    }

    nn.Module IDiscriminator.Module => this;

    public override Tensor forward(Tensor input)
    {
        using var scope = NewDisposeScope();
        var h = features.forward(input);
        // sqrt(var + ε) as ProGAN: a plain std has an infinite derivative at 0, so a collapsed batch (identical
        // images) would turn every gradient into NaN.
        var spread = (h.var(0, unbiased: false) + Epsilon).sqrt().mean().reshape(1, 1, 1, 1).expand(h.shape[0], 1, h.shape[2], h.shape[3]);
        var pooled = poolActivation.forward(pool.forward(cat([h, spread], 1))).flatten(1);
        return head.forward(pooled).reshape(-1).MoveToOuterDisposeScope();
    }

    public Tensor Score(Tensor images, Tensor? labels) => forward(images);
}
