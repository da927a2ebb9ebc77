using GanInference.Cli.Bench;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests.Bench;

public sealed class PrometheusTextTests
{
    private const string Before = """
        # HELP gan_batch_size Items in each ONNX Runtime run.
        # TYPE gan_batch_size histogram
        gan_batch_size_bucket{model="a",otel_scope_name="GanInference",le="1"} 2 1700000000000
        gan_batch_size_bucket{model="a",otel_scope_name="GanInference",le="8"} 2
        gan_batch_size_bucket{model="a",otel_scope_name="GanInference",le="+Inf"} 3
        gan_batch_size_sum{model="a",otel_scope_name="GanInference"} 22
        gan_batch_size_count{model="a",otel_scope_name="GanInference"} 3
        gan_batch_size_bucket{model="b",le="1"} 5
        gan_batch_size_bucket{model="b",le="8"} 5
        gan_batch_size_bucket{model="b",le="+Inf"} 5
        gan_batch_size_sum{model="b"} 5
        gan_batch_size_count{model="b"} 5
        # TYPE gan_requests_total counter
        gan_requests_total{model="a"} 10
        """;

    private const string After = """
        # TYPE gan_batch_size histogram
        gan_batch_size_bucket{model="a",otel_scope_name="GanInference",le="1"} 2
        gan_batch_size_bucket{model="a",otel_scope_name="GanInference",le="8"} 12
        gan_batch_size_bucket{model="a",otel_scope_name="GanInference",le="+Inf"} 13
        gan_batch_size_sum{model="a",otel_scope_name="GanInference"} 82
        gan_batch_size_count{model="a",otel_scope_name="GanInference"} 13
        gan_batch_size_bucket{model="b",le="1"} 9
        gan_batch_size_bucket{model="b",le="8"} 9
        gan_batch_size_bucket{model="b",le="+Inf"} 9
        gan_batch_size_sum{model="b"} 9
        gan_batch_size_count{model="b"} 9
        # TYPE gan_queue_duration_seconds histogram
        gan_queue_duration_seconds_bucket{model="a",le="0.001"} 4
        gan_queue_duration_seconds_bucket{model="a",le="0.002"} 8
        gan_queue_duration_seconds_bucket{model="a",le="+Inf"} 8
        gan_queue_duration_seconds_sum{model="a"} 0.01
        gan_queue_duration_seconds_count{model="a"} 8
        """;

    [Fact]
    public void Parses_histogram_series_and_ignores_counters()
    {
        var histograms = PrometheusText.ParseHistograms(After);

        Assert.Equal(3, histograms.Count);
        var a = histograms.Single(h => h.Name == "gan_batch_size" && h.Labels["model"] == "a");
        Assert.Equal([1, 8, double.PositiveInfinity], a.Buckets.Select(b => b.UpperBound));
        Assert.Equal(13, a.Count);
        Assert.Equal(82, a.Sum);
        Assert.DoesNotContain("le", a.Labels.Keys);
    }

    [Fact]
    public void Difference_keeps_the_run_model_and_what_the_run_added()
    {
        var reports = ServerMetricsScraper.Difference(PrometheusText.ParseHistograms(Before), PrometheusText.ParseHistograms(After), "a", ServerMetricsScraper.DefaultPatterns);

        var batch = reports.Single(r => r.Name == "gan_batch_size");
        Assert.Equal(10, batch.Count);
        Assert.Equal(6, batch.Mean);
        Assert.Equal([new ServerBucket(8, 10)], batch.Buckets);
        // The median of 10 observations all in (1, 8] with mean 6: the buckets say no more than (1, 8].
        Assert.Equal(new ServerPercentile(null, 1, 8), batch.P50);
        Assert.Equal("(1, 8]", batch.P50.ToString());

        // A histogram absent before the run is taken whole; seconds are reported in milliseconds.
        var queue = reports.Single(r => r.Name == "gan_queue_duration_seconds");
        Assert.Equal("ms", queue.Unit);
        Assert.Equal(8, queue.Count);
        Assert.Equal(1.25, queue.Mean, 6);
        Assert.Equal(new ServerPercentile(null, 0, 1), queue.P50);
        Assert.Equal(new ServerPercentile(null, 1, 2), queue.P90);
    }

    [Theory]
    [InlineData(64, 1000, "64")]
    [InlineData(1, 1000, "1")]
    [InlineData(2, 10, "2")]
    public void Percentiles_are_exact_where_the_bounds_pin_them(int batch, int batches, string shown)
    {
        // Every batch had the same size: a bucket (32, 64] with mean 64, or (0, 1] / (1, 2] of whole numbers.
        var bounds = new[] { 1, 2, 4, 8, 16, 32, 64, 128 };
        var lines = bounds.Select(b => $"gan_batch_size_bucket{{model=\"a\",le=\"{b}\"}} {(b >= batch ? batches : 0)}")
            .Append($"gan_batch_size_bucket{{model=\"a\",le=\"+Inf\"}} {batches}")
            .Append($"gan_batch_size_sum{{model=\"a\"}} {batch * batches}")
            .Append($"gan_batch_size_count{{model=\"a\"}} {batches}");
        var text = "# TYPE gan_batch_size histogram\n" + string.Join("\n", lines);

        var report = ServerMetricsScraper.Difference([], PrometheusText.ParseHistograms(text), "a", ServerMetricsScraper.DefaultPatterns).Single();

        Assert.Equal((double)batch, report.P50.Exact);
        Assert.Equal(shown, report.P50.ToString());
        Assert.Equal(shown, report.P99.ToString());
    }

    [Theory]
    [InlineData("""m{a="x\"y",b="p\\q"} 1.5""", "x\"y", "p\\q", 1.5)]
    [InlineData("""m{a="1,2",b=""} +Inf""", "1,2", "", double.PositiveInfinity)]
    public void Label_values_may_hold_escapes_and_commas(string line, string a, string b, double value)
    {
        Assert.True(PrometheusText.TryParseSample(line, out var name, out var labels, out var parsed));
        Assert.Equal("m", name);
        Assert.Equal(a, labels["a"]);
        Assert.Equal(b, labels["b"]);
        Assert.Equal(value, parsed);
    }

    [Fact]
    public async Task Scraper_moves_on_to_the_http_listener_when_the_grpc_port_has_no_metrics()
    {
        // A server whose /metrics lives only on its HTTP listener: the first candidate answers 404, the next has it.
        await using var grpcPort = await StartAsync(app => app.MapGet("/", () => "no metrics here"));
        await using var httpListener = await StartAsync(app => app.MapGet("/metrics", () => Microsoft.AspNetCore.Http.Results.Text(After)));
        using var http = new HttpClient();
        var scraper = new ServerMetricsScraper(http, [new Uri(grpcPort.Urls.First() + "/metrics"), new Uri(httpListener.Urls.First() + "/metrics")]);

        var (histograms, error) = await scraper.ScrapeAsync(CancellationToken.None);

        Assert.Null(error);
        Assert.Equal(3, histograms!.Count);
        Assert.Equal(new Uri(httpListener.Urls.First() + "/metrics"), scraper.Url);
    }

    [Fact]
    public void Default_candidates_are_the_grpc_port_then_the_http_listener_ports_of_the_same_host()
    {
        var candidates = ServerMetricsScraper.DefaultCandidates(new Uri("http://10.0.0.5:5000"));

        Assert.Equal(["http://10.0.0.5:5000/metrics", "http://10.0.0.5:8000/metrics", "http://10.0.0.5:9464/metrics"], candidates.Select(c => c.ToString()));
    }

    private static async Task<Microsoft.AspNetCore.Builder.WebApplication> StartAsync(Action<Microsoft.AspNetCore.Builder.WebApplication> map)
    {
        var builder = Microsoft.AspNetCore.Builder.WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        map(app);
        await app.StartAsync();
        return app;
    }

    [Fact]
    public void The_server_runtime_counters_are_diffed_into_bytes_per_image_collections_and_pause_share()
    {
        const string before = """
            # TYPE dotnet_gc_heap_total_allocated_bytes_total counter
            dotnet_gc_heap_total_allocated_bytes_total{otel_scope_name="System.Runtime"} 1000000
            dotnet_gc_collections_total{otel_scope_name="System.Runtime",gc_heap_generation="gen2"} 1
            dotnet_gc_collections_total{otel_scope_name="System.Runtime",gc_heap_generation="gen0"} 10
            dotnet_gc_pause_time_seconds_total{otel_scope_name="System.Runtime"} 0.5
            dotnet_process_memory_working_set_bytes{otel_scope_name="System.Runtime"} 100
            gan_requests_total{model="a"} 10
            """;
        const string after = """
            dotnet_gc_heap_total_allocated_bytes_total{otel_scope_name="System.Runtime"} 5000000
            dotnet_gc_collections_total{otel_scope_name="System.Runtime",gc_heap_generation="gen2"} 3
            dotnet_gc_collections_total{otel_scope_name="System.Runtime",gc_heap_generation="gen0"} 30
            dotnet_gc_pause_time_seconds_total{otel_scope_name="System.Runtime"} 0.7
            dotnet_process_memory_working_set_bytes{otel_scope_name="System.Runtime"} 250
            """;

        var samples = PrometheusText.ParseSamples(before, ServerMetricsScraper.RuntimeCounters);
        var runtime = ServerMetricsScraper.RuntimeDifference(samples, PrometheusText.ParseSamples(after, ServerMetricsScraper.RuntimeCounters), images: 1000, seconds: 10);

        Assert.Equal(5, samples.Count); // gan_requests_total is not one of the names
        Assert.Equal(1, samples["dotnet_gc_collections_total{gc_heap_generation=gen2}"]);
        Assert.NotNull(runtime);
        Assert.Equal(4_000_000, runtime.AllocatedBytes);
        Assert.Equal(4_000, runtime.AllocatedBytesPerImage);
        Assert.Equal((20.0, (double?)null, 2.0), (runtime.Gen0Collections!.Value, runtime.Gen1Collections, runtime.Gen2Collections!.Value));
        Assert.Equal(200, runtime.GcPauseMs!.Value, 6);
        Assert.Equal(0.02, runtime.GcPauseShare!.Value, 6);
        Assert.Equal(250, runtime.WorkingSetBytes);
        Assert.Null(ServerMetricsScraper.RuntimeDifference(samples, new Dictionary<string, double>(), 1000, 10));
    }
}
