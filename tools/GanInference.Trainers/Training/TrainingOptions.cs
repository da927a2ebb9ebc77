using GanInference.Trainers.Models;

namespace GanInference.Trainers.Training;

/// <summary>Everything one training run needs; built from the command line (or by tests).</summary>
public sealed record TrainingOptions
{
    public required GanArchitecture Architecture { get; init; }

    /// <summary>Folder of MNIST IDX files.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Run folder (checkpoints, loss.csv, samples).</summary>
    public required string RunDirectory { get; init; }

    public int Epochs { get; init; } = 20;

    public int BatchSize { get; init; } = 64;

    /// <summary>Adam learning rate (2e-4 for the GANs, per DCGAN).</summary>
    public double LearningRate { get; init; } = 2e-4;

    /// <summary>Adam β1 (0.5 for the GANs, per DCGAN).</summary>
    public double Beta1 { get; init; } = 0.5;

    public ulong Seed { get; init; } = 1;

    /// <summary>
    /// GANs: decay of an exponential moving average of the generator's weights kept beside it and saved in every
    /// checkpoint (<see cref="GeneratorEma"/>); 0 = none.
    /// </summary>
    public double GeneratorEmaDecay { get; init; }

    /// <summary>
    /// GANs: the largest random shift of the images the discriminator sees, as a fraction of their size
    /// (<see cref="DifferentiableTranslation"/>; 0.125 in DiffAugment); 0 = none.
    /// </summary>
    public double TranslationAugment { get; init; }

    /// <summary>libtorch intra-op threads; 0 keeps libtorch's default.</summary>
    public int Threads { get; init; }

    /// <summary>Stop after this many steps (0 = all epochs); lets tests run a few steps only.</summary>
    public long MaxSteps { get; init; }

    /// <summary>Continue from this checkpoint (weights, Adam state, epoch and step counters) up to <see cref="Epochs"/>.</summary>
    public string? ResumeFrom { get; init; }

    /// <summary>
    /// Options the user typed (e.g. <c>--latent</c>), as opposed to defaults; a resumed run refuses an explicit
    /// architecture option that disagrees with its checkpoint.
    /// </summary>
    public IReadOnlySet<string> ExplicitOptions { get; init; } = new HashSet<string>();

    /// <summary>The command line, recorded in checkpoints for provenance.</summary>
    public string Command { get; init; } = string.Empty;

    /// <summary>
    /// The run's step budget for <paramref name="stepsPerEpoch"/>: all <see cref="Epochs"/>, or
    /// <see cref="MaxSteps"/> when that is smaller, and the number of epochs those steps touch.
    /// </summary>
    public (long TotalSteps, int Epochs) StepBudget(int stepsPerEpoch)
    {
        var all = (long)stepsPerEpoch * Epochs;
        var total = MaxSteps > 0 ? Math.Min(MaxSteps, all) : all;
        return (total, (int)((total + stepsPerEpoch - 1) / stepsPerEpoch));
    }

    public void Validate()
    {
        Architecture.Validate();
        if (Epochs <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, "--epochs must be positive.");
        }

        if (BatchSize <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, "--batch-size must be positive.");
        }

        if (!(LearningRate > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "--lr must be positive.");
        }

        if (!(GeneratorEmaDecay is >= 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(GeneratorEmaDecay), GeneratorEmaDecay, "--g-ema must be 0 (off) or between 0 and 1 (exclusive), e.g. 0.999.");
        }

        if (!(TranslationAugment is >= 0 and <= 0.5))
        {
            throw new ArgumentOutOfRangeException(nameof(TranslationAugment), TranslationAugment, "--d-translate must be between 0 (off) and 0.5 (a fraction of the image size), e.g. 0.125.");
        }

        if (Threads < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Threads), Threads, "--threads must be 0 (default) or positive.");
        }
    }
}
