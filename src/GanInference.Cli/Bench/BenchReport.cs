using System.Text.Json.Serialization;
using Grpc.Core;
using GanInference.Api.V1;
using HdrHistogram;

namespace GanInference.Cli.Bench;

/// <summary>The result of `gan bench` against a server; serialised as-is by <c>--json</c>.</summary>
internal sealed record BenchReport
{
    public required string Server { get; init; }

    public required string Model { get; init; }

    public required string Rpc { get; init; }

    /// <summary>The <c>--protocol</c>: gan (gan.v1), oip (OIP gRPC) or rest (OIP REST).</summary>
    public required string Protocol { get; init; }

    /// <summary>The <c>--kind</c>: seeds (Generate), text (GenerateFromText) or translate (Translate).</summary>
    public string Kind { get; init; } = BenchKinds.Seeds;

    /// <summary>The model's dynamic batching as the server reported it (so batching-on and -off runs are told apart).</summary>
    public required uint ServerMaxBatchSize { get; init; }

    public required double ServerMaxQueueDelayMs { get; init; }

    /// <summary>Execution provider the model runs on, e.g. "cpu".</summary>
    public required string ExecutionProvider { get; init; }

    /// <summary>"closed" (fixed concurrency) or "open" (fixed rate).</summary>
    public required string Mode { get; init; }

    public int? Concurrency { get; init; }

    public double? Rate { get; init; }

    /// <summary>Channels (TCP connections) the requests were spread over.</summary>
    public required int Connections { get; init; }

    public required int ImagesPerRequest { get; init; }

    public required string Format { get; init; }

    public required double WarmupSeconds { get; init; }

    public required double DurationSeconds { get; init; }

    /// <summary>From the start of the measured phase until its last request finished.</summary>
    public required double ElapsedSeconds { get; init; }

    /// <summary>Stopped early by Ctrl-C; the figures cover the part that ran.</summary>
    public bool Interrupted { get; init; }

    public required long WarmupRequests { get; init; }

    public required long Sent { get; init; }

    public required long Succeeded { get; init; }

    public required long Failed { get; init; }

    public required long Images { get; init; }

    public required double RequestsPerSecond { get; init; }

    public required double ImagesPerSecond { get; init; }

    /// <summary>Latency of all measured requests (successes and failures), milliseconds.</summary>
    public required LatencySummary LatencyMs { get; init; }

    /// <summary>ghz-style response-time histogram: ten equal-width buckets from fastest to slowest.</summary>
    public required IReadOnlyList<LatencyBucket> LatencyHistogram { get; init; }

    /// <summary>Request counts by gRPC status code name (OK, UNAVAILABLE, ...).</summary>
    public required IReadOnlyDictionary<string, long> StatusCodes { get; init; }

    /// <summary>Distinct error messages and their counts.</summary>
    public required IReadOnlyDictionary<string, long> Errors { get; init; }

    public required ServerSide ServerMetrics { get; init; }

    public CeilingComparison? Ceiling { get; init; }

    /// <summary>Assembles the report of a finished (or interrupted) load run.</summary>
    public static BenchReport Create(
        string server, ModelInfo model, BenchTarget target, LoadSettings settings, int connections, ImageFormat format, int count, LoadResult result, Uri metricsUrl,
        MetricsSnapshot before,
        MetricsSnapshot after,
        (string Path, CeilingReport Report)? ceiling)
    {
        var recorder = result.Recorder;
        var seconds = Math.Max(result.Elapsed.TotalSeconds, 1e-9);
        var succeeded = recorder.StatusCounts.GetValueOrDefault(StatusCode.OK);
        var completed = recorder.StatusCounts.Values.Sum();
        var imagesPerSecond = recorder.Images / seconds;
        var serverError = before.Error ?? after.Error;
        var histograms = serverError is null && before.Histograms is not null && after.Histograms is not null
            ? ServerMetricsScraper.Difference(before.Histograms, after.Histograms, model.Name, ServerMetricsScraper.DefaultPatterns)
            : [];

        CeilingComparison? comparison = null;
        if (ceiling is { } c && c.Report.Results.Count > 0)
        {
            var best = c.Report.Results.MaxBy(x => x.ImagesPerSecond)!;
            var same = c.Report.Results.FirstOrDefault(x => x.Batch == count);
            comparison = new CeilingComparison(
                c.Path, best.ImagesPerSecond, best.Batch, imagesPerSecond / best.ImagesPerSecond, same?.ImagesPerSecond, same is null ? null : imagesPerSecond / same.ImagesPerSecond);
        }

        return new BenchReport
        {
            Server = server,
            Model = model.Name,
            Rpc = target.Rpc,
            Protocol = target.Protocol,
            Kind = target.Kind,
            ServerMaxBatchSize = model.Batching?.MaxBatchSize ?? 0,
            ServerMaxQueueDelayMs = model.Batching?.MaxQueueDelayMs ?? 0,
            ExecutionProvider = model.ExecutionProvider,
            Mode = settings.Rate is null ? "closed" : "open",
            Concurrency = settings.Rate is null ? settings.Concurrency : null,
            Rate = settings.Rate,
            Connections = connections,
            ImagesPerRequest = count,
            Format = ValueParsers.FormatName(format),
            WarmupSeconds = settings.Warmup.TotalSeconds,
            DurationSeconds = settings.Duration.TotalSeconds,
            ElapsedSeconds = result.Elapsed.TotalSeconds,
            Interrupted = result.Interrupted,
            WarmupRequests = result.WarmupRequests,
            Sent = recorder.Sent,
            Succeeded = succeeded,
            Failed = completed - succeeded,
            Images = recorder.Images,
            RequestsPerSecond = completed / seconds,
            ImagesPerSecond = imagesPerSecond,
            LatencyMs = LatencySummary.From(recorder.Latencies),
            LatencyHistogram = LatencyBucket.Linear(recorder.Samples()),
            StatusCodes = recorder.StatusCounts.ToDictionary(s => BenchReport.StatusName(s.Key), s => s.Value),
            Errors = recorder.Errors.ToDictionary(e => e.Key, e => e.Value),
            ServerMetrics = new ServerSide(metricsUrl.ToString(), serverError, histograms)
            {
                Runtime = serverError is null ? ServerMetricsScraper.RuntimeDifference(before.Counters, after.Counters, recorder.Images, seconds) : null,
            },
            Ceiling = comparison,
        };
    }

    public static string StatusName(StatusCode code) => code switch
    {
        StatusCode.OK => "OK",
        _ => string.Concat(code.ToString().Select((c, i) => i > 0 && char.IsUpper(c) ? "_" + c : char.ToUpperInvariant(c).ToString())),
    };
}

internal sealed record LatencySummary(double Min, double Mean, double StdDev, double P10, double P25, double P50, double P75, double P90, double P95, double P99, double P999, double Max)
{
    public static LatencySummary From(HistogramBase microseconds)
    {
        if (microseconds.TotalCount == 0)
        {
            return new LatencySummary(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        }

        double At(double percentile) => microseconds.GetValueAtPercentile(percentile) / 1000.0;
        var min = microseconds.RecordedValues().First().ValueIteratedTo;
        return new LatencySummary(
            microseconds.LowestEquivalentValue(min) / 1000.0,
            microseconds.GetMean() / 1000.0,
            microseconds.GetStdDeviation() / 1000.0,
            At(10), At(25), At(50), At(75), At(90), At(95), At(99), At(99.9),
            microseconds.HighestEquivalentValue(microseconds.GetMaxValue()) / 1000.0);
    }
}

/// <param name="UpToMs">Upper edge of the bucket.</param>
/// <param name="Count">Requests whose latency fell in it.</param>
internal sealed record LatencyBucket(double UpToMs, long Count)
{
    public static IReadOnlyList<LatencyBucket> Linear(IEnumerable<LatencySample> samples, int buckets = 10)
    {
        var latencies = samples.Select(s => s.LatencyMicroseconds / 1000.0).ToArray();
        if (latencies.Length == 0)
        {
            return [];
        }

        var (min, max) = (latencies.Min(), latencies.Max());
        var width = Math.Max((max - min) / buckets, 1e-3);
        var counts = new long[buckets];
        foreach (var latency in latencies)
        {
            counts[Math.Min((int)((latency - min) / width), buckets - 1)]++;
        }

        return counts.Select((count, i) => new LatencyBucket(i == buckets - 1 ? max : min + ((i + 1) * width), count)).ToList();
    }
}

/// <param name="MetricsUrl">Where the histograms were read.</param>
/// <param name="Error">Why they could not be read, if so.</param>
/// <param name="Histograms">What the run added to each matching server histogram.</param>
internal sealed record ServerSide(string MetricsUrl, string? Error, IReadOnlyList<ServerHistogramReport> Histograms)
{
    /// <summary>The server process's .NET runtime during the measured phase (all of its work, not only this model's).</summary>
    public ServerRuntime? Runtime { get; init; }
}

/// <summary>
/// The server's .NET runtime during the measured phase, from the counters of its <c>/metrics</c> (the whole process:
/// every request it served meanwhile, and its own /metrics answers, which are small next to a load run).
/// </summary>
/// <param name="AllocatedBytes">Bytes the server allocated on the managed heap.</param>
/// <param name="AllocatedBytesPerImage">That divided by the images this run received (reply bytes included).</param>
/// <param name="Gen0Collections">Garbage collections of generation 0 (each also counts in the lower generations' totals as the runtime exports them).</param>
/// <param name="Gen1Collections">Of generation 1.</param>
/// <param name="Gen2Collections">Of generation 2 (full collections).</param>
/// <param name="GcPauseMs">Time the runtime was paused for collections.</param>
/// <param name="GcPauseShare">That as a fraction of the measured phase.</param>
/// <param name="WorkingSetBytes">The server's working set when the run ended.</param>
internal sealed record ServerRuntime(
    double? AllocatedBytes, double? AllocatedBytesPerImage, double? Gen0Collections, double? Gen1Collections, double? Gen2Collections, double? GcPauseMs, double? GcPauseShare, double? WorkingSetBytes);

/// <param name="Unit">"items" for sizes; "ms" for durations (converted from the exported seconds).</param>
/// <param name="P50">The median as far as the buckets tell it: exact when they pin it, else the bucket it lies in.</param>
internal sealed record ServerHistogramReport(string Name, string Unit, double Count, double Mean, ServerPercentile P50, ServerPercentile P90, ServerPercentile P99, IReadOnlyList<ServerBucket> Buckets)
{
    public static ServerHistogramReport From(PrometheusHistogram histogram)
    {
        var seconds = histogram.Name.EndsWith("_seconds", StringComparison.Ordinal);
        var scale = seconds ? 1000.0 : 1.0;
        var buckets = new List<ServerBucket>();
        var previous = 0.0;
        foreach (var bucket in histogram.Buckets)
        {
            var inBucket = bucket.CumulativeCount - previous;
            previous = bucket.CumulativeCount;
            if (inBucket > 0)
            {
                buckets.Add(new ServerBucket(double.IsPositiveInfinity(bucket.UpperBound) ? null : bucket.UpperBound * scale, inBucket));
            }
        }

        // Batch sizes are whole numbers: a bucket such as (0, 1] or (1, 2] holds one possible value.
        var integral = histogram.Name.Contains("batch_size", StringComparison.Ordinal);
        ServerPercentile At(double q) => ServerPercentile.From(histogram, q, integral, scale);
        return new ServerHistogramReport(
            histogram.Name,
            seconds ? "ms" : "items",
            histogram.Count,
            histogram.Count > 0 ? histogram.Sum / histogram.Count * scale : 0,
            At(0.5),
            At(0.9),
            At(0.99),
            buckets);
    }
}

/// <summary>
/// A percentile of a Prometheus histogram, claiming only what its buckets show: <see cref="Exact"/> when the
/// bounds pin the value (whole-number data in a bucket holding one whole number, or every observation in one
/// bucket with the mean at its upper bound), else the bucket: above <see cref="Above"/>, at most <see cref="AtMost"/>
/// (null: no upper bound). No interpolation inside a bucket, which used to report a median batch of 48 when every
/// batch had 64 images.
/// </summary>
internal sealed record ServerPercentile(double? Exact, double Above, double? AtMost)
{
    public static ServerPercentile From(PrometheusHistogram histogram, double q, bool integral, double scale)
    {
        if (histogram.QuantileBucket(q) is not var (lower, upper, inBucket))
        {
            return new ServerPercentile(null, 0, 0);
        }

        var finite = !double.IsPositiveInfinity(upper);
        double? exact = null;
        if (finite && integral && Math.Floor(upper) - Math.Floor(lower) == 1 && upper == Math.Floor(upper))
        {
            exact = upper;
        }
        else if (finite && inBucket == histogram.Count && Math.Abs(histogram.Sum - (upper * histogram.Count)) <= 1e-9 * Math.Max(1, Math.Abs(histogram.Sum)))
        {
            // Every observation is at most the bound and their mean is the bound: all equal it.
            exact = upper;
        }

        return new ServerPercentile(exact * scale, lower * scale, finite ? upper * scale : null);
    }

    /// <summary>"64", or "(32, 64]" (the bucket), or "> 64".</summary>
    public override string ToString()
    {
        static string F(double v) => v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture);
        return Exact is { } exact ? F(exact) : AtMost is { } atMost ? $"({F(Above)}, {F(atMost)}]" : $"> {F(Above)}";
    }
}

/// <param name="UpTo">The bucket's upper bound (null for +Inf).</param>
/// <param name="Count">Observations in this bucket alone.</param>
internal sealed record ServerBucket(double? UpTo, double Count);

/// <param name="File">The `gan bench --in-process` JSON compared with.</param>
/// <param name="BestImagesPerSecond">The ceiling's best batch size throughput.</param>
/// <param name="BestBatch">That batch size.</param>
/// <param name="Ratio">This run's images/s divided by the best ceiling.</param>
/// <param name="SameBatchImagesPerSecond">The ceiling at batch = images per request, when it was measured.</param>
/// <param name="SameBatchRatio">This run's images/s divided by <paramref name="SameBatchImagesPerSecond"/>.</param>
internal sealed record CeilingComparison(string File, double BestImagesPerSecond, int BestBatch, double Ratio, double? SameBatchImagesPerSecond, double? SameBatchRatio);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BenchReport))]
[JsonSerializable(typeof(CeilingReport))]
internal sealed partial class BenchJsonContext : JsonSerializerContext;
