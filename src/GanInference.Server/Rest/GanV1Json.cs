using GanInference.Server.Hosting;
using GanInference.Server.Options;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Rest;

/// <summary>
/// <c>gan.v1</c> as JSON over HTTP/1.1: ASP.NET Core's gRPC JSON transcoding of the <c>google.api.http</c> rules in
/// gan.proto (<c>GET /v1/models</c>, <c>POST /v1/models/{model}:generate</c>, ...), served on the HTTP/1.1 listener
/// only, through the same interceptors (keys, drain, deadline, error mapping, metrics) as gRPC calls. JSON bodies are
/// bounded by <c>Limits:MaxReceiveMessageBytes</c>.
/// </summary>
internal static class GanV1Json
{
    /// <summary>The path prefix of the transcoded methods.</summary>
    public const string Prefix = "/v1/";

    /// <summary>Only the HTTP/1.1 listener serves <c>/v1/</c>; JSON bodies get our own size limit.</summary>
    public static WebApplication UseGanV1JsonOnHttpListener(this WebApplication app)
    {
        var maxBytes = app.Services.GetRequiredService<IOptions<ServerLimitsOptions>>().Value.MaxReceiveMessageBytes;
        app.Use((context, next) =>
        {
            if (!(context.Request.Path.Value ?? string.Empty).StartsWith(Prefix, StringComparison.Ordinal))
            {
                return next(context);
            }

            if (!ServerListeners.IsHttpListenerRequest(context))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            if (context.Request.ContentLength > maxBytes)
            {
                context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
                return context.Response.WriteAsJsonAsync(new { code = 8, message = $"request body: {context.Request.ContentLength} bytes is over the limit of {maxBytes} bytes ({ServerLimitsOptions.MaxReceiveMessageBytesKey})" });
            }

            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
            {
                bodySize.MaxRequestBodySize = maxBytes;
            }

            return next(context);
        });
        return app;
    }
}
