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

    // Bucket bounds for the histograms: OpenTelemetry's defaults (0, 5, 10, 25, ... 10000) are meant for
    // milliseconds and would put every queue wait in one bucket and every batch in three.
    private static readonly InstrumentAdvice<double> SecondsAdvice = new()
    {
        HistogramBucketBoundaries = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    };

    private static readonly InstrumentAdvice<long> BatchSizeAdvice = new()
    {
        HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
    };

    /// <summary>Spans for queue wait, batch inference and encoding.</summary>
    public static readonly ActivitySource ActivitySource = new(Name);

    /// <summary>Creates the instruments on <paramref name="meter"/> (normally one made by <c>IMeterFactory</c>).</summary>
    public GanTelemetry(Meter meter)
    {
        ArgumentNullException.ThrowIfNull(meter);
        Requests = meter.CreateCounter<long>("gan.requests", "{request}", "Generation requests finished, by model, rpc and status code.");
        Images = meter.CreateCounter<long>("gan.images", "{image}", "Images produced, by model.");
        RequestDuration = meter.CreateHistogram<double>("gan.request.duration", "s", "Time from receiving a request to sending its last image.", null, SecondsAdvice);
        QueueDuration = meter.CreateHistogram<double>("gan.queue.duration", "s", "Time a request waited in its model's queue before its first item ran.", null, SecondsAdvice);
        BatchSize = meter.CreateHistogram<long>("gan.batch.size", "{item}", "Items in each ONNX Runtime run.", null, BatchSizeAdvice);
        InferenceDuration = meter.CreateHistogram<double>("gan.inference.duration", "s", "Duration of one batched ONNX Runtime run, including input preparation.", null, SecondsAdvice);
        DroppedRequests = meter.CreateCounter<long>("gan.requests.dropped", "{request}", "Requests dropped before inference, by model and reason (queue_full, cancelled, deadline).");
        QueuedImages = meter.CreateUpDownCounter<long>("gan.queue.images", "{image}", "Images waiting in each model's batching queue (what an autoscaler reads as load).");
        InflightRequests = meter.CreateUpDownCounter<long>("gan.requests.inflight", "{request}", "Calls being served now, by model.");
    }

    /// <summary>Images waiting in a model's queue (rises on enqueue, falls when a batch takes them or they are dropped); tag: model.</summary>
    public UpDownCounter<long> QueuedImages { get; }

    /// <summary>Calls being served; tag: model.</summary>
    public UpDownCounter<long> InflightRequests { get; }

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
