namespace GanInference.Server.Options;

/// <summary>Extra gRPC listeners (<c>Grpc</c> section), beside the TCP addresses of <c>--urls</c>.</summary>
public sealed class GrpcListenerOptions
{
    public const string SectionName = "Grpc";

    public const string UnixSocketKey = "Grpc:UnixSocket";

    /// <summary>
    /// A Unix domain socket (absolute path) that also serves gRPC (cleartext HTTP/2, as <c>--urls</c>), for clients on
    /// the same node (sidecars): no TCP/IP stack on the way. Empty (the default) turns it off. A socket file left by an
    /// earlier process is removed at start; any other file at the path stops the server.
    /// </summary>
    public string? UnixSocket { get; set; } = string.Empty;
}
