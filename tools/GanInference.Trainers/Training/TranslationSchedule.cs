namespace GanInference.Trainers.Training;

/// <summary>How the image-to-image trainers cut a run into epochs and when they stop early.</summary>
public sealed record TranslationSchedule
{
    /// <summary>
    /// Images per epoch (0 = the whole set): each epoch takes the first ones of a fresh shuffle, so
    /// short runs still get regular checkpoints and previews, and a resumed run stays exact.
    /// </summary>
    public int ImagesPerEpoch { get; init; }

    /// <summary>Stop after the first epoch that ends past this many minutes of training (0 = no limit).</summary>
    public double MaxMinutes { get; init; }

    /// <summary>
    /// Epochs at the end of the run over which the learning rate falls linearly towards 0, as the reference
    /// Pix2Pix/CycleGAN code (<c>--n_epochs</c> constant, then <c>--n_epochs_decay</c>): with E epochs in all and D
    /// of decay, epoch e (from 1) trains at lr · (1 − max(0, e − (E − D)) / (D + 1)). 0 = constant.
    /// </summary>
    public int DecayEpochs { get; init; }

    /// <summary>The learning rate of epoch <paramref name="epoch"/> (from 1) of a run of <paramref name="epochs"/> epochs.</summary>
    public double LearningRate(double baseRate, int epoch, int epochs)
    {
        var constant = epochs - DecayEpochs;
        return baseRate * (1.0 - (Math.Max(0, epoch - constant) / (double)(DecayEpochs + 1)));
    }

    /// <summary>Throws naming the option when <see cref="DecayEpochs"/> does not fit in a run of <paramref name="epochs"/>.</summary>
    public void CheckDecay(int epochs)
    {
        if (DecayEpochs > epochs)
        {
            throw new ArgumentOutOfRangeException(nameof(DecayEpochs), DecayEpochs, $"--lr-decay-epochs {DecayEpochs} is more than --epochs {epochs}.");
        }
    }

    public void Validate()
    {
        if (DecayEpochs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(DecayEpochs), DecayEpochs, "--lr-decay-epochs must be 0 (constant learning rate) or positive.");
        }

        if (ImagesPerEpoch < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ImagesPerEpoch), ImagesPerEpoch, "--epoch-images must be 0 (the whole set) or positive.");
        }

        if (MaxMinutes < 0 || !double.IsFinite(MaxMinutes))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxMinutes), MaxMinutes, "--max-minutes must be 0 (no limit) or positive.");
        }
    }

    /// <summary>Steps per epoch for a set of <paramref name="count"/> images in batches of <paramref name="batchSize"/> (ragged last batch dropped).</summary>
    public int StepsPerEpoch(int count, int batchSize) =>
        Math.Max(1, (ImagesPerEpoch > 0 ? Math.Min(ImagesPerEpoch, count) : count) / batchSize);

    public bool TimeIsUp(TimeSpan elapsed) => MaxMinutes > 0 && elapsed.TotalMinutes >= MaxMinutes;
}
