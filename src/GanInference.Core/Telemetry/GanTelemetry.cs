using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace GanInference.Core.Telemetry;

/// <summary>
/// The OpenTelemetry sources of the serving core. Both are named <see cref="Name"/>, which is what an
/// OpenTelemetry pipeline subscribes to (<c>AddSource("GanInference")</c>, <c>AddMeter("GanInference")</c>).
/// </summary>
public sealed class GanTelemetry
{
    /// <summary>Name of the <see cref="ActivitySource"/> and the <see cref="Meter"/>.</summary>
    public const string Name = "GanInference";

    /// <summary>Tag that carries the model name on every instrument and span.</summary>
    public const string ModelTag = "model";

    /// <summary>Spans for queue wait, batch inference and encoding.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Creates the instruments on <paramref name="meter"/> (normally one made by <c>IMeterFactory</c>).</summary>
    public GanTelemetry(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        Requests = meter.CreateCounter<long>("gan.requests", "{request}", "Generation requests finished, by model, rpc and status code.");
        Images = meter.CreateCounter<long>("gan.images", "{image}", "Images produced, by model.");
        RequestDuration = meter.CreateHistogram<double>("gan.request.duration", "s", "Time from receiving a request to sending its last image.");
        QueueDuration = meter.CreateHistogram<double>("gan.queue.duration", "s", "Time a request waited in its model's queue before its first item ran.");
        BatchSize = meter.CreateHistogram<long>("gan.batch.size", "{item}", "Items in each ONNX Runtime run.");
        InferenceDuration = meter.CreateHistogram<double>("gan.inference.duration", "s", "Duration of one batched ONNX Runtime run, including input preparation.");
        DroppedRequests = meter.CreateCounter<long>("gan.requests.dropped", "{request}", "Requests dropped before inference, by model and reason (queue_full, cancelled, deadline).");
    }

    /// <summary>Finished requests; tags: model, rpc, status.</summary>
    public Counter<long> Requests { get; }

    /// <summary>Images produced; tag: model.</summary>
    public Counter<long> Images { get; }

    /// <summary>End-to-end request duration in seconds; tags: model, rpc.</summary>
    public Histogram<double> RequestDuration { get; }

    /// <summary>Queue wait in seconds; tag: model.</summary>
    public Histogram<double> QueueDuration { get; }

    /// <summary>Items per batch; tag: model.</summary>
    public Histogram<long> BatchSize { get; }

    /// <summary>Batch inference duration in seconds; tag: model.</summary>
    public Histogram<double> InferenceDuration { get; }

    /// <summary>Requests dropped before compute; tags: model, reason.</summary>
    public Counter<long> DroppedRequests { get; }

    /// <summary>Convenience for tests and tools that have no <c>IMeterFactory</c>: a private meter of the same name.</summary>
    public static GanTelemetry CreateStandalone() => new(new Meter(Name));
}
