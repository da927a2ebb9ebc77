namespace GanInference.Core.Repository;

/// <summary>Where models live and how configuration overrides their manifests; bound from the <c>Models</c> section.</summary>
public sealed class ModelRepositoryOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Models";

    /// <summary>The model repository folder; a relative path is taken from the current directory.</summary>
    public string Path { get; set; } = "models";

    /// <summary>Batching values that override every manifest (null fields keep the manifest's).</summary>
    public BatchingOverrides Batching { get; set; } = new();

    /// <summary>Per-model batching overrides, by model name; they win over <see cref="Batching"/>.</summary>
    public Dictionary<string, BatchingOverrides> Overrides { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Watch the repository folder for added, changed and removed model folders (hot reload).</summary>
    public bool Watch { get; set; } = true;

    /// <summary>
    /// Rescans the folder this often even without file events, because file watching misses changes on some
    /// file systems (network and container mounts); 0 turns polling off.
    /// </summary>
    public double PollIntervalSeconds { get; set; } = 10;

    /// <summary>Quiet time after the last file event before reloading, so a folder being copied is read once it is complete.</summary>
    public int ReloadDebounceMilliseconds { get; set; } = 500;

    /// <summary>
    /// How long a replaced or removed model may still be held by running calls before a warning is logged. The
    /// version stays loaded until its last call ends (a reload never cuts a stream); only shutdown cuts them. Default 60.
    /// </summary>
    public double RetireTimeoutSeconds { get; set; } = 60;
}

/// <summary>Optional batching values from configuration.</summary>
public sealed class BatchingOverrides
{
    /// <summary>Overrides <c>batching.maxBatchSize</c>.</summary>
    public int? MaxBatchSize { get; set; }

    /// <summary>Overrides <c>batching.maxQueueDelayMs</c>.</summary>
    public double? MaxQueueDelayMs { get; set; }

    /// <summary>Overrides <c>batching.maxQueueSize</c>.</summary>
    public int? MaxQueueSize { get; set; }

    /// <summary>Overrides <c>batching.preferredBatchSizes</c>.</summary>
    public int[]? PreferredBatchSizes { get; set; }
}
