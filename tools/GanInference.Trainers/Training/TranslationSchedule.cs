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

    public void Validate()
    {
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
