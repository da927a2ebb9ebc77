using System.Collections.Concurrent;
using Grpc.Core;
using HdrHistogram;

namespace GanInference.Cli.Bench;

/// <summary>
/// Collects the outcome of every measured request, from any thread: an HdrHistogram of latencies in
/// microseconds, counts by status code, the distinct error messages, and (for the plot) one sample per
/// request of when it completed and how long it took.
/// </summary>
internal sealed class LatencyRecorder
{
    /// <summary>Latencies up to one hour, 3 significant digits (0.1% resolution).</summary>
    private const long HighestTrackableMicroseconds = 3_600_000_000;

    private const int MaxDistinctErrors = 20;

    private readonly LongConcurrentHistogram _latencies = new(1, HighestTrackableMicroseconds, 3);
    private readonly ConcurrentDictionary<StatusCode, long> _statusCounts = new();
    private readonly ConcurrentDictionary<string, long> _errors = new(StringComparer.Ordinal);
    private readonly List<LatencySample> _samples = [];
    private readonly Lock _samplesLock = new();
    private long _sent;
    private long _images;

    public long Sent => Interlocked.Read(ref _sent);

    public long Images => Interlocked.Read(ref _images);

    public HistogramBase Latencies => _latencies;

    public IReadOnlyDictionary<StatusCode, long> StatusCounts => _statusCounts;

    public IReadOnlyDictionary<string, long> Errors => _errors;

    public void RecordSent() => Interlocked.Increment(ref _sent);

    /// <param name="completedAt">Seconds since the measured phase began.</param>
    /// <param name="latencyMicroseconds">From the request's intended send time to its reply.</param>
    public void RecordSuccess(double completedAt, long latencyMicroseconds, int images)
    {
        Record(completedAt, latencyMicroseconds, StatusCode.OK);
        Interlocked.Add(ref _images, images);
    }

    public void RecordFailure(double completedAt, long latencyMicroseconds, StatusCode status, string detail)
    {
        Record(completedAt, latencyMicroseconds, status);
        var key = $"{status}: {detail}";
        if (_errors.Count < MaxDistinctErrors || _errors.ContainsKey(key))
        {
            _errors.AddOrUpdate(key, 1, (_, n) => n + 1);
        }
    }

    /// <summary>Samples in completion order; copied, so the caller may keep them.</summary>
    public LatencySample[] Samples()
    {
        lock (_samplesLock)
        {
            var copy = _samples.ToArray();
            Array.Sort(copy, (a, b) => a.CompletedAt.CompareTo(b.CompletedAt));
            return copy;
        }
    }

    private void Record(double completedAt, long latencyMicroseconds, StatusCode status)
    {
        var clamped = Math.Clamp(latencyMicroseconds, 1, HighestTrackableMicroseconds);
        _latencies.RecordValue(clamped);
        _statusCounts.AddOrUpdate(status, 1, (_, n) => n + 1);
        lock (_samplesLock)
        {
            _samples.Add(new LatencySample(completedAt, clamped, status == StatusCode.OK));
        }
    }
}

/// <param name="CompletedAt">Seconds since the measured phase began.</param>
/// <param name="LatencyMicroseconds">Intended send to reply.</param>
/// <param name="Ok">False for a failed request.</param>
internal readonly record struct LatencySample(double CompletedAt, long LatencyMicroseconds, bool Ok);
