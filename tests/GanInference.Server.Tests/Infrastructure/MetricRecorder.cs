using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GanInference.Core.Telemetry;

namespace GanInference.Server.Tests.Infrastructure;

/// <summary>Sums the <c>GanInference</c> counters and histogram counts seen in this process, by instrument, model and reason/status.</summary>
internal sealed class MetricRecorder : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<(string Instrument, string Model, string Detail), long> _totals = new();

    public MetricRecorder()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == GanTelemetry.Name)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument.Name, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, _, tags, _) => Add(instrument.Name, 1, tags));
        _listener.Start();
    }

    /// <summary>The total of a counter (or the number of histogram records) for one model, optionally one reason or status.</summary>
    public long Total(string instrument, string model, string? detail = null) =>
        _totals.Where(t => t.Key.Instrument == instrument && t.Key.Model == model && (detail is null || t.Key.Detail == detail)).Sum(t => t.Value);

    public void Dispose() => _listener.Dispose();

    public override string ToString() => string.Join(", ", _totals.OrderBy(t => t.Key).Select(t => $"{t.Key.Instrument}{{{t.Key.Model},{t.Key.Detail}}}={t.Value}"));

    private void Add(string instrument, long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var model = string.Empty;
        var detail = string.Empty;
        foreach (var tag in tags)
        {
            if (tag.Key == GanTelemetry.ModelTag)
            {
                model = tag.Value as string ?? string.Empty;
            }
            else if (tag.Key is "reason" or "status")
            {
                detail = tag.Value as string ?? string.Empty;
            }
        }

        _totals.AddOrUpdate((instrument, model, detail), value, (_, total) => total + value);
    }
}
