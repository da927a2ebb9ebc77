using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GanInference.Api.Inference;
using GanInference.Core.Errors;
using GanInference.Core.Repository;
using GanInference.Core.Telemetry;
using GanInference.Server.Hosting;
using GanInference.Server.Options;
using Google.Protobuf;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace GanInference.Server.OpenInference;

/// <summary>
/// The Open Inference Protocol's REST surface (<c>/v2/...</c>), on the HTTP/1.1 listener only: health, server and
/// model metadata, Triton's config and statistics, and <c>infer</c> with the JSON body of the specification and its
/// binary-data extension (<c>Inference-Header-Content-Length</c>, <c>binary_data_size</c>, <c>binary_data</c>).
/// Infer runs through <see cref="OipInference"/>, as the gRPC service does. Errors are <c>{"error": "..."}</c>
/// with the HTTP status of the gRPC code (docs/open-inference-protocol.md). Bodies are bounded by
/// <c>Limits:MaxReceiveMessageBytes</c>; the deadline comes from the <c>timeout_ms</c> query parameter or the
/// <c>Inference-Timeout-Ms</c> header.
/// </summary>
internal sealed partial class OipRestMiddleware(
    RequestDelegate next,
    ModelRepository repository,
    ServingState servingState,
    OipInference inference,
    OipStatistics statistics,
    GanTelemetry telemetry,
    TimeProvider time,
    IOptions<ServerLimitsOptions> limits,
    ILogger<OipRestMiddleware> logger)
{
    /// <summary>The binary-data extension's header: the length of the JSON part of a body.</summary>
    public const string HeaderLengthHeader = "Inference-Header-Content-Length";

    /// <summary>A REST call's deadline, in milliseconds from arrival (also the query parameter <c>timeout_ms</c>).</summary>
    public const string TimeoutHeader = "Inference-Timeout-Ms";

    private static readonly JsonFormatter ProtoJson = new(JsonFormatter.Settings.Default.WithPreserveProtoFieldNames(true).WithFormatDefaultValues(true));
    private readonly int _maxBodyBytes = limits.Value.MaxReceiveMessageBytes;

    public Task InvokeAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? string.Empty;
        if (!ServerListeners.IsHttpListenerRequest(context) || !(path == "/v2" || path.StartsWith("/v2/", StringComparison.Ordinal)))
        {
            return next(context);
        }

        return HandleAsync(context, path);
    }

    private async Task HandleAsync(HttpContext context, string path)
    {
        var started = time.GetTimestamp();
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var method = context.Request.Method;
        var rpc = "unknown";
        var model = string.Empty;
        var status = 200;
        try
        {
            // v2 | v2/health/{live,ready} | v2/models/{m}[/versions/{v}][/{ready,config,stats,infer}]
            if (segments.Length == 1 && HttpMethods.IsGet(method))
            {
                rpc = "ServerMetadata";
                await WriteJsonAsync(context, 200, writer =>
                {
                    writer.WriteString("name", OipGrpcService.ServerName);
                    writer.WriteString("version", OipGrpcService.ServerVersion);
                    writer.WriteStartArray("extensions");
                    foreach (var extension in OipGrpcService.Extensions)
                    {
                        writer.WriteStringValue(extension);
                    }

                    writer.WriteEndArray();
                }).ConfigureAwait(false);
                return;
            }

            if (segments.Length == 3 && segments[1] == "health" && HttpMethods.IsGet(method) && segments[2] is "live" or "ready")
            {
                rpc = segments[2] == "live" ? "ServerLive" : "ServerReady";
                status = segments[2] == "live" || OipGrpcService.IsReady(servingState) ? 200 : 400;
                context.Response.StatusCode = status;
                return;
            }

            if (segments.Length == 3 && segments[1] == "models" && segments[2] == "stats" && HttpMethods.IsGet(method))
            {
                // Triton's GET v2/models/stats: every model's statistics.
                rpc = "ModelStatistics";
                await WriteProtoAsync(context, OipGrpcService.Statistics(repository, statistics, string.Empty, string.Empty)).ConfigureAwait(false);
                return;
            }

            if (segments.Length >= 3 && segments[1] == "models")
            {
                model = Uri.UnescapeDataString(segments[2]);
                var version = string.Empty;
                var rest = segments.AsSpan(3);
                if (rest.Length >= 2 && rest[0] == "versions")
                {
                    version = Uri.UnescapeDataString(rest[1]);
                    rest = rest[2..];
                }

                var action = rest.Length switch { 0 => "metadata", 1 => rest[0], _ => "?" };
                (rpc, status) = await HandleModelAsync(context, action, model, version).ConfigureAwait(false);
                return;
            }

            status = 404;
            await WriteErrorAsync(context, 404, $"no such endpoint: {method} {OipInput.Shorten(path)} (see docs/open-inference-protocol.md)").ConfigureAwait(false);
        }
        catch (Exception ex) when (!context.Response.HasStarted)
        {
            (status, var message) = Map(ex, context);
            await WriteErrorAsync(context, status, message).ConfigureAwait(false);
        }
        finally
        {
            var tags = new TagList
            {
                { GanTelemetry.ModelTag, repository.Contains(model) ? model : string.Empty },
                { "rpc", rpc },
                { "status", StatusName(status) },
                { "protocol", "oip-rest" },
            };
            if (rpc == "ModelInfer")
            {
                var seconds = time.GetElapsedTime(started).TotalSeconds;
                telemetry.Requests.Add(1, tags);
                telemetry.RequestDuration.Record(seconds, tags);
                telemetry.RecordInferenceRequest(repository.Contains(model) ? model : string.Empty, rpc, StatusName(status), status == 200, seconds);
            }
        }
    }

    private async Task<(string Rpc, int Status)> HandleModelAsync(HttpContext context, string action, string model, string version)
    {
        var get = HttpMethods.IsGet(context.Request.Method);
        switch (action)
        {
            case "metadata" when get:
                await WriteProtoAsync(context, OipModel.Find(repository, model, version).ToMetadata()).ConfigureAwait(false);
                return ("ModelMetadata", 200);
            case "ready" when get:
                var ready = OipGrpcService.IsModelReady(repository, servingState, model, version);
                context.Response.StatusCode = ready ? 200 : 400;
                return ("ModelReady", context.Response.StatusCode);
            case "config" when get:
                await WriteProtoAsync(context, OipModel.Find(repository, model, version).ToConfig()).ConfigureAwait(false);
                return ("ModelConfig", 200);
            case "stats" when get:
                await WriteProtoAsync(context, OipGrpcService.Statistics(repository, statistics, model, version)).ConfigureAwait(false);
                return ("ModelStatistics", 200);
            case "infer" when HttpMethods.IsPost(context.Request.Method):
                await InferAsync(context, model, version).ConfigureAwait(false);
                return ("ModelInfer", 200);
            default:
                await WriteErrorAsync(context, 404, $"no such endpoint: {context.Request.Method} {OipInput.Shorten(context.Request.Path.Value ?? string.Empty)} (see docs/open-inference-protocol.md)").ConfigureAwait(false);
                return ("unknown", 404);
        }
    }

    private async Task InferAsync(HttpContext context, string model, string version)
    {
        if (servingState.IsRefusingCalls)
        {
            throw new ServiceUnavailableException("the server is shutting down; retry on another instance");
        }

        var deadline = Deadline(context);
        var body = await ReadBodyAsync(context).ConfigureAwait(false);
        var (request, binaryOutputs) = OipRestJson.ReadInferRequest(body, context.Request.Headers[HeaderLengthHeader].ToString(), model, version);
        using var timeout = new CancellationTokenSource();
        if (deadline != DateTime.MaxValue)
        {
            var left = deadline - time.GetUtcNow().UtcDateTime;
            if (left <= TimeSpan.Zero)
            {
                throw new RequestExpiredException("the deadline had passed when the call arrived; nothing was run");
            }

            timeout.CancelAfter(left);
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, timeout.Token);
        ModelInferResponse response;
        try
        {
            response = await inference.InferAsync(request, deadline, linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            throw new RequestExpiredException("the deadline passed before the images were ready");
        }

        var (json, binary) = OipRestJson.WriteInferResponse(response, binaryOutputs);
        context.Response.StatusCode = 200;
        if (binary.Count > 0)
        {
            context.Response.ContentType = "application/octet-stream";
            context.Response.Headers[HeaderLengthHeader] = json.Length.ToString(CultureInfo.InvariantCulture);
            context.Response.ContentLength = json.Length + binary.Sum(b => (long)b.Length);
            await context.Response.Body.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
            foreach (var part in binary)
            {
                await context.Response.Body.WriteAsync(part.Memory, context.RequestAborted).ConfigureAwait(false);
            }
        }
        else
        {
            context.Response.ContentType = "application/json";
            context.Response.ContentLength = json.Length;
            await context.Response.Body.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private DateTime Deadline(HttpContext context)
    {
        var text = context.Request.Query["timeout_ms"].ToString();
        if (text.Length == 0)
        {
            text = context.Request.Headers[TimeoutHeader].ToString();
        }

        if (text.Length == 0)
        {
            return DateTime.MaxValue;
        }

        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) || ms > int.MaxValue)
        {
            throw new InvalidFieldException("timeout_ms", $"'{OipInput.Shorten(text)}' is not a number of milliseconds (0..{int.MaxValue})");
        }

        return time.GetUtcNow().UtcDateTime.AddMilliseconds(ms);
    }

    /// <summary>The whole body, refused with 413 past <c>Limits:MaxReceiveMessageBytes</c> (from Content-Length when given, else while reading).</summary>
    private async Task<byte[]> ReadBodyAsync(HttpContext context)
    {
        // Kestrel's own cap (30 MB by default) stays above ours: after a 413 it drains the rest of the body up to that
        // cap, so the client, still sending, reads the answer instead of a reset connection.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize && bodySize.MaxRequestBodySize <= _maxBodyBytes)
        {
            bodySize.MaxRequestBodySize = _maxBodyBytes + 1L;
        }

        if (context.Request.ContentLength > _maxBodyBytes)
        {
            throw new BodyTooLargeException(context.Request.ContentLength.Value, _maxBodyBytes);
        }

        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int read;
            while ((read = await context.Request.Body.ReadAsync(chunk, context.RequestAborted).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > _maxBodyBytes)
                {
                    throw new BodyTooLargeException(buffer.Length + read, _maxBodyBytes);
                }

                buffer.Write(chunk, 0, read);
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new BodyTooLargeException(null, _maxBodyBytes);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        return buffer.ToArray();
    }

    private (int Status, string Message) Map(Exception exception, HttpContext context)
    {
        var (status, message) = exception switch
        {
            BodyTooLargeException tooLarge => (413, tooLarge.Message),
            GanRequestException request => (request.Kind switch
            {
                GanErrorKind.NotFound => 404,
                GanErrorKind.InvalidArgument or GanErrorKind.FailedPrecondition => 400,
                GanErrorKind.ResourceExhausted => 429,
                GanErrorKind.Unavailable => 503,
                GanErrorKind.DeadlineExceeded => 504,
                _ => 500,
            }, request.Message),
            OperationCanceledException when servingState.DrainExpired.IsCancellationRequested && !context.RequestAborted.IsCancellationRequested =>
                (503, "the server shut down before the call finished (Shutdown:DrainTimeoutSeconds ran out); retry on another instance"),
            OperationCanceledException => (499, "the call was cancelled"),
            _ => (500, $"internal error: {exception.GetType().Name}: {exception.Message}"),
        };
        if (status == 500)
        {
            LogUnexpected(logger, exception, context.Request.Path.Value ?? string.Empty);
        }

        return (status, message.Length <= 2048 ? message : message[..2048] + "... (message cut)");
    }

    /// <summary>The gRPC status name of an HTTP status, so that <c>gan.requests</c> has one set of status labels.</summary>
    private static string StatusName(int status) => status switch
    {
        200 => "OK",
        400 => "InvalidArgument",
        404 => "NotFound",
        413 or 429 => "ResourceExhausted",
        499 => "Cancelled",
        503 => "Unavailable",
        504 => "DeadlineExceeded",
        _ => "Internal",
    };

    /// <summary>
    /// A message as JSON with the proto's field names, 64-bit integers as numbers (as Triton writes them: protobuf's
    /// JSON mapping would quote them) and shapes as numbers, as the specification writes them.
    /// </summary>
    private static Task WriteProtoAsync(HttpContext context, IMessage message)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(ProtoJson.Format(message))!;
        Unquote(node);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(node.ToJsonString(OipRestJson.JsonOptions), context.RequestAborted);
    }

    // The 64-bit integer fields of the messages written as JSON here (metadata, config, statistics).
    private static readonly HashSet<string> IntegerFields =
        ["shape", "dims", "max_queue_delay_microseconds", "count", "ns", "last_inference", "inference_count", "execution_count", "batch_size"];

    /// <summary>Turns the quoted integers of <see cref="IntegerFields"/> back into numbers, anywhere below <paramref name="node"/>.</summary>
    private static void Unquote(System.Text.Json.Nodes.JsonNode? node)
    {
        switch (node)
        {
            case System.Text.Json.Nodes.JsonObject obj:
                foreach (var key in obj.Select(p => p.Key).ToArray())
                {
                    if (IntegerFields.Contains(key) && IsQuotedInteger(obj[key], out var number))
                    {
                        obj[key] = number;
                    }
                    else if (IntegerFields.Contains(key) && obj[key] is System.Text.Json.Nodes.JsonArray integers)
                    {
                        for (var i = 0; i < integers.Count; i++)
                        {
                            if (IsQuotedInteger(integers[i], out var element))
                            {
                                integers[i] = element;
                            }
                        }
                    }
                    else
                    {
                        Unquote(obj[key]);
                    }
                }

                break;
            case System.Text.Json.Nodes.JsonArray array:
                foreach (var item in array)
                {
                    Unquote(item);
                }

                break;
        }
    }

    private static bool IsQuotedInteger(System.Text.Json.Nodes.JsonNode? node, out System.Text.Json.Nodes.JsonNode? number)
    {
        number = null;
        if (node is System.Text.Json.Nodes.JsonValue value && value.TryGetValue<string>(out var text) && text.Length is > 0 and < 21 &&
            (text[0] == '-' || char.IsAsciiDigit(text[0])) && text.Skip(1).All(char.IsAsciiDigit))
        {
            number = text[0] == '-' ? System.Text.Json.Nodes.JsonValue.Create(long.Parse(text, CultureInfo.InvariantCulture)) : System.Text.Json.Nodes.JsonValue.Create(ulong.Parse(text, CultureInfo.InvariantCulture));
            return true;
        }

        return false;
    }

    private static async Task WriteJsonAsync(HttpContext context, int status, Action<Utf8JsonWriter> body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        var buffer = new ArrayBufferWriter<byte>();
        using (var writer = new Utf8JsonWriter(buffer, OipRestJson.WriterOptions))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }

        await context.Response.Body.WriteAsync(buffer.WrittenMemory, context.RequestAborted).ConfigureAwait(false);
    }

    private static Task WriteErrorAsync(HttpContext context, int status, string message) =>
        WriteJsonAsync(context, status, writer => writer.WriteString("error", message));

    /// <summary>A REST body over <c>Limits:MaxReceiveMessageBytes</c> (HTTP 413).</summary>
    private sealed class BodyTooLargeException(long? length, int limit)
        : Exception(length is { } bytes
            ? $"request body: {bytes} bytes is over the limit of {limit} bytes ({ServerLimitsOptions.MaxReceiveMessageBytesKey})"
            : $"request body: over the limit of {limit} bytes ({ServerLimitsOptions.MaxReceiveMessageBytesKey})");

    [LoggerMessage(EventId = 2601, Level = LogLevel.Error, Message = "REST call {Path} failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string path);
}
