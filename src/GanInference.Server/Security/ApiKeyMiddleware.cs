using System.Security.Cryptography;
using System.Text;
using GanInference.Server.Options;
using GanInference.Server.Services;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Security;

/// <summary>
/// Optional API keys, checked first for every request on every listener, before anything reads the body: when
/// keys are configured a call must carry <c>authorization: Bearer &lt;key&gt;</c> with one of them, else gRPC calls
/// get UNAUTHENTICATED (trailers-only) and HTTP requests 401 with a JSON error. <c>gan.v1.GanAdmin</c> takes
/// <see cref="SecurityOptions.AdminKeys"/> when they are set. Health, reflection and <c>/metrics</c> can be exempted.
/// Keys are compared as SHA-256 digests with <see cref="CryptographicOperations.FixedTimeEquals"/>, so neither the
/// content nor the length of a key leaks through timing.
/// </summary>
internal sealed partial class ApiKeyMiddleware
{
    private const string BearerPrefix = "Bearer ";
    private const string AdminPrefix = "/gan.v1.GanAdmin/";
    private readonly RequestDelegate _next;
    private readonly byte[][] _apiKeys;
    private readonly byte[][] _adminKeys;
    private readonly string[] _exemptPrefixes;
    private readonly ILogger<ApiKeyMiddleware> _logger;

    public ApiKeyMiddleware(RequestDelegate next, IOptions<SecurityOptions> options, ILogger<ApiKeyMiddleware> logger)
    {
        var security = options.Value;
        _next = next;
        _apiKeys = Digests(security.ApiKeys);
        _adminKeys = Digests(security.AdminKeys);
        var exempt = new List<string>();
        if (security.ExemptHealth)
        {
            exempt.Add("/grpc.health.v1.Health/");

            // The Open Inference Protocol's liveness and readiness probes, gRPC and REST.
            exempt.Add("/inference.GRPCInferenceService/ServerLive");
            exempt.Add("/inference.GRPCInferenceService/ServerReady");
            exempt.Add("/v2/health/");
        }

        if (security.ExemptReflection)
        {
            exempt.Add("/grpc.reflection.v1alpha.ServerReflection/");
            exempt.Add("/grpc.reflection.v1.ServerReflection/");
        }

        if (security.ExemptMetrics)
        {
            exempt.Add("/metrics");
        }

        _exemptPrefixes = [.. exempt];
        _logger = logger;
    }

    public Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        var admin = path.StartsWith(AdminPrefix, StringComparison.Ordinal);
        var keys = admin && _adminKeys.Length > 0 ? _adminKeys : _apiKeys;
        if (keys.Length == 0 || IsExempt(path))
        {
            return _next(context);
        }

        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            LogRefused(_logger, path, context.Connection.RemoteIpAddress?.ToString(), "no bearer token");
            return RefuseAsync(context, "this server requires an API key: send the header 'authorization: Bearer <key>'");
        }

        if (!Matches(keys, header[BearerPrefix.Length..].Trim()))
        {
            LogRefused(_logger, path, context.Connection.RemoteIpAddress?.ToString(), admin ? "not an admin key" : "unknown key");
            return RefuseAsync(context, admin && _adminKeys.Length > 0
                ? "the API key is not valid for admin calls (they take one of Security:AdminKeys)"
                : "the API key is not valid");
        }

        return _next(context);
    }

    private static byte[][] Digests(List<string> keys) => keys.Where(k => !string.IsNullOrEmpty(k)).Select(Digest).ToArray();

    private static byte[] Digest(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    private static bool Matches(byte[][] keys, string presentedKey)
    {
        var presented = Digest(presentedKey);
        var match = false;

        // Every key is compared (no early exit), so the time taken does not say which key nearly matched.
        foreach (var key in keys)
        {
            match |= CryptographicOperations.FixedTimeEquals(presented, key);
        }

        return match;
    }

    private static async Task RefuseAsync(HttpContext context, string message)
    {
        if (GrpcTrailersOnlyResponse.IsGrpc(context.Request))
        {
            await GrpcTrailersOnlyResponse.WriteAsync(context, StatusCode.Unauthenticated, message).ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer";
        await context.Response.WriteAsJsonAsync(new { error = message }).ConfigureAwait(false);
    }

    private bool IsExempt(string path)
    {
        foreach (var prefix in _exemptPrefixes)
        {
            if (path.StartsWith(prefix, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    [LoggerMessage(EventId = 2401, Level = LogLevel.Warning, Message = "Refused {Path} from {Peer}: {Reason}")]
    private static partial void LogRefused(ILogger logger, string path, string? peer, string reason);
}
