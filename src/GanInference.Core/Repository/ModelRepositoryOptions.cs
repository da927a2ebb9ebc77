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

    /// <summary>How batch size profiles are measured (<c>Models:Profiling</c>).</summary>
    public BatchProfilingOptions Profiling { get; set; } = new();

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

    /// <summary>Overrides <c>batching.maxRunsInFlight</c>.</summary>
    public int? MaxRunsInFlight { get; set; }

    /// <summary>Overrides <c>batching.policy</c>: <c>measured</c> or <c>fixed</c>.</summary>
    public string? Policy { get; set; }
}

/// <summary>
/// How a model's batch size profile is measured (images/s at batch 1, 2, 4, ... up to its maxBatchSize, through its
/// own runner): when load first arrives, and on demand through the admin API (<c>ProfileBatching</c>).
/// </summary>
public sealed class BatchProfilingOptions
{
    /// <summary>Upper bound of <see cref="MillisecondsPerSize"/>: a profile holds the model's queue while it runs.</summary>
    public const int MaxMillisecondsPerSize = 5000;

    /// <summary>
    /// Wall time measured per batch size, after one untimed run of that size (default 200). A model with maxBatchSize
    /// 64 measures 7 sizes, so its profile takes about 7 times this; with <c>maxRunsInFlight</c> 2 it also measures
    /// batch 1 with 1 and 2 runs at once and, when 2 pay, the 7 sizes again two at once: about 16 times this.
    /// </summary>
    public int MillisecondsPerSize { get; set; } = 200;

    /// <summary>
    /// How far below the best throughput (as a fraction) a larger batch size may lie and still be chosen (default 0.10,
    /// about the scatter of a 200 ms measurement per size on a shared CPU):
    /// the measured policy takes the largest such size.
    /// </summary>
    public double Tolerance { get; set; } = 0.10;

    /// <summary>
    /// How many times batch 1's throughput the chosen batch size must reach before the measured policy lets a request
    /// wait <c>maxQueueDelay</c> for others (default 1.5); below it, what is queued runs at once.
    /// </summary>
    public double WaitSpeedup { get; set; } = Batching.BatchProfilingSettings.DefaultWaitSpeedup;

    /// <summary>The settings the batchers use.</summary>
    public Batching.BatchProfilingSettings ToSettings() => new()
    {
        TimePerSize = TimeSpan.FromMilliseconds(MillisecondsPerSize),
        Tolerance = Tolerance,
        WaitSpeedup = WaitSpeedup,
    };
}
