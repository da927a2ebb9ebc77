using System.Text.Json.Serialization;

namespace GanInference.Trainers.Models;

/// <summary>Which network a checkpoint holds.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ModelKind>))]
public enum ModelKind
{
    /// <summary>Unconditional DCGAN generator + discriminator.</summary>
    Dcgan,

    /// <summary>Class-conditional DCGAN (label embedding in G, projection discriminator).</summary>
    Cdcgan,

    /// <summary>The MNIST classifier used as the feature extractor of <c>evaluate</c>.</summary>
    Classifier,

    /// <summary>Pix2Pix outline → digit: U-Net generator + PatchGAN discriminator (docs/image-to-image.md).</summary>
    Pix2Pix,

    /// <summary>CycleGAN plain ⇄ ink digits: two ResNet generators + two PatchGAN discriminators.</summary>
    CycleGan,

    /// <summary>StackGAN Stage-I (text encoder + CA + 32×32 generator), docs/text-to-image.md.</summary>
    StackGanStageOne,

    /// <summary>StackGAN Stage-II (64×64) with the frozen Stage-I it refines.</summary>
    StackGanStageTwo,
}

/// <summary>How the unconditional discriminator turns its 7×7 feature maps into a logit.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<DiscriminatorHead>))]
public enum DiscriminatorHead
{
    /// <summary>One 7×7 convolution straight to the logit (the original DCGAN head).</summary>
    Conv,

    /// <summary>
    /// A minibatch standard-deviation channel (ProGAN), a 7×7 convolution to 4×ndf features, LeakyReLU
    /// and a linear layer: D sees how varied the batch is, so a generator that over-produces a few
    /// digits is penalised.
    /// </summary>
    MinibatchStd,
}

/// <summary>
/// The hyper-parameters that fix the shapes of the networks; stored in every checkpoint so a
/// checkpoint can be rebuilt and exported without repeating the command line.
/// </summary>
public sealed record GanArchitecture
{
    public ModelKind Kind { get; init; }

    /// <summary>Length of z.</summary>
    public int LatentDimension { get; init; } = 100;

    /// <summary>Base channel count of the generator (ngf); the first block has 4×, the second 2×.</summary>
    public int GeneratorWidth { get; init; } = 48;

    /// <summary>Base channel count of the discriminator (ndf).</summary>
    public int DiscriminatorWidth { get; init; } = 48;

    /// <summary>Number of classes (labels 0..ClassCount-1) of class-conditional models and the classifier.</summary>
    public int ClassCount { get; init; } = 10;

    /// <summary>Length of the generator's label embedding, concatenated with z.</summary>
    public int LabelEmbeddingDimension { get; init; } = 32;

    /// <summary>
    /// Head of the unconditional discriminator. Absent in older checkpoints, which therefore keep
    /// <see cref="DiscriminatorHead.Conv"/>.
    /// </summary>
    public DiscriminatorHead DiscriminatorHead { get; init; } = DiscriminatorHead.Conv;

    /// <summary>
    /// Dcgan only: the generator is class-conditional inside and takes its class from z itself, the index of the
    /// largest of z's first <see cref="ClassCount"/> coordinates (uniform over the classes for any i.i.d. z, truncated
    /// or not, by symmetry), and the discriminator is the projection discriminator given the real digits' labels and
    /// the generated ones' latent classes. The served model still takes z alone. Absent in older checkpoints (false).
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool LatentClasses { get; init; }

    /// <summary>Sizes of the StackGAN networks (absent for the other kinds).</summary>
    public TextToImage.StackGanArchitecture? StackGan { get; init; }

    /// <summary>Residual blocks of the CycleGAN ResNet generators (absent for the other kinds).</summary>
    public int? ResidualBlocks { get; init; }

    [JsonIgnore]
    public bool IsImageToImage => Kind is ModelKind.Pix2Pix or ModelKind.CycleGan;

    [JsonIgnore]
    public bool IsConditional => Kind == ModelKind.Cdcgan;

    /// <summary>Whether training gives the discriminator class labels: the requested ones, or the latent classes.</summary>
    [JsonIgnore]
    public bool UsesLabels => IsConditional || LatentClasses;

    /// <summary>Throws naming the field when a value cannot build a network.</summary>
    public void Validate()
    {
        static void Positive(int value, string name)
        {
            if (value <= 0)
            {
                throw new ArgumentOutOfRangeException(name, value, $"{name} must be positive.");
            }
        }

        Positive(LatentDimension, nameof(LatentDimension));
        Positive(GeneratorWidth, nameof(GeneratorWidth));
        Positive(DiscriminatorWidth, nameof(DiscriminatorWidth));
        Positive(ClassCount, nameof(ClassCount));
        Positive(LabelEmbeddingDimension, nameof(LabelEmbeddingDimension));
        if (LatentClasses)
        {
            if (Kind != ModelKind.Dcgan)
            {
                throw new ArgumentException($"LatentClasses applies to Dcgan only, not {Kind}.", nameof(LatentClasses));
            }

            if (ClassCount > LatentDimension)
            {
                throw new ArgumentOutOfRangeException(nameof(LatentDimension), LatentDimension, $"LatentClasses (--latent-classes) reads the class from z's first {ClassCount} coordinates, so LatentDimension (--latent) must be at least {ClassCount}.");
            }

            if (DiscriminatorHead != DiscriminatorHead.Conv)
            {
                throw new ArgumentException($"LatentClasses (--latent-classes) uses the projection discriminator, which has no {DiscriminatorHead} head: leave out --d-head.", nameof(DiscriminatorHead));
            }
        }

        if (ResidualBlocks is { } blocks)
        {
            Positive(blocks, nameof(ResidualBlocks));
        }
    }
}
