using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Text;
using GanInference.Core.Telemetry;
using GanInference.Server.Options;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Limits;

/// <summary>
/// Refuses a gRPC request whose first message is larger than <see cref="ServerLimitsOptions.MaxReceiveMessageBytes"/>
/// with INVALID_ARGUMENT naming the limit, by reading the 5-byte gRPC frame header before the message body
/// arrives (nothing of the message is buffered). gRPC's own check (same limit, RESOURCE_EXHAUSTED) stays as
/// the backstop for compressed and later messages.
/// </summary>
internal sealed partial class MessageSizeGuard(RequestDelegate next, IOptions<ServerLimitsOptions> limits, GanTelemetry telemetry, ILogger<MessageSizeGuard> logger)
{
    private const int FrameHeaderLength = 5;
    private readonly int _maxBytes = limits.Value.MaxReceiveMessageBytes;

    public async Task InvokeAsync(HttpContext context)
    {
        if (!IsGrpc(context.Request))
        {
            await next(context).ConfigureAwait(false);
            return;
        }

        var reader = context.Request.BodyReader;
        var result = await reader.ReadAtLeastAsync(FrameHeaderLength, context.RequestAborted).ConfigureAwait(false);
        var buffer = result.Buffer;
        if (buffer.Length >= FrameHeaderLength)
        {
            Span<byte> header = stackalloc byte[FrameHeaderLength];
            buffer.Slice(0, FrameHeaderLength).CopyTo(header);
            var length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
            if (length > (uint)_maxBytes)
            {
                reader.AdvanceTo(buffer.End);
                await RefuseAsync(context, length).ConfigureAwait(false);
                return;
            }
        }

        // Nothing consumed: gRPC reads the same bytes again.
        reader.AdvanceTo(buffer.Start);
        await next(context).ConfigureAwait(false);
    }

    private static bool IsGrpc(HttpRequest request) =>
        HttpMethods.IsPost(request.Method) && request.ContentType is { } type && type.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase);

    private async Task RefuseAsync(HttpContext context, uint length)
    {
        var method = context.Request.Path.Value ?? string.Empty;
        var message = $"request message: {length} bytes is over the limit of {_maxBytes} bytes (Limits:MaxReceiveMessageBytes)";
        LogRefused(logger, method, length, _maxBytes);
        telemetry.Requests.Add(1, new TagList { { GanTelemetry.ModelTag, string.Empty }, { "rpc", method[(method.LastIndexOf('/') + 1)..] }, { "status", "InvalidArgument" } });

        // A trailers-only gRPC response: status in the headers, no body.
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

    [LoggerMessage(EventId = 2501, Level = LogLevel.Warning, Message = "Refused {Method}: a {Length}-byte message is over Limits:MaxReceiveMessageBytes ({Limit})")]
    private static partial void LogRefused(ILogger logger, string method, uint length, int limit);
}
