namespace GanInference.Server.Options;

/// <summary>API keys, bound from the <c>Security</c> section.</summary>
public sealed class SecurityOptions
{
    public const string SectionName = "Security";

    /// <summary>
    /// Keys for the inference surfaces (<c>authorization: Bearer &lt;key&gt;</c>). Empty (the default): no key is needed.
    /// </summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>
    /// Keys for <c>gan.v1.GanAdmin</c>, separate from <see cref="ApiKeys"/>: when set, only these open admin calls, and
    /// they open nothing else. Empty (the default): admin calls take the <see cref="ApiKeys"/> like every other call.
    /// </summary>
    public List<string> AdminKeys { get; set; } = [];

    /// <summary>Let <c>grpc.health.v1.Health</c> and the Open Inference Protocol's <c>ServerLive</c>/<c>ServerReady</c> and <c>/v2/health/*</c> through without a key (load balancers probe them). Default true.</summary>
    public bool ExemptHealth { get; set; } = true;

    /// <summary>Let server reflection through without a key. Default false.</summary>
    public bool ExemptReflection { get; set; }

    /// <summary>Let Prometheus scrape <c>/metrics</c> on the HTTP listener without a key. Default true.</summary>
    public bool ExemptMetrics { get; set; } = true;
}
