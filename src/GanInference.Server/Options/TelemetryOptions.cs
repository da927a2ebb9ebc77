namespace GanInference.Server.Options;

/// <summary>Telemetry export settings, bound from the <c>Telemetry</c> configuration section.</summary>
public sealed class TelemetryOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Telemetry";

    /// <summary>OTLP collector endpoint (e.g. <c>http://otel-collector:4317</c>); traces and metrics are exported there when set.</summary>
    public string? OtlpEndpoint { get; set; }

    /// <summary>Service name reported in the OpenTelemetry resource.</summary>
    public string ServiceName { get; set; } = "gan-inference";
}
