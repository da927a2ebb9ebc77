using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Text;
using GanInference.Api.V1;
using GanInference.Core.Telemetry;
using GanInference.Server.Options;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Limits;

/// <summary>
/// Checks the request message of every <c>gan.v1</c> call before gRPC reads it, and refuses a bad one with
/// INVALID_ARGUMENT naming the problem:
/// <list type="bullet">
/// <item>larger than <see cref="ServerLimitsOptions.MaxReceiveMessageBytes"/> — decided from the 5-byte gRPC frame
/// header, before the body arrives, so nothing of an oversized message is buffered;</item>
/// <item>not a valid protobuf encoding of the method's request type (corrupt bytes). gRPC itself would answer
/// UNKNOWN "Exception was thrown by handler", which tells the caller nothing.</item>
/// </list>
/// gRPC's own size check (same limit, RESOURCE_EXHAUSTED) stays as the backstop for compressed messages.
/// </summary>
internal sealed partial class RequestMessageGuard(RequestDelegate next, IOptions<ServerLimitsOptions> limits, GanTelemetry telemetry, ILogger<RequestMessageGuard> logger)
{
    private const int FrameHeaderLength = 5;

    // "/gan.v1.GanInference/Generate" → the parser of GenerateRequest; one entry per gan.v1 method.
    private static readonly FrozenDictionary<string, MessageParser> Parsers =
        new[] { GanReflection.Descriptor, AdminReflection.Descriptor }
            .SelectMany(file => file.Services)
            .SelectMany(service => service.Methods)
            .ToFrozenDictionary(method => $"/{method.Service.FullName}/{method.Name}", method => method.InputType.Parser, StringComparer.Ordinal);

    private readonly int _maxBytes = limits.Value.MaxReceiveMessageBytes;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!IsGrpc(context.Request) || !Parsers.TryGetValue(context.Request.Path.Value ?? string.Empty, out var parser))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var reader = context.Request.BodyReader;
        var buffer = (await reader.ReadAtLeastAsync(FrameHeaderLength, context.RequestAborted).ConfigureAwait(false)).Buffer;
        if (buffer.Length >= FrameHeaderLength)
        {
            Span<byte> header = stackalloc byte[FrameHeaderLength];
            buffer.Slice(0, FrameHeaderLength).CopyTo(header);
            var compressed = header[0] != 0;
            var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
            if (length > (uint)_maxBytes)
            {
                reader.AdvanceTo(buffer.End);
                await RefuseAsync(context, $"request message: {length} bytes is over the limit of {_maxBytes} bytes (Limits:MaxReceiveMessageBytes)").ConfigureAwait(false);
                return;
            }

            if (!compressed)
            {
                // The whole message (bounded by the limit above) is needed to check it; gRPC would buffer it too.
                reader.AdvanceTo(buffer.Start);
                var total = FrameHeaderLength + (int)length;
                buffer = (await reader.ReadAtLeastAsync(total, context.RequestAborted).ConfigureAwait(false)).Buffer;
                if (buffer.Length >= total && Describe(parser, buffer.Slice(FrameHeaderLength, length)) is { } problem)
                {
                    reader.AdvanceTo(buffer.End);
                    await RefuseAsync(context, $"request message: not a valid {parser.GetType().GenericTypeArguments.FirstOrDefault()?.Name ?? "request"}: {problem}").ConfigureAwait(false);
                    return;
                }
            }
        }

        // Nothing consumed: gRPC reads the same bytes again.
        reader.AdvanceTo(buffer.Start);
        await next(context).ConfigureAwait(false);
    }

    private static bool IsGrpc(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    /// <summary>Null when the bytes parse as the request type, else what is wrong with them.</summary>
    private static string? Describe(MessageParser parser, ReadOnlySequence<byte> message)
    {
        try
        {
            parser.ParseFrom(message);
            return null;
        }
        catch (InvalidProtocolBufferException ex)
        {
            return ex.Message;
        }
    }

    private async Task RefuseAsync(HttpContext context, string message)
    {
        var method = context.Request.Path.Value ?? string.Empty;
        LogRefused(logger, method, message);
        telemetry.Requests.Add(1, new TagList { { GanTelemetry.ModelTag, string.Empty }, { "rpc", method[(method.LastIndexOf('/') + 1)..] }, { "status", "InvalidArgument" } });

        // A trailers-only gRPC response: the status travels in the headers, there is no body.
        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/grpc";
        context.Response.Headers["grpc-status"] = "3";
        context.Response.Headers["grpc-message"] = PercentEncode(message);
        await context.Response.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>grpc-message encoding: printable ASCII except '%' as is, everything else as %XX of its UTF-8 bytes.</summary>
    private static string PercentEncode(string message)
    {
        var builder = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%')
            {
                builder.Append((char)b);
            }
            else
            {
                builder.Append('%').Append(b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture));
            }
        }

        return builder.ToString();
    }

    [LoggerMessage(EventId = 2501, Level = LogLevel.Warning, Message = "Refused {Method}: {Problem}")]
    private static partial void LogRefused(ILogger logger, string method, string problem);
}
