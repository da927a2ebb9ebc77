namespace GanInference.Trainers.Models;

/// <summary>Builds the networks of a <see cref="GanArchitecture"/>.</summary>
public static class ModelFactory
{
    public static IGenerator CreateGenerator(GanArchitecture architecture) => architecture.Kind switch
    {
        ModelKind.Dcgan when architecture.LatentClasses => new ConditionalDcganGenerator(architecture),
        ModelKind.Dcgan => new DcganGenerator(architecture),
        ModelKind.Cdcgan => new ConditionalDcganGenerator(architecture),
        _ => throw new ArgumentException($"{architecture.Kind} is not a GAN.", nameof(architecture)),
    };

    public static IDiscriminator CreateDiscriminator(GanArchitecture architecture) => architecture.Kind switch
    {
        ModelKind.Dcgan when architecture.LatentClasses => new ProjectionDiscriminator(architecture),
        ModelKind.Dcgan when architecture.DiscriminatorHead == DiscriminatorHead.MinibatchStd => new MinibatchStdDiscriminator(architecture),
        ModelKind.Dcgan => new DcganDiscriminator(architecture),
        ModelKind.Cdcgan => new ProjectionDiscriminator(architecture),
        _ => throw new ArgumentException($"{architecture.Kind} is not a GAN.", nameof(architecture)),
    };
}
