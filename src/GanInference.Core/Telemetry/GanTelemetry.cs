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

    /// <summary>Tag of <see cref="BatchProfileThroughput"/>: the profiled batch size.</summary>
    public const string BatchSizeTag = "batch_size";

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
        EncodeDuration = meter.CreateHistogram<double>("gan.encode.duration", "s", "Time to encode one image of a reply (the RAW conversion or the PNG/JPEG encoder), by model and format.", null, SecondsAdvice);
        DroppedRequests = meter.CreateCounter<long>("gan.requests.dropped", "{request}", "Requests dropped before inference, by model and reason (queue_full, cancelled, deadline).");
        QueuedImages = meter.CreateUpDownCounter<long>("gan.queue.images", "{image}", "Images waiting in each model's batching queue (what an autoscaler reads as load).");
        InflightRequests = meter.CreateUpDownCounter<long>("gan.requests.inflight", "{request}", "Calls being served now, by model.");

        // Triton's per-model counters (nv_inference_*), as plain cumulative counters an autoscaler or dashboard rates directly.
        InferenceRequestSuccess = meter.CreateCounter<long>("gan.inference.request.success", "{request}", "Inference calls that succeeded, by model (Triton's nv_inference_request_success).");
        InferenceRequestFailure = meter.CreateCounter<long>("gan.inference.request.failure", "{request}", "Inference calls that failed, by model and status (Triton's nv_inference_request_failure).");
        InferenceCount = meter.CreateCounter<long>("gan.inference.count", "{image}", "Images inferred, by model: items of every ONNX Runtime run (Triton's nv_inference_count).");
        InferenceExecCount = meter.CreateCounter<long>("gan.inference.exec.count", "{batch}", "Batched ONNX Runtime runs, by model (Triton's nv_inference_exec_count).");
        InferenceRequestTime = meter.CreateCounter<double>("gan.inference.request.duration", "s", "Cumulative duration of inference calls, received to last image, by model (Triton's nv_inference_request_duration_us).");
        InferenceQueueTime = meter.CreateCounter<double>("gan.inference.queue.duration", "s", "Cumulative time requests waited in the model's queue, by model (Triton's nv_inference_queue_duration_us).");
        BatchProfileThroughput = meter.CreateGauge<double>("gan.batch.profile.throughput", "{image}/s", "Images per second of each batch size in the model's latest batch size profile, by model and batch_size (measured through the model's runner).");
        ChosenBatchSize = meter.CreateGauge<int>("gan.batch.chosen_size", "{item}", "Most items the batcher puts in one batch now, by model: the size the latest profile chose (policy measured), else batching.maxBatchSize.");
        RunsInFlight = meter.CreateGauge<int>("gan.batch.runs_in_flight", "{batch}", "Most batches a model's batcher runs at once now, by model: what the latest profile chose (policy measured), else batching.maxRunsInFlight.");
        InferenceComputeTime = meter.CreateCounter<double>("gan.inference.compute.duration", "s", "Cumulative duration of the batched ONNX Runtime runs, input preparation included, by model (Triton's nv_inference_compute_infer_duration_us).");
    }

    /// <summary>
    /// The calls that run a model; metadata, configuration and statistics calls are not inferences. The gRPC method
    /// names of gan.v1 and the Open Inference Protocol (also the <c>rpc</c> label of OIP REST's infer).
    /// </summary>
    public static bool IsInferenceRpc(string rpc) => rpc is "ModelInfer" or "Generate" or "GenerateStream" or "GenerateFromText" or "GenerateFromTextStream" or "Translate" or "TranslateStream";

    /// <summary>
    /// Counts one finished call of <paramref name="rpc"/> in the Triton-shaped counters when it is an inference of a
    /// loaded model (<paramref name="model"/> empty for an unknown one, which stays out of the per-model series).
    /// </summary>
    /// <param name="model">The model's name, or empty.</param>
    /// <param name="rpc">The method name (<see cref="IsInferenceRpc"/>).</param>
    /// <param name="status">The status as the surface names it (<c>OK</c>, <c>Unavailable</c>, <c>503</c>, ...).</param>
    /// <param name="succeeded">Whether the call succeeded.</param>
    /// <param name="seconds">Received to last reply.</param>
    public void RecordInferenceRequest(string model, string rpc, string status, bool succeeded, double seconds)
    {
        if (model.Length == 0 || !IsInferenceRpc(rpc))
        {
            return;
        }

        var modelTag = new KeyValuePair<string, object?>(ModelTag, model);
        if (succeeded)
        {
            InferenceRequestSuccess.Add(1, modelTag);
        }
        else
        {
            InferenceRequestFailure.Add(1, modelTag, new KeyValuePair<string, object?>("status", status));
        }

        InferenceRequestTime.Add(seconds, modelTag);
    }

    /// <summary>Successful inference calls; tag: model.</summary>
    public Counter<long> InferenceRequestSuccess { get; }

    /// <summary>Failed inference calls; tags: model, status.</summary>
    public Counter<long> InferenceRequestFailure { get; }

    /// <summary>Items run through the model (the sum of batch sizes); tag: model.</summary>
    public Counter<long> InferenceCount { get; }

    /// <summary>Batched runs executed; tag: model.</summary>
    public Counter<long> InferenceExecCount { get; }

    /// <summary>Cumulative inference call duration in seconds; tag: model.</summary>
    public Counter<double> InferenceRequestTime { get; }

    /// <summary>Cumulative queue wait in seconds; tag: model.</summary>
    public Counter<double> InferenceQueueTime { get; }

    /// <summary>Cumulative batched run duration in seconds; tag: model.</summary>
    public Counter<double> InferenceComputeTime { get; }

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

    /// <summary>Encode time of one image in seconds; tags: model, format (the API's name: PNG, JPEG, RAW_U8, RAW_F32).</summary>
    public Histogram<double> EncodeDuration { get; }

    /// <summary>Records the time one image took to encode, from <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> at its start.</summary>
    public void RecordEncode(string model, string format, long startTimestamp) =>
        EncodeDuration.Record(
            System.Diagnostics.Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds,
            new KeyValuePair<string, object?>(ModelTag, model),
            new KeyValuePair<string, object?>("format", format));

    /// <summary>Requests dropped before compute; tags: model, reason.</summary>
    public Counter<long> DroppedRequests { get; }

    /// <summary>Images/s of one batch size in a model's latest batch size profile (tags: model, batch_size).</summary>
    public Gauge<double> BatchProfileThroughput { get; }

    /// <summary>The batch size a model's batcher caps its batches at now (tag: model).</summary>
    public Gauge<int> ChosenBatchSize { get; }

    /// <summary>How many batches a model's batcher runs at once now (tag: model).</summary>
    public Gauge<int> RunsInFlight { get; }

    /// <summary>Convenience for tests and tools that have no <c>IMeterFactory</c>: a private meter of the same name.</summary>
    public static GanTelemetry CreateStandalone() => new(new Meter(Name));
}
