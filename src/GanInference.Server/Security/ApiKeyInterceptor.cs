using System.Security.Cryptography;
using System.Text;
using GanInference.Server.Options;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Security;

/// <summary>
/// Optional API keys: when <see cref="SecurityOptions.ApiKeys"/> is not empty every call must carry
/// <c>authorization: Bearer &lt;key&gt;</c> with one of them, else UNAUTHENTICATED. Health and reflection can be
/// exempted. Keys are compared as SHA-256 digests with <see cref="CryptographicOperations.FixedTimeEquals"/>, so
/// neither the content nor the length of a key leaks through timing.
/// </summary>
internal sealed partial class ApiKeyInterceptor : Interceptor
{
    private const string BearerPrefix = "Bearer ";
    private readonly byte[][] _keyDigests;
    private readonly string[] _exemptPrefixes;
    private readonly ILogger<ApiKeyInterceptor> _logger;

    public ApiKeyInterceptor(IOptions<SecurityOptions> options, ILogger<ApiKeyInterceptor> logger)
    {
        var security = options.Value;
        _keyDigests = security.ApiKeys.Where(k => !string.IsNullOrEmpty(k)).Select(Digest).ToArray();
        var exempt = new List<string>();
        if (security.ExemptHealth)
        {
            exempt.Add("/grpc.health.v1.Health/");
        }

        if (security.ExemptReflection)
        {
            exempt.Add("/grpc.reflection.v1alpha.ServerReflection/");
            exempt.Add("/grpc.reflection.v1.ServerReflection/");
        }

        _exemptPrefixes = [.. exempt];
        _logger = logger;
    }

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, context);
    }

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(request, responseStream, context);
    }

    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, context);
    }

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return continuation(requestStream, responseStream, context);
    }

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private void Authenticate(ServerCallContext context)
    {
        if (_keyDigests.Length == 0 || IsExempt(context.Method))
        {
            return;
        }

        var header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            LogRefused(_logger, context.Method, context.Peer, "no bearer token");
            throw new RpcException(new Status(StatusCode.Unauthenticated, "this server requires an API key: send the header 'authorization: Bearer <key>'"));
        }

        var presented = Digest(header[BearerPrefix.Length..].Trim());
        var match = false;

        // Every key is compared (no early exit), so the time taken does not say which key nearly matched.
        foreach (var key in _keyDigests)
        {
            match |= CryptographicOperations.FixedTimeEquals(presented, key);
        }

        if (!match)
        {
            LogRefused(_logger, context.Method, context.Peer, "unknown key");
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the API key is not valid"));
        }
    }

    private bool IsExempt(string method)
    {
        foreach (var prefix in _exemptPrefixes)
        {
            if (method.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "Refused {Method} from {Peer}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string method, string peer, string reason);
}
