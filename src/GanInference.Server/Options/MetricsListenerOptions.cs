namespace GanInference.Server.Options;

/// <summary>The plain HTTP/1.1 metrics listener, bound from the <c>Metrics</c> configuration section.</summary>
public sealed class MetricsListenerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Metrics";

    /// <summary>Semicolon-separated URLs (e.g. <c>http://localhost:9464</c>); empty turns the listener off.</summary>
    public string? Urls { get; set; }
}
