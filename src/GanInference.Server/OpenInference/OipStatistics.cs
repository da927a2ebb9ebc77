using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GanInference.Api.Inference;
using GanInference.Core.Telemetry;

namespace GanInference.Server.OpenInference;

/// <summary>
/// Triton's per-model statistics (<c>ModelStatistics</c>), read from this server's own <c>gan.*</c> instruments, so
/// they count every inference call of every surface (gan.v1, OIP gRPC, OIP REST): requests by outcome with their durations
/// (<c>gan.requests</c>, <c>gan.request.duration</c>), queue waits (<c>gan.queue.duration</c>), and per batched ONNX
/// Runtime run its size and duration (<c>gan.batch.size</c>, <c>gan.inference.duration</c>: inference count is the
/// items run, execution count the runs). Input preparation is part of the run (reported in <c>compute_infer</c>);
/// <c>compute_input</c> and <c>compute_output</c> stay zero.
/// </summary>
internal sealed class OipStatistics : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, Counters> _models = new(StringComparer.Ordinal);

    public OipStatistics(GanTelemetry telemetry)
    {
        var meter = telemetry.Requests.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name is "gan.request.duration" or "gan.queue.duration" or "gan.inference.duration" or "gan.batch.size")
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<double>(OnDouble);
        _listener.SetMeasurementEventCallback<long>(OnLong);
        _listener.Start();
    }

    /// <summary>The statistics of one model (a model never called has zeros).</summary>
    public ModelStatistics Get(string model)
    {
        var counters = _models.GetOrAdd(model, _ => new Counters());
        lock (counters)
        {
            return new ModelStatistics
            {
                Name = model,
                Version = OipModel.Version,
                LastInference = (ulong)counters.LastInferenceMs,
                InferenceCount = (ulong)counters.InferenceCount,
                ExecutionCount = (ulong)counters.ExecutionCount,
                InferenceStats = new InferStatistics
                {
                    Success = Duration(counters.Success),
                    Fail = Duration(counters.Fail),
                    Queue = Duration(counters.Queue),
                    ComputeInput = new StatisticDuration(),
                    ComputeInfer = Duration(counters.Infer),
                    ComputeOutput = new StatisticDuration(),
                    CacheHit = new StatisticDuration(),
                    CacheMiss = new StatisticDuration(),
                },
            };
        }
    }

    public void Dispose() => _listener.Dispose();

    private static StatisticDuration Duration((long Count, double Seconds) value) => new() { Count = (ulong)value.Count, Ns = (ulong)(value.Seconds * 1e9) };

    private static string? Tag(ReadOnlySpan<KeyValuePair<string, object?>> tags, string key)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == key)
            {
                return tag.Value as string;
            }
        }

        return null;
    }

    private void OnDouble(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        if (Tag(tags, GanTelemetry.ModelTag) is not { Length: > 0 } model)
        {
            return;
        }

        if (instrument.Name == "gan.request.duration" && !GanTelemetry.IsInferenceRpc(Tag(tags, "rpc") ?? string.Empty))
        {
            return;
        }

        var counters = _models.GetOrAdd(model, _ => new Counters());
        lock (counters)
        {
            switch (instrument.Name)
            {
                case "gan.request.duration" when Tag(tags, "status") == "OK":
                    counters.Success = (counters.Success.Count + 1, counters.Success.Seconds + value);
                    counters.LastInferenceMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
                    break;
                case "gan.request.duration":
                    counters.Fail = (counters.Fail.Count + 1, counters.Fail.Seconds + value);
                    break;
                case "gan.queue.duration":
                    counters.Queue = (counters.Queue.Count + 1, counters.Queue.Seconds + value);
                    break;
                case "gan.inference.duration":
                    counters.Infer = (counters.Infer.Count + 1, counters.Infer.Seconds + value);
                    break;
            }
        }
    }

    private void OnLong(Instrument instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        if (instrument.Name != "gan.batch.size" || Tag(tags, GanTelemetry.ModelTag) is not { Length: > 0 } model)
        {
            return;
        }

        var counters = _models.GetOrAdd(model, _ => new Counters());
        lock (counters)
        {
            counters.InferenceCount += value;
            counters.ExecutionCount++;
        }
    }

    private sealed class Counters
    {
        public (long Count, double Seconds) Success;
        public (long Count, double Seconds) Fail;
        public (long Count, double Seconds) Queue;
        public (long Count, double Seconds) Infer;
        public long InferenceCount;
        public long ExecutionCount;
        public long LastInferenceMs;
    }
}
