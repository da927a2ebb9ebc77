using System.Net;

namespace GanInference.Cli.Bench;

/// <summary>
/// Reads the server's Prometheus histograms before and after a run and reports what the run added: the
/// batch sizes the dynamic batcher formed and the time requests queued. Found generically by name
/// (any histogram whose name contains one of the patterns), for the run's model only when the series
/// carries a model label.
/// </summary>
internal sealed class ServerMetricsScraper(HttpClient http, Uri metricsUrl)
{
    public static readonly string[] DefaultPatterns = ["batch_size", "queue"];

    public Uri Url => metricsUrl;

    // HTTP/1.1 first; an HTTP/2-only (h2c) gRPC port refuses it, so fall back to HTTP/2 prior knowledge and keep what worked.
    private Version _version = HttpVersion.Version11;

    /// <summary>One scrape; null and a reason when the endpoint cannot be read (the bench goes on without it).</summary>
    public async Task<(IReadOnlyList<PrometheusHistogram>? Histograms, string? Error)> ScrapeAsync(CancellationToken cancellationToken)
    {
        try
        {
            string text;
            try
            {
                text = await GetAsync(_version, cancellationToken).ConfigureAwait(false);
            }
            catch (HttpRequestException) when (_version == HttpVersion.Version11 && metricsUrl.Scheme == Uri.UriSchemeHttp)
            {
                text = await GetAsync(HttpVersion.Version20, cancellationToken).ConfigureAwait(false);
                _version = HttpVersion.Version20;
            }

            return (PrometheusText.ParseHistograms(text), null);
        }
        catch (HttpRequestException e)
        {
            return (null, $"{metricsUrl}: {e.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"{metricsUrl}: timed out");
        }
    }

    private async Task<string> GetAsync(Version version, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, metricsUrl) { Version = version, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw new HttpRequestException($"HTTP {(int)response.StatusCode}", null, response.StatusCode);
        }

        return await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
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
