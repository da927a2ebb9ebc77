using GanInference.Server.Hosting;
using GanInference.Server.Options;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.OpenApi.Models;
using Microsoft.OpenApi.Writers;
using Swashbuckle.AspNetCore.Swagger;

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

    /// <summary>The path of the OpenAPI document (on the HTTP/1.1 listener).</summary>
    public const string OpenApiPath = "/openapi.json";

    private const string DocumentName = "v1";

    /// <summary>The OpenAPI document of the transcoded methods, written from gan.proto's comments.</summary>
    public static IServiceCollection AddGanV1OpenApi(this IServiceCollection services)
    {
        services.AddGrpcSwagger();
        services.AddSwaggerGen(swagger =>
        {
            swagger.SwaggerDoc(DocumentName, new OpenApiInfo
            {
                Title = "GanInference gan.v1 (JSON)",
                Version = "v1",
                Description = "gan.v1.GanInference as JSON over HTTP/1.1 (gRPC JSON transcoding of protos/gan/v1/gan.proto). 64-bit integers are strings; server-streaming methods answer newline-delimited JSON.",
            });
            swagger.SchemaFilter<Int64AsStringFilter>();
            var comments = Path.Combine(AppContext.BaseDirectory, "GanInference.Protos.xml");
            if (File.Exists(comments))
            {
                swagger.IncludeXmlComments(comments);
                swagger.IncludeGrpcXmlComments(comments, includeControllerXmlComments: true);
            }
        });
        return services;
    }

    /// <summary>Serves <see cref="OpenApiPath"/> on the HTTP/1.1 listener.</summary>
    public static WebApplication MapGanV1OpenApi(this WebApplication app)
    {
        app.Use(async (context, next) =>
        {
            if (context.Request.Path != OpenApiPath || !HttpMethods.IsGet(context.Request.Method) || !ServerListeners.IsHttpListenerRequest(context))
            {
                await next(context).ConfigureAwait(false);
                return;
            }

            context.Response.ContentType = "application/json";
            await context.Response.WriteAsync(OpenApiJson(context.RequestServices), context.RequestAborted).ConfigureAwait(false);
        });
        return app;
    }

    /// <summary>The OpenAPI 3 document as JSON (what <see cref="OpenApiPath"/> serves, and docs/openapi.json holds).</summary>
    public static string OpenApiJson(IServiceProvider services)
    {
        var document = services.GetRequiredService<ISwaggerProvider>().GetSwagger(DocumentName);
        using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        document.SerializeAsV3(new OpenApiJsonWriter(text));
        return text.ToString().ReplaceLineEndings("\n") + "\n";
    }

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

    /// <summary>64-bit integers travel as JSON strings (the transcoder writes them so); the document says so.</summary>
    private sealed class Int64AsStringFilter : Swashbuckle.AspNetCore.SwaggerGen.ISchemaFilter
    {
        public void Apply(OpenApiSchema schema, Swashbuckle.AspNetCore.SwaggerGen.SchemaFilterContext context) => Fix(schema);

        private static void Fix(OpenApiSchema schema)
        {
            if (schema.Type == "integer" && schema.Format is "int64" or "uint64")
            {
                schema.Type = "string";
            }

            foreach (var property in schema.Properties.Values)
            {
                Fix(property);
            }

            if (schema.Items is { } items)
            {
                Fix(items);
            }
        }
    }
}
