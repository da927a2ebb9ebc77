namespace GanInference.Server.Options;

/// <summary>API keys, bound from the <c>Security</c> configuration section. TLS is Kestrel's own configuration (see docs/security.md).</summary>
public sealed class SecurityOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Security";

    /// <summary>
    /// Accepted keys; a call must send <c>authorization: Bearer &lt;key&gt;</c>. Empty turns API keys off.
    /// Give them through the environment (<c>Security__ApiKeys__0</c>) or a secrets file, not the command line.
    /// </summary>
    public List<string> ApiKeys { get; set; } = [];

    /// <summary>Let <c>grpc.health.v1.Health</c> through without a key (load balancers probe it). Default true.</summary>
    public bool ExemptHealth { get; set; } = true;

    /// <summary>Let server reflection through without a key. Default false.</summary>
    public bool ExemptReflection { get; set; }
}
