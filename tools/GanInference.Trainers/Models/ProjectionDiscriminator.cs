using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// Class-conditional discriminator with a projection head (Miyato &amp; Koyama, 2018):
/// logit = w·φ(x) + b + embed(y)·φ(x), so the label enters as an inner product with the features.
/// </summary>
public sealed class ProjectionDiscriminator : nn.Module<Tensor, Tensor, Tensor>, IDiscriminator
{
    private readonly Sequential features;
    private readonly Conv2d pool;
    private readonly LeakyReLU poolActivation;
    private readonly Linear head;
    private readonly Embedding labelProjection;

    public ProjectionDiscriminator(GanArchitecture architecture)
        : base(nameof(ProjectionDiscriminator))
    {
        architecture.Validate();
        var width = architecture.DiscriminatorWidth;
        features = DcganBlocks.DiscriminatorFeatures(width);
        pool = nn.Conv2d(width * 2, width * 4, kernel_size: 7);
        poolActivation = nn.LeakyReLU(0.2);
        head = nn.Linear(width * 4, 1);
        labelProjection = nn.Embedding(architecture.ClassCount, width * 4);

        // Embedding's default N(0, 1) makes the projection term dwarf the rest of the logit (papers
        // tame it with spectral norm); start it small so the label's influence grows as D learns.
        using (no_grad())
        {
            nn.init.normal_(labelProjection.weight, 0, 0.02);
        }

        RegisterComponents();
    }

    nn.Module IDiscriminator.Module => this;

    public override Tensor forward(Tensor images, Tensor labels)
    {
        using var scope = NewDisposeScope();
        var h = poolActivation.forward(pool.forward(features.forward(images))).flatten(1);
        var unconditional = head.forward(h).reshape(-1);
        var projection = (labelProjection.forward(labels) * h).sum(1);
        return (unconditional + projection).MoveToOuterDisposeScope();
    }

    public Tensor Score(Tensor images, Tensor? labels) =>
        forward(images, labels ?? throw new ArgumentNullException(nameof(labels), "a projection discriminator needs labels."));
}
