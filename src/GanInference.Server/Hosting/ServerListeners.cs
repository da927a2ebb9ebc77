using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace GanInference.Server.Hosting;

/// <summary>
/// Binds both surfaces on one Kestrel: the gRPC addresses (<c>--urls</c>, cleartext HTTP/2) and the HTTP/1.1
/// addresses (<c>Http:Urls</c>), and tells which bound address (port 0 resolved) belongs to which.
/// </summary>
public sealed class ServerListeners
{
    /// <summary>gRPC's address when <c>--urls</c> is not given: ASP.NET's own default.</summary>
    public const string DefaultGrpcUrls = "http://localhost:5000";

    private readonly List<(string Scheme, ListenOptions Options)> _grpc = [];
    private readonly List<(string Scheme, ListenOptions Options)> _http = [];

    /// <summary>The gRPC listener's bound addresses, e.g. <c>http://127.0.0.1:41877</c>.</summary>
    public IReadOnlyList<string> GrpcUrls => _grpc.Select(Describe).ToArray();

    /// <summary>The HTTP/1.1 listener's bound addresses; empty when it is off.</summary>
    public IReadOnlyList<string> HttpUrls => _http.Select(Describe).ToArray();

    /// <summary>The Unix domain socket that also serves gRPC (<c>Grpc:UnixSocket</c>), or null when it is off.</summary>
    public string? UnixSocket { get; private set; }

    /// <summary>True for a request that came in on the HTTP/1.1 listener.</summary>
    public static bool IsHttpListenerRequest(HttpContext context) =>
        HttpProtocol.IsHttp11(context.Request.Protocol) || HttpProtocol.IsHttp10(context.Request.Protocol);

    /// <summary>Parses a <c>;</c>-separated URL list; throws <see cref="FormatException"/> naming <paramref name="key"/>.</summary>
    public static IReadOnlyList<Uri> Parse(string? urls, string key)
    {
        var parsed = new List<Uri>();
        foreach (var url in (urls ?? string.Empty).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            // Kestrel's wildcard hosts are not valid URI hosts; read them as "any address".
            var normalised = url.Replace("://*:", "://0.0.0.0:", StringComparison.Ordinal).Replace("://+:", "://0.0.0.0:", StringComparison.Ordinal);
            if (!Uri.TryCreate(normalised, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.AbsolutePath != "/")
            {
                throw new FormatException($"{key}: '{url}' is not an address to listen on; write http://HOST:PORT (or https://), several separated by ';'");
            }

            parsed.Add(uri);
        }

        return parsed;
    }

    /// <summary>Adds the listeners to Kestrel (the caller passes no gRPC addresses when Kestrel's own configuration names endpoints).</summary>
    internal void Configure(KestrelServerOptions kestrel, IReadOnlyList<Uri> grpcUrls, IReadOnlyList<Uri> httpUrls, string? unixSocket = null)
    {
        // A path with a problem is not bound: OptionsValidators refuses it at start, naming Grpc:UnixSocket.
        if (!string.IsNullOrEmpty(unixSocket) && UnixSocketFile.Problem(unixSocket, Options.GrpcListenerOptions.UnixSocketKey) is null)
        {
            // A socket file left by an earlier process would make the bind fail; nothing else is ever removed.
            UnixSocketFile.RemoveIfStale(unixSocket);
            kestrel.ListenUnixSocket(unixSocket, listen => listen.Protocols = HttpProtocols.Http2);
            UnixSocket = unixSocket;
        }

        foreach (var uri in grpcUrls)
        {
            _grpc.Add((uri.Scheme, Listen(kestrel, uri, HttpProtocols.Http2)));
        }

        foreach (var uri in httpUrls)
        {
            _http.Add((uri.Scheme, Listen(kestrel, uri, HttpProtocols.Http1)));
        }
    }

    private static ListenOptions Listen(KestrelServerOptions kestrel, Uri uri, HttpProtocols protocols)
    {
        ListenOptions? bound = null;
        void Configure(ListenOptions listen)
        {
            listen.Protocols = protocols;
            if (uri.Scheme == Uri.UriSchemeHttps)
            {
                listen.UseHttps();
            }

            bound = listen;
        }

        if (uri.IsLoopback && uri.Host == "localhost")
        {
            kestrel.ListenLocalhost(uri.Port, Configure);
        }
        else if (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var address))
        {
            kestrel.Listen(address, uri.Port, Configure);
        }
        else
        {
            // A host name: Kestrel binds every address for those too.
            kestrel.ListenAnyIP(uri.Port, Configure);
        }

        return bound!;
    }

    private static string Describe((string Scheme, ListenOptions Options) listener)
    {
        var endpoint = listener.Options.IPEndPoint!;
        var host = endpoint.Address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        return string.Create(CultureInfo.InvariantCulture, $"{listener.Scheme}://{host}:{endpoint.Port}");
    }
}
