using GanInference.Trainers.Data;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>Which CycleGAN generator: domain A (grey) → B (ink) or back.</summary>
public enum CycleDirection
{
    AToB,
    BToA,
}

/// <summary>Builds the image-to-image networks of a <see cref="GanArchitecture"/> and names their checkpoint files.</summary>
public static class TranslationModels
{
    /// <summary>CycleGAN's default number of residual blocks at 64×64 (the paper uses 6 at 128×128).</summary>
    public const int DefaultResidualBlocks = 6;

    public const string GeneratorAToBFileName = "generator-a2b.dat";
    public const string GeneratorBToAFileName = "generator-b2a.dat";
    public const string DiscriminatorAFileName = "discriminator-a.dat";
    public const string DiscriminatorBFileName = "discriminator-b.dat";
    public const string GeneratorAToBOptimizerFileName = "generator-a2b-adam.dat";
    public const string GeneratorBToAOptimizerFileName = "generator-b2a-adam.dat";
    public const string DiscriminatorAOptimizerFileName = "discriminator-a-adam.dat";
    public const string DiscriminatorBOptimizerFileName = "discriminator-b-adam.dat";

    /// <summary>Pix2Pix: outline (1 channel) → digit (1 channel).</summary>
    public static UnetGenerator CreatePix2PixGenerator(GanArchitecture architecture) =>
        new(OutlineDigits.Channels, OutlineDigits.Channels, architecture.GeneratorWidth);

    /// <summary>Pix2Pix's conditional discriminator sees (outline, digit) stacked on the channel axis.</summary>
    public static PatchDiscriminator CreatePix2PixDiscriminator(GanArchitecture architecture) =>
        new(2 * OutlineDigits.Channels, architecture.DiscriminatorWidth, PatchNormalization.Batch);

    public static ResnetGenerator CreateCycleGenerator(GanArchitecture architecture, CycleDirection direction)
    {
        var blocks = architecture.ResidualBlocks ?? DefaultResidualBlocks;
        return direction == CycleDirection.AToB
            ? new ResnetGenerator(InkDigits.ChannelsA, InkDigits.ChannelsB, architecture.GeneratorWidth, blocks)
            : new ResnetGenerator(InkDigits.ChannelsB, InkDigits.ChannelsA, architecture.GeneratorWidth, blocks);
    }

    /// <summary>The discriminator of domain A (1 channel) or B (3 channels).</summary>
    public static PatchDiscriminator CreateCycleDiscriminator(GanArchitecture architecture, int channels) =>
        new(channels, architecture.DiscriminatorWidth, PatchNormalization.Instance);

    public static string GeneratorFile(CycleDirection direction) =>
        direction == CycleDirection.AToB ? GeneratorAToBFileName : GeneratorBToAFileName;

    /// <summary>Loads the generator an image-to-image checkpoint holds (Pix2Pix's, or one CycleGAN direction).</summary>
    public static nn.Module<Tensor, Tensor> LoadGenerator(string checkpoint, GanArchitecture architecture, CycleDirection direction)
    {
        nn.Module<Tensor, Tensor> generator = architecture.Kind switch
        {
            ModelKind.Pix2Pix => CreatePix2PixGenerator(architecture),
            ModelKind.CycleGan => CreateCycleGenerator(architecture, direction),
            _ => throw new ArgumentException($"{architecture.Kind} is not an image-to-image model.", nameof(architecture)),
        };
        try
        {
            var file = architecture.Kind == ModelKind.Pix2Pix ? Training.Checkpoint.GeneratorFileName : GeneratorFile(direction);
            Training.Checkpoint.LoadWeights(checkpoint, file, generator);
            generator.eval();
            return generator;
        }
        catch
        {
            generator.Dispose();
            throw;
        }
    }
}
