using System.Net;
using System.Net.Http.Headers;

namespace GanInference.Cli.Bench;

/// <summary>
/// Reads the server's Prometheus histograms before and after a run and reports what the run added: the
/// batch sizes the dynamic batcher formed and the time requests queued. Found generically by name
/// (any histogram whose name contains one of the patterns), for the run's model only when the series
/// carries a model label.
/// </summary>
/// <param name="http">The client that reads the endpoint.</param>
/// <param name="candidates">
/// Where /metrics may be, in order: the first that answers is kept for the run. An explicit --metrics-url is the
/// only candidate; by default the gRPC port, then the server's HTTP/1.1 listener at its default ports (tried only
/// when the gRPC port answered without metrics).
/// </param>
/// <param name="apiKey">Sent as a bearer token to candidates on the server's own host; null for none.</param>
/// <param name="serverHost">The host of the gRPC address (the key never goes to another host).</param>
internal sealed class ServerMetricsScraper(HttpClient http, IReadOnlyList<Uri> candidates, string? apiKey = null, string? serverHost = null)
{
    public static readonly string[] DefaultPatterns = ["batch_size", "queue", "encode"];

    /// <summary>Default ports of the server's HTTP/1.1 listener: <c>Http:Urls</c> (DESIGN) and <c>Metrics:Urls</c> (earlier builds).</summary>
    public static readonly int[] HttpListenerPorts = [8000, 9464];

    private static readonly TimeSpan FallbackTimeout = TimeSpan.FromSeconds(2);

    // HTTP/1.1 first; an HTTP/2-only (h2c) gRPC port refuses it, so fall back to HTTP/2 prior knowledge and keep what worked.
    private Version _version = HttpVersion.Version11;
    private Uri? _chosen;

    public ServerMetricsScraper(HttpClient http, Uri metricsUrl)
        : this(http, [metricsUrl])
    {
    }

    /// <summary>The endpoint that answered (the first candidate until one has).</summary>
    public Uri Url => _chosen ?? candidates[0];

    /// <summary>The default candidates for a gRPC address: its /metrics, then the HTTP/1.1 listener's default ports on its host.</summary>
    public static IReadOnlyList<Uri> DefaultCandidates(Uri server) =>
        [new Uri(server, "/metrics"), .. HttpListenerPorts.Where(p => p != server.Port).Select(p => new UriBuilder(Uri.UriSchemeHttp, server.Host, p, "/metrics").Uri)];

    /// <summary>One scrape; null and a reason when the endpoint cannot be read (the bench goes on without it).</summary>
    public async Task<(IReadOnlyList<PrometheusHistogram>? Histograms, string? Error)> ScrapeAsync(CancellationToken cancellationToken)
    {
        var snapshot = await SnapshotAsync(cancellationToken).ConfigureAwait(false);
        return (snapshot.Histograms, snapshot.Error);
    }

    /// <summary>One scrape: the histograms and the server's runtime counters (<see cref="RuntimeCounters"/>).</summary>
    public async Task<MetricsSnapshot> SnapshotAsync(CancellationToken cancellationToken)
    {
        var (histograms, error) = await ScrapeHistogramsAsync(cancellationToken).ConfigureAwait(false);
        return new MetricsSnapshot(histograms, _lastCounters, error);
    }

    /// <summary>The .NET runtime's counters the server exports (OpenTelemetry runtime instrumentation): allocation, collections, pauses, memory.</summary>
    public static readonly string[] RuntimeCounters =
    [
        "dotnet_gc_heap_total_allocated_bytes_total", "dotnet_gc_collections_total", "dotnet_gc_pause_time_seconds_total", "dotnet_process_memory_working_set_bytes",
    ];

    private IReadOnlyDictionary<string, double>? _lastCounters;

    private async Task<(IReadOnlyList<PrometheusHistogram>? Histograms, string? Error)> ScrapeHistogramsAsync(CancellationToken cancellationToken)
    {
        _lastCounters = null;
        if (_chosen is not null)
        {
            return await ScrapeOneAsync(_chosen, cancellationToken, cancellationToken).ConfigureAwait(false);
        }

        var errors = new List<string>();
        for (var i = 0; i < candidates.Count; i++)
        {
            using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (i > 0)
            {
                limit.CancelAfter(FallbackTimeout);
            }

            var (histograms, error) = await ScrapeOneAsync(candidates[i], limit.Token, cancellationToken).ConfigureAwait(false);
            if (histograms is not null)
            {
                _chosen = candidates[i];
                return (histograms, null);
            }

            errors.Add(error ?? $"{candidates[i]}: no answer");

            // Only a gRPC port that answers without metrics (HTTP 404, or 400 to a protocol it does not serve there)
            // points to a separate listener; an unreachable host does not.
            if (i == 0 && error?.Contains(": HTTP 4", StringComparison.Ordinal) != true)
            {
                break;
            }
        }

        return (null, string.Join("; ", errors) + "; give --metrics-url with the address of the server's /metrics (its HTTP listener)");
    }

    /// <param name="cancellationToken">Ends this attempt (the caller's token, or a fallback's time limit).</param>
    /// <param name="callerToken">The caller's token: only its cancellation is an interruption rather than a timeout.</param>
    private async Task<(IReadOnlyList<PrometheusHistogram>? Histograms, string? Error)> ScrapeOneAsync(Uri url, CancellationToken cancellationToken, CancellationToken callerToken)
    {
        try
        {
            string text;
            try
            {
                text = await GetAsync(url, _version, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException first) when (_version == HttpVersion.Version11 && url.Scheme == Uri.UriSchemeHttp)
            {
                try
                {
                    text = await GetAsync(url, HttpVersion.Version20, cancellationToken).ConfigureAwait(false);
                }
                catch (HttpRequestException) when (first.StatusCode is not null)
                {
                    // An HTTP/1.1 server that answered (404) and does not speak h2c: its answer is the one to report.
                    throw first;
                }

                _version = HttpVersion.Version20;
            }

            _lastCounters = PrometheusText.ParseSamples(text, RuntimeCounters);
            return (PrometheusText.ParseHistograms(text), null);
        }
        catch (HttpRequestException e)
        {
            return (null, $"{url}: {e.Message}");
        }
        catch (OperationCanceledException) when (!callerToken.IsCancellationRequested)
        {
            return (null, $"{url}: timed out");
        }
    }

    private async Task<string> GetAsync(Uri url, Version version, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        if (apiKey is not null && string.Equals(url.Host, serverHost, StringComparison.OrdinalIgnoreCase))
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"HTTP {(int)response.StatusCode}", null, response.StatusCode);
        }

        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// What the server's runtime did during the run, from its counters before and after: bytes allocated (in total and
    /// per image received), collections per generation, GC pause time; null when the server exports none of them.
    /// </summary>
    public static ServerRuntime? RuntimeDifference(IReadOnlyDictionary<string, double>? before, IReadOnlyDictionary<string, double>? after, long images, double seconds)
    {
        if (before is null || after is null || !after.ContainsKey("dotnet_gc_heap_total_allocated_bytes_total"))
        {
            return null;
        }

        double? Delta(string key) => after.TryGetValue(key, out var a) && before.TryGetValue(key, out var b) ? a - b : null;
        var allocated = Delta("dotnet_gc_heap_total_allocated_bytes_total");
        var pause = Delta("dotnet_gc_pause_time_seconds_total");
        return new ServerRuntime(
            allocated,
            allocated is { } bytes && images > 0 ? bytes / images : null,
            Delta("dotnet_gc_collections_total{gc_heap_generation=gen0}"),
            Delta("dotnet_gc_collections_total{gc_heap_generation=gen1}"),
            Delta("dotnet_gc_collections_total{gc_heap_generation=gen2}"),
            pause * 1000,
            pause is { } p && seconds > 0 ? p / seconds : null,
            after.TryGetValue("dotnet_process_memory_working_set_bytes", out var workingSet) ? workingSet : null);
    }

    /// <summary>The run's share of each matching histogram (after minus before), one per family.</summary>
    public static IReadOnlyList<ServerHistogramReport> Difference(
        IReadOnlyList<PrometheusHistogram> before, IReadOnlyList<PrometheusHistogram> after, string model, IReadOnlyList<string> patterns)
    {
        var earlier = before.GroupBy(h => h.SeriesKey).ToDictionary(g => g.Key, g => g.First());
        var reports = new List<ServerHistogramReport>();
        foreach (var family in after
                     .Where(h => patterns.Any(p => h.Name.Contains(p, StringComparison.OrdinalIgnoreCase)))
                     .Where(h => !h.Labels.TryGetValue("model", out var m) || m == model)
                     .GroupBy(h => h.Name, StringComparer.Ordinal))
        {
            var diffs = family.Select(h => h.Minus(earlier.GetValueOrDefault(h.SeriesKey))).ToList();
            var total = diffs.Skip(1).Aggregate(diffs[0], (sum, next) => sum.Plus(next));
            reports.Add(ServerHistogramReport.From(total));
        }

        return reports;
    }
}

/// <summary>One scrape of /metrics: the histograms and the runtime counters, or why it failed.</summary>
internal sealed record MetricsSnapshot(IReadOnlyList<PrometheusHistogram>? Histograms, IReadOnlyDictionary<string, double>? Counters, string? Error);
