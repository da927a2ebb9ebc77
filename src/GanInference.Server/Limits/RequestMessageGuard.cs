using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using GanInference.Api.V1;
using GanInference.Core.Telemetry;
using GanInference.Server.Options;
using GanInference.Server.Services;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;
using Google.Protobuf.Reflection;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Limits;

/// <summary>
/// Checks the first request message of every <c>gan.v1</c> call before gRPC reads it (after the API key check, so
/// a caller without a key learns nothing here):
/// <list type="bullet">
/// <item>larger than <see cref="ServerLimitsOptions.MaxReceiveMessageBytes"/>: RESOURCE_EXHAUSTED naming the limit,
/// decided from the 5-byte gRPC frame header, before the body arrives, so nothing of it is buffered;</item>
/// <item>not a well-formed protobuf encoding of the method's request type: INVALID_ARGUMENT naming the problem
/// (gRPC itself would answer UNKNOWN "Exception was thrown by handler"). The check walks the wire format
/// (<see cref="ProtobufWireCheck"/>) instead of parsing, so the message is parsed once, by gRPC.</item>
/// </list>
/// It also lifts Kestrel's request body limit (30 MB by default) for these calls: each message is bounded by
/// <c>Limits:MaxReceiveMessageBytes</c> (here for the first, by gRPC for the rest), so a long client stream is not
/// cut at 30 MB and a unary message up to our own limit is not an HTTP 413.
/// </summary>
internal sealed partial class RequestMessageGuard(RequestDelegate next, IOptions<ServerLimitsOptions> limits, GanTelemetry telemetry, ILogger<RequestMessageGuard> logger)
{
    private const int FrameHeaderLength = 5;

    // "/gan.v1.GanInference/Generate" → GenerateRequest's descriptor; one entry per gan.v1 and inference.GRPCInferenceService method.
    private static readonly FrozenDictionary<string, MessageDescriptor> RequestTypes =
        new[] { GanReflection.Descriptor, AdminReflection.Descriptor, Api.Inference.GrpcServiceReflection.Descriptor }
            .SelectMany(file => file.Services)
            .SelectMany(service => service.Methods)
            .ToFrozenDictionary(method => $"/{method.Service.FullName}/{method.Name}", method => method.InputType, StringComparer.Ordinal);

    private readonly int _maxBytes = limits.Value.MaxReceiveMessageBytes;

    public Task InvokeAsync(HttpContext context)
    {
        if (!GrpcTrailersOnlyResponse.IsGrpc(context.Request) || !RequestTypes.TryGetValue(context.Request.Path.Value ?? string.Empty, out var requestType))
        {
            return next(context);
        }

        // Must happen before the body is read; gRPC cannot do it afterwards.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        // The first message has usually arrived with the headers: the check then completes at once and the call goes
        // on without a state machine of this middleware around it.
        var admitted = AdmitFirstMessageAsync(context, requestType);
        if (admitted.IsCompletedSuccessfully)
        {
            return admitted.Result ? next(context) : Task.CompletedTask;
        }

        return NextWhenAdmittedAsync(admitted, context);
    }

    private async Task NextWhenAdmittedAsync(ValueTask<bool> admitted, HttpContext context)
    {
        if (await admitted.ConfigureAwait(false))
        {
            await next(context).ConfigureAwait(false);
        }
    }

    /// <summary>Checks the first request message; false when it was refused (the refusal is written).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> AdmitFirstMessageAsync(HttpContext context, MessageDescriptor requestType)
    {
        var reader = context.Request.BodyReader;
        var buffer = (await reader.ReadAtLeastAsync(FrameHeaderLength, context.RequestAborted).ConfigureAwait(false)).Buffer;
        if (buffer.Length >= FrameHeaderLength)
        {
            var (compressed, length) = ReadFrameHeader(buffer);
            if (length > (uint)_maxBytes)
            {
                reader.AdvanceTo(buffer.End);
                await RefuseAsync(context, StatusCode.ResourceExhausted, $"request message: {length} bytes is over the limit of {_maxBytes} bytes (Limits:MaxReceiveMessageBytes); send fewer or smaller images per message, or use a streaming call").ConfigureAwait(false);
                return false;
            }

            if (!compressed)
            {
                // The whole message (bounded by the limit above) is needed to check it; gRPC would buffer it too.
                reader.AdvanceTo(buffer.Start);
                var total = FrameHeaderLength + (int)length;
                buffer = (await reader.ReadAtLeastAsync(total, context.RequestAborted).ConfigureAwait(false)).Buffer;
                if (buffer.Length >= total && ProtobufWireCheck.Describe(buffer.Slice(FrameHeaderLength, length), requestType) is { } problem)
                {
                    reader.AdvanceTo(buffer.End);
                    await RefuseAsync(context, StatusCode.InvalidArgument, $"request message: not a valid {requestType.Name}: {problem}").ConfigureAwait(false);
                    return false;
                }
            }
        }

        // Nothing consumed: gRPC reads the same bytes again.
        reader.AdvanceTo(buffer.Start);
        return true;
    }

    private static (bool Compressed, uint Length) ReadFrameHeader(ReadOnlySequence<byte> buffer)
    {
        Span<byte> header = stackalloc byte[FrameHeaderLength];
        buffer.Slice(0, FrameHeaderLength).CopyTo(header);
        return (header[0] != 0, BinaryPrimitives.ReadUInt32BigEndian(header[1..]));
    }

    private async Task RefuseAsync(HttpContext context, StatusCode status, string message)
    {
        var method = context.Request.Path.Value ?? string.Empty;
        LogRefused(logger, method, message);
        telemetry.Requests.Add(1, new TagList { { GanTelemetry.ModelTag, string.Empty }, { "rpc", method[(method.LastIndexOf('/') + 1)..] }, { "status", status.ToString() }, { "protocol", method.StartsWith(OpenInference.OpenInferenceExtensions.GrpcPrefix, StringComparison.Ordinal) ? "oip" : "gan.v1" } });
        await GrpcTrailersOnlyResponse.WriteAsync(context, status, message).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = 2501, Level = LogLevel.Warning, Message = "Refused {Method}: {Problem}")]
    private static partial void LogRefused(ILogger logger, string method, string problem);
}
