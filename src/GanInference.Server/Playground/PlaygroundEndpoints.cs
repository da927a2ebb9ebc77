using System.Collections.Frozen;
using System.Reflection;
using System.Security.Cryptography;
using System.Text.Json;
using GanInference.Core.Repository;
using GanInference.Server.Hosting;
using GanInference.Server.Options;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace GanInference.Server.Playground;

/// <summary>
/// The browser playground: static HTML, CSS and JavaScript embedded in this assembly (no build step, no CDN), served on
/// the HTTP/1.1 listener only, at <c>/</c> (the page) and <c>/playground/*</c> (its files, and <c>config.json</c> with the
/// limits the page checks before it uploads). These come before the API key check: they are the same for everyone, and
/// the page must load to ask for a key. Each model's <c>samples.png</c> (<c>/playground/samples/{model}.png</c>) comes
/// after it, like every call the page makes. Off with <c>Playground:Enabled=false</c>.
/// </summary>
internal static class PlaygroundEndpoints
{
    /// <summary>The path prefix of the page's files.</summary>
    public const string Prefix = "/playground/";

    /// <summary>The path prefix of the models' sample grids.</summary>
    public const string SamplesPrefix = "/playground/samples/";

    private const string ResourcePrefix = "playground/";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        [".html"] = "text/html; charset=utf-8",
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
        [".png"] = "image/png",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    // Everything the page loads comes from this server: no inline script, no other origin.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

    /// <summary>The page and its files (before the key check).</summary>
    public static WebApplication UsePlaygroundFiles(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<PlaygroundOptions>>().Value.Enabled)
        {
            return app;
        }

        var files = LoadFiles();
        var limits = app.Services.GetRequiredService<IOptions<ServerLimitsOptions>>().Value;
        files["config.json"] = StaticFile.Create("config.json", JsonSerializer.SerializeToUtf8Bytes(new
        {
            maxReceiveMessageBytes = limits.MaxReceiveMessageBytes,
            maxReceiveMessageBytesKey = ServerLimitsOptions.MaxReceiveMessageBytesKey,
            maxTextLength = limits.MaxTextLength,
            maxTextLengthKey = ServerLimitsOptions.MaxTextLengthKey,
            maxImagesPerRequest = limits.MaxImagesPerRequest,
            maxImagesPerRequestKey = ServerLimitsOptions.MaxImagesPerRequestKey,
            maxImagesPerTranslate = limits.MaxImagesPerTranslate,
            maxImagesPerTranslateKey = ServerLimitsOptions.MaxImagesPerTranslateKey,
        }), "application/json; charset=utf-8");
        var byPath = files.ToFrozenDictionary(StringComparer.Ordinal);

        app.Use((context, next) =>
        {
            var path = context.Request.Path.Value ?? string.Empty;
            if (!ServerListeners.IsHttpListenerRequest(context) || path.StartsWith(SamplesPrefix, StringComparison.Ordinal))
            {
                return next(context);
            }

            string? name = path switch
            {
                "/" or "/index.html" => "index.html",
                _ when path.StartsWith(Prefix, StringComparison.Ordinal) => path[Prefix.Length..],
                _ => null,
            };
            if (name is null)
            {
                return next(context);
            }

            if (!byPath.TryGetValue(name, out var file))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            if (!HttpMethods.IsGet(context.Request.Method) && !HttpMethods.IsHead(context.Request.Method))
            {
                context.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                context.Response.Headers.Allow = "GET, HEAD";
                return Task.CompletedTask;
            }

            return file.WriteAsync(context);
        });
        return app;
    }

    /// <summary>Each model's <c>samples.png</c> from its folder (after the key check).</summary>
    public static WebApplication UsePlaygroundSamples(this WebApplication app)
    {
        if (!app.Services.GetRequiredService<IOptions<PlaygroundOptions>>().Value.Enabled)
        {
            return app;
        }

        // Every other request (each gRPC call among them) passes on the next middleware's own task: no state machine here.
        app.Use((context, next) =>
        {
            var path = context.Request.Path.Value ?? string.Empty;
            if (!path.StartsWith(SamplesPrefix, StringComparison.Ordinal) || !path.EndsWith(".png", StringComparison.Ordinal) || !ServerListeners.IsHttpListenerRequest(context))
            {
                return next(context);
            }

            var model = path[SamplesPrefix.Length..^".png".Length];
            var file = SamplesFile(context.RequestServices.GetRequiredService<ModelRepository>(), model);
            if (file is null || !HttpMethods.IsGet(context.Request.Method))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return Task.CompletedTask;
            }

            context.Response.ContentType = "image/png";
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers.XContentTypeOptions = "nosniff";
            return context.Response.SendFileAsync(file, context.RequestAborted);
        });
        return app;
    }

    /// <summary>The samples.png beside a served model's ONNX file (a pipeline's: in the repository folder named after it).</summary>
    private static string? SamplesFile(ModelRepository repository, string model)
    {
        string? folder = null;
        if (repository.TryGet(model, out var served))
        {
            folder = Path.GetDirectoryName(served.ModelPath);
        }
        else if (repository.TryGetPipeline(model, out _) && model.IndexOfAny(['/', '\\']) < 0 && model is not "." and not "..")
        {
            folder = Path.Combine(repository.RootPath, model);
        }

        var file = folder is null ? null : Path.Combine(folder, "samples.png");
        return file is not null && File.Exists(file) ? file : null;
    }

    private static Dictionary<string, StaticFile> LoadFiles()
    {
        var assembly = typeof(PlaygroundEndpoints).Assembly;
        var files = new Dictionary<string, StaticFile>(StringComparer.Ordinal);
        foreach (var resource in assembly.GetManifestResourceNames())
        {
            if (!resource.StartsWith(ResourcePrefix, StringComparison.Ordinal))
            {
                continue;
            }

            var name = resource[ResourcePrefix.Length..];
            if (!ContentTypes.TryGetValue(Path.GetExtension(name), out var contentType))
            {
                continue;
            }

            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name] = StaticFile.Create(name, copy.ToArray(), contentType);
        }

        if (!files.ContainsKey("index.html"))
        {
            throw new InvalidOperationException($"the playground's index.html is not embedded in {assembly.GetName().Name}; the build lost Playground/Static");
        }

        return files;
    }

    /// <summary>One file, with a strong ETag (its SHA-256): browsers revalidate (<c>no-cache</c>) and get 304 while it is unchanged.</summary>
    private sealed record StaticFile(string Name, byte[] Content, string ContentType, string ETag)
    {
        public static StaticFile Create(string name, byte[] content, string contentType) =>
            new(name, content, contentType, $"\"{Convert.ToHexStringLower(SHA256.HashData(content))[..32]}\"");

        public Task WriteAsync(HttpContext context)
        {
            var headers = context.Response.Headers;
            headers.ETag = ETag;
            headers.CacheControl = "no-cache";
            headers.XContentTypeOptions = "nosniff";
            headers[HeaderNames.ContentSecurityPolicy] = ContentSecurityPolicy;
            headers["Referrer-Policy"] = "no-referrer";
            if (context.Request.Headers.IfNoneMatch.Any(tag => tag is not null && tag.Split(',').Any(t => t.Trim() == ETag)))
            {
                context.Response.StatusCode = StatusCodes.Status304NotModified;
                return Task.CompletedTask;
            }

            context.Response.ContentType = ContentType;
            context.Response.ContentLength = Content.Length;
            return HttpMethods.IsHead(context.Request.Method) ? Task.CompletedTask : context.Response.Body.WriteAsync(Content, context.RequestAborted).AsTask();
        }
    }
}
