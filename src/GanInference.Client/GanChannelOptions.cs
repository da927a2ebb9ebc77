using System.Net;
using Grpc.Core;
using Grpc.Net.Client;
using Grpc.Net.Client.Configuration;

namespace GanInference.Client;

/// <summary>
/// Turns <see cref="GanClientOptions"/> into gRPC channel settings; shared by the directly built
/// channel and the one Grpc.Net.ClientFactory builds for dependency injection.
/// </summary>
internal static class GanChannelOptions
{
    public static void Apply(GanClientOptions options, GrpcChannelOptions channel)
    {
        var endpoints = GanEndpoints.From(options);
        channel.MaxReceiveMessageSize = options.MaxReceiveMessageSize;
        channel.MaxSendMessageSize = options.MaxSendMessageSize;
        channel.ServiceConfig = CreateServiceConfig(options.Retry, endpoints.Balanced);
        if (endpoints.Balanced)
        {
            // static:/// and dns:/// carry no scheme of their own: the credentials say cleartext (h2c) or TLS.
            channel.Credentials = endpoints.Tls ? ChannelCredentials.SecureSsl : ChannelCredentials.Insecure;
            channel.ServiceProvider = endpoints.CreateServiceProvider(options.DnsRefreshInterval);
        }
    }

    /// <summary>The address the channel is built for (<c>static:///…</c> for several replicas, a placeholder for a Unix socket).</summary>
    public static Uri Target(GanClientOptions options) => GanEndpoints.From(options).Target;

    /// <summary>The socket handler, wrapped in <see cref="ApiKeyHandler"/> when a key is configured.</summary>
    public static HttpMessageHandler CreateHandler(GanClientOptions options)
    {
        var sockets = CreateSocketsHandler(options);
        return options.ApiKey is { } key ? new ApiKeyHandler(key) { InnerHandler = sockets } : sockets;
    }

    private static SocketsHttpHandler CreateSocketsHandler(GanClientOptions options)
    {
        var handler = NewSocketsHandler(options);
        if (GanEndpoints.From(options) is { Kind: GanEndpointKind.Unix, SocketPath: { } path })
        {
            handler.ConnectCallback = (_, cancellationToken) => GanEndpoints.ConnectUnixAsync(path, cancellationToken);
        }

        return handler;
    }

    private static SocketsHttpHandler NewSocketsHandler(GanClientOptions options) => new()
    {
        ConnectTimeout = options.ConnectTimeout,
        EnableMultipleHttp2Connections = options.EnableMultipleHttp2Connections,
        // Keep idle connections alive so a quiet client does not pay a reconnect on its next call.
        KeepAlivePingDelay = TimeSpan.FromSeconds(60),
        KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        AutomaticDecompression = DecompressionMethods.None,
        InitialHttp2StreamWindowSize = options.InitialStreamWindowBytes,
    };

    public static GrpcChannel CreateChannel(GanClientOptions options)
    {
        var channelOptions = new GrpcChannelOptions
        {
            HttpHandler = CreateHandler(options),
            DisposeHttpClient = true,
        };
        Apply(options, channelOptions);
        return GrpcChannel.ForAddress(Target(options), channelOptions);
    }

    private static ServiceConfig? CreateServiceConfig(GanRetryOptions retry, bool balanced)
    {
        if (retry.MaxAttempts <= 1 && !balanced)
        {
            return null;
        }

        var config = new ServiceConfig();
        if (balanced)
        {
            // One HTTP/2 connection per replica; each call picks the next ready replica (a failed one is skipped until it reconnects).
            config.LoadBalancingConfigs.Add(new RoundRobinConfig());
        }

        if (retry.MaxAttempts > 1)
        {
            config.MethodConfigs.Add(new MethodConfig
            {
                Names = { MethodName.Default },
                RetryPolicy = new RetryPolicy
                {
                    MaxAttempts = retry.MaxAttempts,
                    InitialBackoff = retry.InitialBackoff,
                    MaxBackoff = retry.MaxBackoff,
                    BackoffMultiplier = retry.BackoffMultiplier,
                    RetryableStatusCodes = { StatusCode.Unavailable },
                },
            });
        }

        return config;
    }
}
