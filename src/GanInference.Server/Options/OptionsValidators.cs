using GanInference.Core.Batching;
using GanInference.Core.Generation;
using GanInference.Core.Repository;
using GanInference.Core.Translation;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Options;

/// <summary>
/// Start-up checks of every options class bound from configuration (run by <c>ValidateOnStart</c>): a value out of
/// range stops the server before it listens, and each failure names its configuration key and the range.
/// (<c>Http:Urls</c> is checked earlier, when the host is built: <see cref="Hosting.ServerListeners.Parse"/>.)
/// </summary>
internal sealed class OptionsValidators :
    IValidateOptions<ModelRepositoryOptions>,
    IValidateOptions<GenerationOptions>,
    IValidateOptions<TranslationOptions>,
    IValidateOptions<ShutdownOptions>,
    IValidateOptions<SecurityOptions>,
    IValidateOptions<TelemetryOptions>,
    IValidateOptions<ServerLimitsOptions>,
    IValidateOptions<GrpcListenerOptions>
{
    public ValidateOptionsResult Validate(string? name, ModelRepositoryOptions options)
    {
        var failures = new Failures();
        if (string.IsNullOrWhiteSpace(options.Path))
        {
            failures.Add("Models:Path is empty; give the model repository folder");
        }

        failures.AtLeast(options.PollIntervalSeconds, 0, "Models:PollIntervalSeconds", "seconds (0 turns polling off)");
        failures.AtLeast(options.ReloadDebounceMilliseconds, 0, "Models:ReloadDebounceMilliseconds", "milliseconds");
        failures.AtLeast(options.RetireTimeoutSeconds, 0, "Models:RetireTimeoutSeconds", "seconds");
        if (options.Profiling is null)
        {
            failures.Add("Models:Profiling must be a section (MillisecondsPerSize, Tolerance, WaitSpeedup)");
        }
        else
        {
            failures.Within(options.Profiling.MillisecondsPerSize, 1, BatchProfilingOptions.MaxMillisecondsPerSize, "Models:Profiling:MillisecondsPerSize", "milliseconds");
            failures.Within(options.Profiling.Tolerance, 0, 0.99, "Models:Profiling:Tolerance", "(a fraction of the best throughput)");
            failures.Within(options.Profiling.WaitSpeedup, 1, 1000, "Models:Profiling:WaitSpeedup", "(times batch 1's throughput)");
        }

        CheckBatching(failures, options.Batching, "Models:Batching");
        foreach (var (model, overrides) in options.Overrides)
        {
            CheckBatching(failures, overrides, $"Models:Overrides:{model}");
        }

        return failures.Result;
    }

    public ValidateOptionsResult Validate(string? name, GenerationOptions options)
    {
        var failures = new Failures();
        failures.AtLeast(options.EncodeParallelism, 0, "Generation:EncodeParallelism", "(0: one per processor)");
        failures.AtLeast(options.ChunkSize, 0, "Generation:ChunkSize", "images (0: automatic)");
        return failures.Result;
    }

    public ValidateOptionsResult Validate(string? name, TranslationOptions options)
    {
        var failures = new Failures();
        failures.AtLeast(options.StreamWindow, 0, "Translation:StreamWindow", "images (0: automatic)");
        failures.AtLeast(options.CodecParallelism, 0, "Translation:CodecParallelism", "(0: one per processor)");
        return failures.Result;
    }

    public ValidateOptionsResult Validate(string? name, ShutdownOptions options)
    {
        var failures = new Failures();
        failures.AtLeast(options.NotServingDelaySeconds, 0, "Shutdown:NotServingDelaySeconds", "seconds");
        failures.AtLeast(options.DrainTimeoutSeconds, 0, "Shutdown:DrainTimeoutSeconds", "seconds");
        return failures.Result;
    }

    public ValidateOptionsResult Validate(string? name, SecurityOptions options)
    {
        var failures = new Failures();
        for (var i = 0; i < options.ApiKeys.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.ApiKeys[i]))
            {
                failures.Add($"Security:ApiKeys:{i} is empty; remove it or give a key");
            }
        }

        for (var i = 0; i < options.AdminKeys.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(options.AdminKeys[i]))
            {
                failures.Add($"Security:AdminKeys:{i} is empty; remove it or give a key");
            }
            else if (options.ApiKeys.Contains(options.AdminKeys[i], StringComparer.Ordinal))
            {
                failures.Add($"Security:AdminKeys:{i} is also one of Security:ApiKeys; admin keys must differ from inference keys");
            }
        }

        return failures.Result;
    }

    public ValidateOptionsResult Validate(string? name, TelemetryOptions options)
    {
        var failures = new Failures();
        if (!string.IsNullOrWhiteSpace(options.OtlpEndpoint) && !Uri.TryCreate(options.OtlpEndpoint, UriKind.Absolute, out _))
        {
            failures.Add($"Telemetry:OtlpEndpoint '{options.OtlpEndpoint}' is not an absolute URL (e.g. http://collector:4317)");
        }

        return failures.Result;
    }

    public ValidateOptionsResult Validate(string? name, ServerLimitsOptions options)
    {
        var failures = new Failures();
        failures.AtLeast(options.MaxImagesPerRequest, 1, ServerLimitsOptions.MaxImagesPerRequestKey, "images");
        failures.AtLeast(options.MaxImagesPerStream, 1, ServerLimitsOptions.MaxImagesPerStreamKey, "images");
        failures.AtLeast(options.MaxImagesPerTranslate, 1, ServerLimitsOptions.MaxImagesPerTranslateKey, "images");
        failures.AtLeast(options.MaxTextsPerRequest, 1, ServerLimitsOptions.MaxTextsPerRequestKey, "texts");
        failures.AtLeast(options.MaxTextLength, 1, ServerLimitsOptions.MaxTextLengthKey, "characters");
        failures.AtLeast(options.MaxInputImagePixels, 1, ServerLimitsOptions.MaxInputImagePixelsKey, "pixels");
        failures.AtLeast(options.MaxPixelsPerRequest, 1, ServerLimitsOptions.MaxPixelsPerRequestKey, "pixels");
        failures.AtLeast(options.MaxReceiveMessageBytes, 1, ServerLimitsOptions.MaxReceiveMessageBytesKey, "bytes");
        failures.AtLeast(options.MaxSendMessageBytes, 1, ServerLimitsOptions.MaxSendMessageBytesKey, "bytes");
        failures.AtLeast(options.MaxConcurrentCallsPerConnection, 0, ServerLimitsOptions.MaxConcurrentCallsPerConnectionKey, "calls (0: Kestrel's default)");
        if (!ServerLimitsOptions.IsValidTransportBlockSize(options.TransportBlockBytes))
        {
            failures.Add($"{ServerLimitsOptions.TransportBlockBytesKey} is {options.TransportBlockBytes}; it must be 0 (Kestrel's own 4 KiB pool) " +
                $"or a power of two in {ServerLimitsOptions.MinTransportBlockBytes}..{ServerLimitsOptions.MaxTransportBlockBytes} bytes");
        }
        return failures.Result;
    }

    public ValidateOptionsResult Validate(string? name, GrpcListenerOptions options)
    {
        var failures = new Failures();
        var path = options.UnixSocket;
        if (string.IsNullOrEmpty(path))
        {
            return failures.Result;
        }

        if (Hosting.UnixSocketFile.Problem(path, GrpcListenerOptions.UnixSocketKey) is { } problem)
        {
            failures.Add(problem);
        }

        return failures.Result;
    }

    private static void CheckBatching(Failures failures, BatchingOverrides batching, string section)
    {
        failures.AtLeast(batching.MaxBatchSize, 1, $"{section}:MaxBatchSize", "items");
        failures.AtLeast(batching.MaxQueueDelayMs, 0, $"{section}:MaxQueueDelayMs", "milliseconds");
        failures.AtLeast(batching.MaxQueueSize, 1, $"{section}:MaxQueueSize", "requests");
        if (batching.MaxRunsInFlight is { } runs && runs is < 1 or > BatchingSettings.MaxRunsInFlightLimit)
        {
            failures.Add($"{section}:MaxRunsInFlight is {runs}; it must lie in 1..{BatchingSettings.MaxRunsInFlightLimit} (batches at once on the model's session)");
        }
        if (batching.PreferredBatchSizes is { } preferred)
        {
            for (var i = 0; i < preferred.Length; i++)
            {
                failures.AtLeast(preferred[i], 1, $"{section}:PreferredBatchSizes:{i}", "items");
            }
        }

        if (batching.Policy is { } policy && !BatchingPolicyNames.TryParse(policy, out _))
        {
            failures.Add($"{section}:Policy is '{policy}'; it must be one of: {BatchingPolicyNames.All}");
        }
    }

    /// <summary>The failures of one options class.</summary>
    private sealed class Failures
    {
        private readonly List<string> _messages = [];

        public ValidateOptionsResult Result => _messages.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(_messages);

        public void Add(string message) => _messages.Add(message);

        public void AtLeast(double? value, double min, string key, string unit)
        {
            if (value is { } v && (double.IsNaN(v) || v < min))
            {
                _messages.Add($"{key} is {v}; it must be at least {min} {unit}");
            }
        }

        public void Within(double value, double min, double max, string key, string unit)
        {
            if (double.IsNaN(value) || value < min || value > max)
            {
                _messages.Add($"{key} is {value}; it must lie in {min}..{max} {unit}");
            }
        }
    }
}
