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
        channel.MaxReceiveMessageSize = options.MaxReceiveMessageSize;
        channel.MaxSendMessageSize = options.MaxSendMessageSize;
        channel.ServiceConfig = CreateServiceConfig(options.Retry);
    }

    /// <summary>The socket handler, wrapped in <see cref="ApiKeyHandler"/> when a key is configured.</summary>
    public static HttpMessageHandler CreateHandler(GanClientOptions options)
    {
        var sockets = CreateSocketsHandler(options);
        return options.ApiKey is { } key ? new ApiKeyHandler(key) { InnerHandler = sockets } : sockets;
    }

    private static SocketsHttpHandler CreateSocketsHandler(GanClientOptions options) => new()
    {
        ConnectTimeout = options.ConnectTimeout,
        EnableMultipleHttp2Connections = options.EnableMultipleHttp2Connections,
        // Keep idle connections alive so a quiet client does not pay a reconnect on its next call.
        KeepAlivePingDelay = TimeSpan.FromSeconds(60),
        KeepAlivePingTimeout = TimeSpan.FromSeconds(30),
        PooledConnectionIdleTimeout = Timeout.InfiniteTimeSpan,
        AutomaticDecompression = DecompressionMethods.None,
    };

    public static GrpcChannel CreateChannel(GanClientOptions options)
    {
        var channelOptions = new GrpcChannelOptions
        {
            HttpHandler = CreateHandler(options),
            DisposeHttpClient = true,
        };
        Apply(options, channelOptions);
        return GrpcChannel.ForAddress(options.Address, channelOptions);
    }

    private static ServiceConfig? CreateServiceConfig(GanRetryOptions retry)
    {
        if (retry.MaxAttempts <= 1)
        {
            return null;
        }

        return new ServiceConfig
        {
            MethodConfigs =
            {
                new MethodConfig
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
                },
            },
        };
    }
}
