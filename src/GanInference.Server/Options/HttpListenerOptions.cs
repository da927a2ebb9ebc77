namespace GanInference.Server.Options;

/// <summary>The plain HTTP/1.1 listener (<c>Http</c> section) for everything that is not gRPC: <c>/metrics</c> today.</summary>
public sealed class HttpListenerOptions
{
    public const string SectionName = "Http";

    /// <summary>
    /// Where the HTTP/1.1 listener binds, <c>;</c>-separated (<c>http://0.0.0.0:8000</c>); empty turns it off.
    /// Default <c>http://localhost:8000</c>. gRPC keeps <c>--urls</c> (default <c>http://localhost:5000</c>): without TLS,
    /// Kestrel cannot offer HTTP/1.1 and cleartext HTTP/2 on one port, so each surface has its own.
    /// </summary>
    public string? Urls { get; set; } = "http://localhost:8000";
}
