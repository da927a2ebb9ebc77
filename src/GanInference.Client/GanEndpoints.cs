using System.Net.Sockets;
using Grpc.Net.Client.Balancer;

namespace GanInference.Client;

/// <summary>How the configured addresses are reached: which kind of target, and what the channel is built for.</summary>
internal enum GanEndpointKind
{
    /// <summary>One <c>http://</c> or <c>https://</c> server.</summary>
    Single,

    /// <summary>Several <c>http://</c> or <c>https://</c> replicas, balanced round-robin by the channel.</summary>
    Static,

    /// <summary><c>dns:///host:port</c>: every address the name resolves to, balanced round-robin, re-resolved periodically.</summary>
    Dns,

    /// <summary><c>unix:///path/to.sock</c>: one server on a Unix domain socket.</summary>
    Unix,
}

/// <summary>
/// The addresses of a <see cref="GanClientOptions"/>, resolved into what a gRPC channel needs: the target URI, whether
/// the channel balances (and so needs a resolver and explicit credentials), and for a Unix socket its path.
/// </summary>
internal sealed class GanEndpoints
{
    /// <summary>The scheme of the channel target that <see cref="StaticResolverFactory"/> answers with the configured replicas.</summary>
    public const string StaticScheme = "static";

    private GanEndpoints(GanEndpointKind kind, Uri target, IReadOnlyList<Uri> addresses, string? socketPath)
    {
        Kind = kind;
        Target = target;
        Addresses = addresses;
        SocketPath = socketPath;
    }

    public GanEndpointKind Kind { get; }

    /// <summary>What <c>GrpcChannel.ForAddress</c> gets.</summary>
    public Uri Target { get; }

    /// <summary>The configured addresses, as given.</summary>
    public IReadOnlyList<Uri> Addresses { get; }

    /// <summary>The socket file of a <see cref="GanEndpointKind.Unix"/> target.</summary>
    public string? SocketPath { get; }

    /// <summary>True when the channel balances calls over several resolved addresses.</summary>
    public bool Balanced => Kind is GanEndpointKind.Static or GanEndpointKind.Dns;

    /// <summary>True when the replicas are reached over TLS (https:// addresses).</summary>
    public bool Tls => Addresses.Count > 0 && Addresses[0].Scheme == Uri.UriSchemeHttps;

    /// <summary>The addresses for messages: "http://a:5000, http://b:5000".</summary>
    public override string ToString() => string.Join(", ", Addresses.Select(a => a.ToString().TrimEnd('/')));

    /// <summary>Reads <see cref="GanClientOptions.Addresses"/> (when set) or <see cref="GanClientOptions.Address"/>; throws <see cref="ArgumentException"/> naming what is wrong.</summary>
    public static GanEndpoints From(GanClientOptions options)
    {
        var list = options.Addresses is { Count: > 0 } several ? several.ToArray() : [options.Address];
        var name = options.Addresses is { Count: > 0 } ? nameof(GanClientOptions.Addresses) : nameof(GanClientOptions.Address);
        foreach (var address in list)
        {
            if (address is null || !address.IsAbsoluteUri)
            {
                throw new ArgumentException($"{name}: '{address}' is not an absolute address (http://host:port, https://host:port, dns:///host:port or unix:///path/to.sock).", name);
            }

            if (address.Scheme is not ("http" or "https" or "dns" or "unix"))
            {
                throw new ArgumentException($"{name}: '{address}' has scheme '{address.Scheme}'; use http://, https://, dns:///host:port or unix:///path/to.sock.", name);
            }
        }

        if (list.Length == 1)
        {
            var only = list[0];
            switch (only.Scheme)
            {
                case "dns":
                    if (!string.IsNullOrEmpty(only.Authority) || only.AbsolutePath.Trim('/').Split(':') is not [{ Length: > 0 }, var port] || !int.TryParse(port, out var p) || p is < 1 or > 65535)
                    {
                        throw new ArgumentException($"{name}: '{only}' must be dns:///host:port (three slashes: no DNS server, the system resolver; the port is required).", name);
                    }

                    return new GanEndpoints(GanEndpointKind.Dns, only, list, null);
                case "unix":
                    if (!string.IsNullOrEmpty(only.Authority) || only.AbsolutePath.Length <= 1)
                    {
                        throw new ArgumentException($"{name}: '{only}' must be unix:///absolute/path/to.sock (three slashes).", name);
                    }

                    // The socket's path; the HTTP authority is a placeholder (every connection goes to the socket).
                    return new GanEndpoints(GanEndpointKind.Unix, new Uri("http://localhost"), list, Uri.UnescapeDataString(only.AbsolutePath));
                default:
                    return new GanEndpoints(GanEndpointKind.Single, only, list, null);
            }
        }

        if (list.FirstOrDefault(a => a.Scheme is not ("http" or "https")) is { } odd)
        {
            throw new ArgumentException($"{name}: '{odd}' cannot be combined with other addresses: balance over several http:// (or several https://) addresses, or give one dns:///host:port.", name);
        }

        if (list.Select(a => a.Scheme).Distinct().Count() > 1)
        {
            throw new ArgumentException($"{name}: mixes http:// and https:// addresses; one channel talks either cleartext or TLS to every replica.", name);
        }

        if (list.FirstOrDefault(a => a.AbsolutePath != "/") is { } withPath)
        {
            throw new ArgumentException($"{name}: '{withPath}' has a path; a balanced address is scheme, host and port only.", name);
        }

        return new GanEndpoints(GanEndpointKind.Static, new Uri($"{StaticScheme}:///gan-inference"), list, null);
    }

    /// <summary>The resolvers a balancing channel needs: the configured replicas for static:///, and DNS re-resolved every <paramref name="dnsRefresh"/>.</summary>
    public IServiceProvider CreateServiceProvider(TimeSpan dnsRefresh) => new ResolverServices(this, dnsRefresh);

    /// <summary>A minimal service provider holding the resolver factories (no dependency on a DI container).</summary>
    private sealed class ResolverServices(GanEndpoints endpoints, TimeSpan dnsRefresh) : IServiceProvider
    {
        private readonly ResolverFactory[] _resolvers =
        [
            new StaticResolverFactory(_ => endpoints.Addresses.Select(a => new BalancerAddress(a.Host, a.Port))),
            new DnsResolverFactory(dnsRefresh),
        ];

        // grpc-dotnet asks for every ResolverFactory and picks the one whose Name is the target's scheme; for anything
        // else (load balancer factories, logging) null means its defaults.
        public object? GetService(Type serviceType) => serviceType == typeof(IEnumerable<ResolverFactory>) ? _resolvers : null;
    }

    /// <summary>Connects every HTTP/2 connection of a Unix target to its socket file.</summary>
    public static async ValueTask<Stream> ConnectUnixAsync(string path, CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
