using GanInference.Server.Options;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;

namespace GanInference.Server.Telemetry;

/// <summary>
/// Serves <c>/metrics</c> (Prometheus text) on its own plain HTTP/1.1 listener at <c>Metrics:Urls</c>.
/// </summary>
/// <remarks>
/// The main endpoints speak HTTP/2 only, because Kestrel cannot offer HTTP/1.1 and cleartext HTTP/2 on
/// one port (without TLS there is no protocol negotiation), and gRPC needs HTTP/2. Prometheus and
/// <c>curl</c> scrape over HTTP/1.1, so the same meter provider is exposed here as well; the main port
/// also answers <c>/metrics</c> over h2c (<c>curl --http2-prior-knowledge</c>).
/// </remarks>
public sealed partial class MetricsListener(
    MeterProvider meterProvider,
    IOptions<MetricsListenerOptions> options,
    ILogger<MetricsListener> logger) : IHostedService, IAsyncDisposable
{
    private WebApplication? _app;

    /// <summary>The bound addresses (port 0 resolved) once started; empty when disabled.</summary>
    public IReadOnlyList<string> Urls { get; private set; } = [];

    /// <inheritdoc />
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var urls = options.Value.Urls;
        if (string.IsNullOrWhiteSpace(urls))
        {
            return;
        }

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory });
        builder.WebHost.UseUrls(urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ConfigureEndpointDefaults(endpoint => endpoint.Protocols = HttpProtocols.Http1));
        builder.Logging.ClearProviders();
        _app = builder.Build();
        _app.UseOpenTelemetryPrometheusScrapingEndpoint(meterProvider, predicate: null, path: "/metrics", configureBranchedPipeline: null, optionsName: null);
        await _app.StartAsync(cancellationToken).ConfigureAwait(false);
        Urls = _app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
            .Features.Get<IServerAddressesFeature>()?.Addresses.ToArray() ?? [];
        LogListening(logger, string.Join(", ", Urls));
    }

    /// <inheritdoc />
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is not null)
        {
            await _app.StopAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _app = null;
        }
    }

    [LoggerMessage(EventId = 2201, Level = LogLevel.Information, Message = "Prometheus metrics over HTTP/1.1 at {Urls}/metrics")]
    private static partial void LogListening(ILogger logger, string urls);
}
