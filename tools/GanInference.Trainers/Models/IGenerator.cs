using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>A generator as the training loop sees it: z (and labels when conditional) → images in [-1, 1].</summary>
public interface IGenerator
{
    /// <summary>The module whose parameters are trained and checkpointed.</summary>
    nn.Module Module { get; }

    /// <param name="latents">[batch, latent] float32.</param>
    /// <param name="labels">[batch] int64, or null for unconditional generators.</param>
    /// <returns>[batch, 1, 28, 28] float32.</returns>
    Tensor Generate(Tensor latents, Tensor? labels);
}

/// <summary>A discriminator as the training loop sees it: images (and labels) → one logit per image.</summary>
public interface IDiscriminator
{
    nn.Module Module { get; }

    /// <returns>[batch] real-vs-fake logits.</returns>
    Tensor Score(Tensor images, Tensor? labels);
}
