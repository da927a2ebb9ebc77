using GanInference.Core.Manifests;

namespace GanInference.Core.Batching;

/// <summary>How the batcher picks the size of the batches it forms (<c>batching.policy</c>).</summary>
public enum BatchingPolicy
{
    /// <summary>
    /// Forms only batch sizes that pay: the batch size profile of the model (<see cref="BatchProfile"/>) picks the
    /// largest size whose throughput is within the tolerance of the best, and batches never grow past it. Until the
    /// model is profiled the batcher behaves as <see cref="Fixed"/>.
    /// </summary>
    Measured,

    /// <summary>Batches grow to <see cref="BatchingSettings.MaxBatchSize"/> whatever the measurements say.</summary>
    Fixed,
}

/// <summary>The names of <see cref="BatchingPolicy"/> in manifests and configuration.</summary>
public static class BatchingPolicyNames
{
    /// <summary><see cref="BatchingPolicy.Measured"/>.</summary>
    public const string Measured = BatchingManifest.MeasuredPolicy;

    /// <summary><see cref="BatchingPolicy.Fixed"/>.</summary>
    public const string Fixed = BatchingManifest.FixedPolicy;

    /// <summary>Both names, for error messages.</summary>
    public const string All = BatchingManifest.Policies;

    /// <summary>Parses a manifest or configuration value (case-insensitive); false for anything else.</summary>
    public static bool TryParse(string? value, out BatchingPolicy policy)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case Measured:
                policy = BatchingPolicy.Measured;
                return true;
            case Fixed:
                policy = BatchingPolicy.Fixed;
                return true;
            default:
                policy = default;
                return false;
        }
    }

    /// <summary>The manifest name of <paramref name="policy"/>.</summary>
    public static string ToName(this BatchingPolicy policy) => policy == BatchingPolicy.Fixed ? Fixed : Measured;
}
