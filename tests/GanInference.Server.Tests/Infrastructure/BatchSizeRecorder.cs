using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using GanInference.Core.Telemetry;

namespace GanInference.Server.Tests.Infrastructure;

/// <summary>Every <c>gan.batch.size</c> recorded in this process for one model, in order.</summary>
internal sealed class BatchSizeRecorder : IDisposable
{
    private readonly MeterListener _listener;

    public BatchSizeRecorder(string model)
    {
        _listener = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == GanTelemetry.Name && instrument.Name == "gan.batch.size")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            },
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == GanTelemetry.ModelTag && (string?)tag.Value == model)
                {
                    Sizes.Enqueue(value);
                }
            }
        });
        _listener.Start();
    }

    public ConcurrentQueue<long> Sizes { get; } = new();

    public void Dispose() => _listener.Dispose();
}
