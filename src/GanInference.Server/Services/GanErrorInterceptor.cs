using System.Collections.Concurrent;
using System.Diagnostics;
using GanInference.Api.V1;
using GanInference.Core.Errors;
using GanInference.Core.Repository;
using GanInference.Core.Telemetry;
using GanInference.Server.Hosting;
using GanInference.Server.OpenInference;
using GanInference.Server.Options;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Services;

/// <summary>
/// Wraps every call of the <c>gan.v1</c> services (<c>GanInference</c>, <c>GanAdmin</c>) and of the Open Inference
/// Protocol's <c>inference.GRPCInferenceService</c> (but its liveness and readiness calls): refuses new calls
/// while draining, refuses calls whose deadline has already passed (never run; counted in
/// <c>gan.requests.dropped{reason="deadline"}</c>), maps the core's errors to gRPC status codes (one table,
/// below), and records <c>gan.requests</c> and <c>gan.request.duration</c> (labelled <c>protocol</c> = <c>gan.v1</c> or <c>oip</c>). Health and reflection calls pass
/// through untouched.
/// </summary>
internal sealed partial class GanErrorInterceptor(
    ServingState servingState,
    ModelRepository repository,
    GanTelemetry telemetry,
    TimeProvider time,
    IOptions<ServerLimitsOptions> limits,
    ILogger<GanErrorInterceptor> logger) : Interceptor
{
    private readonly int _maxSendBytes = limits.Value.MaxSendMessageBytes;

    private const string ServicePrefix = "/gan.v1.";

    // The Open Inference Protocol's liveness and readiness calls answer while draining (ready: false), like health checks.
    private static readonly string[] UnguardedOipMethods =
        [$"{OpenInferenceExtensions.GrpcPrefix}ServerLive", $"{OpenInferenceExtensions.GrpcPrefix}ServerReady", $"{OpenInferenceExtensions.GrpcPrefix}ModelReady"];

    public override Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation) =>
        IsOurs(context) ? GuardUnaryAsync(request, context, continuation) : continuation(request, context);

    public override Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation) =>
        IsOurs(context) ? GuardServerStreamingAsync(request, responseStream, context, continuation) : continuation(request, responseStream, context);

    // Client- and duplex-streaming calls name their model in the messages, which this layer does not read.
    public override Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation) =>
        IsOurs(context)
            ? GuardAsync(NoRequest.Instance, context, () => continuation(requestStream, context))
            : continuation(requestStream, context);

    public override Task DuplexStreamingServerHandler<TRequest, TResponse>(IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, DuplexStreamingServerMethod<TRequest, TResponse> continuation) =>
        IsOurs(context)
            ? GuardAsync(NoRequest.Instance, context, async () => { await continuation(requestStream, responseStream, context).ConfigureAwait(false); return true; })
            : continuation(requestStream, responseStream, context);

    private static bool IsOurs(ServerCallContext context) =>
        context.Method.StartsWith(ServicePrefix, StringComparison.Ordinal) ||
        (context.Method.StartsWith(OpenInferenceExtensions.GrpcPrefix, StringComparison.Ordinal) && !UnguardedOipMethods.Contains(context.Method, StringComparer.Ordinal));

    /// <summary>The protocol label of a call's metrics: <c>gan.v1</c> or <c>oip</c>.</summary>
    private static string ProtocolOf(ServerCallContext context) =>
        context.Method.StartsWith(OpenInferenceExtensions.GrpcPrefix, StringComparison.Ordinal) ? "oip" : "gan.v1";

    // The guards below are one wrapper (drain and deadline checks, error mapping, metrics: Enter, Admit, Fail, Exit) in a
    // method per kind of call. The unary and server-streaming calls (every generation RPC) get their own, which call
    // the continuation directly: no closure, delegate or second state machine per call.

    private async Task<TResponse> GuardUnaryAsync<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
        where TRequest : class
        where TResponse : class
    {
        var call = Enter(request);
        try
        {
            Admit(request, context);
            var result = await continuation(request, context).ConfigureAwait(false);
            RefuseOversizedReply(result);
            return result;
        }
        catch (Exception ex)
        {
            throw Fail(ex, context, ref call);
        }
        finally
        {
            Exit(request, context, call);
        }
    }

    private async Task GuardServerStreamingAsync<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
        where TRequest : class
        where TResponse : class
    {
        var call = Enter(request);
        try
        {
            Admit(request, context);
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            throw Fail(ex, context, ref call);
        }
        finally
        {
            Exit(request, context, call);
        }
    }

    private async Task<TResult> GuardAsync<TRequest, TResult>(TRequest request, ServerCallContext context, Func<Task<TResult>> run)
    {
        var call = Enter(request);
        try
        {
            Admit(request, context);
            var result = await run().ConfigureAwait(false);
            RefuseOversizedReply(result);
            return result;
        }
        catch (Exception ex)
        {
            throw Fail(ex, context, ref call);
        }
        finally
        {
            Exit(request, context, call);
        }
    }

    /// <summary>What a guarded call carries from its start to its end.</summary>
    private struct GuardedCall(long started, KeyValuePair<string, object?> model)
    {
        public readonly long Started = started;
        public readonly KeyValuePair<string, object?> Model = model;
        public StatusCode Status = StatusCode.OK;
    }

    /// <summary>Starts the call's clock and counts it in flight.</summary>
    private GuardedCall Enter<TRequest>(TRequest request)
    {
        var call = new GuardedCall(time.GetTimestamp(), new KeyValuePair<string, object?>(GanTelemetry.ModelTag, ModelOf(request)));
        telemetry.InflightRequests.Add(1, call.Model);
        return call;
    }

    /// <summary>Refuses a call while draining and one whose deadline has already passed.</summary>
    private void Admit<TRequest>(TRequest request, ServerCallContext context)
    {
        RefuseWhileDraining();
        RefuseIfExpired(request, context);
    }

    private RpcException Fail(Exception exception, ServerCallContext context, ref GuardedCall call)
    {
        var mapped = Map(exception, context);
        call.Status = mapped.StatusCode;
        return mapped;
    }

    private void Exit<TRequest>(TRequest request, ServerCallContext context, GuardedCall call)
    {
        telemetry.InflightRequests.Add(-1, call.Model);
        Record(request, context, call.Status, call.Started);
    }

    /// <summary>The status code for each core error kind.</summary>
    internal static StatusCode ToStatusCode(GanErrorKind kind) => kind switch
    {
        GanErrorKind.NotFound => StatusCode.NotFound,
        GanErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        GanErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        GanErrorKind.ResourceExhausted => StatusCode.ResourceExhausted,
        GanErrorKind.Unavailable => StatusCode.Unavailable,
        GanErrorKind.DeadlineExceeded => StatusCode.DeadlineExceeded,
        _ => StatusCode.Unknown,
    };

    private void RefuseWhileDraining()
    {
        if (servingState.IsRefusingCalls)
        {
            throw new ServiceUnavailableException("the server is shutting down; retry on another instance");
        }
    }

    /// <summary>
    /// The backstop of the up-front reply checks: a unary reply gRPC would refuse to send fails here, inside the
    /// call, so it is counted as the failure it is (RESOURCE_EXHAUSTED), not as OK.
    /// </summary>
    private void RefuseOversizedReply<TResult>(TResult result)
    {
        if (result is IMessage reply && reply.CalculateSize() is var size && size > _maxSendBytes)
        {
            throw new ReplyTooLargeException($"the reply is {size} bytes, over the limit of {_maxSendBytes} bytes for one message ({ServerLimitsOptions.MaxSendMessageBytesKey}); use the streaming call, which sends one image per message");
        }
    }

    private void RefuseIfExpired<TRequest>(TRequest request, ServerCallContext context)
    {
        if (context.Deadline <= time.GetUtcNow().UtcDateTime)
        {
            telemetry.DroppedRequests.Add(1, new(GanTelemetry.ModelTag, ModelOf(request)), new("reason", "deadline"));
            throw new RequestExpiredException("the deadline had passed when the call arrived; nothing was run");
        }
    }

    /// <summary>
    /// Longest status message sent. The message travels in an HTTP/2 header (clients refuse header blocks over
    /// 64 KiB by default), so one that echoes a huge request value must not turn a clean error into a broken call.
    /// </summary>
    internal const int MaxStatusDetailLength = 2048;

    private RpcException Map(Exception exception, ServerCallContext context)
    {
        var mapped = MapUnbounded(exception, context);
        var detail = mapped.Status.Detail;
        return detail.Length <= MaxStatusDetailLength
            ? mapped
            : new RpcException(new Status(mapped.StatusCode, detail[..MaxStatusDetailLength] + "... (message cut)"), mapped.Trailers);
    }

    private RpcException MapUnbounded(Exception exception, ServerCallContext context)
    {
        switch (exception)
        {
            case RpcException rpc:
                return rpc;
            case GanRequestException request:
                return new RpcException(new Status(ToStatusCode(request.Kind), request.Message));
            case OperationCanceledException when servingState.DrainExpired.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested:
                return new RpcException(new Status(StatusCode.Unavailable, "the server shut down before the call finished (Shutdown:DrainTimeoutSeconds ran out); retry on another instance"));
            case OperationCanceledException when context.Deadline <= time.GetUtcNow().UtcDateTime:
                return new RpcException(new Status(StatusCode.DeadlineExceeded, "the deadline passed before the images were ready"));
            case OperationCanceledException:
                return new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled"));
            default:
                LogUnexpected(logger, exception, context.Method);
                return new RpcException(new Status(StatusCode.Internal, $"internal error: {exception.GetType().Name}: {exception.Message}"));
        }
    }

    // The rpc label of each method (the name after its last '/'), cut once per method instead of once per call. Only
    // guarded methods get here: the registered services' methods, a fixed set.
    private static readonly ConcurrentDictionary<string, string> RpcNames = new(StringComparer.Ordinal);

    private void Record<TRequest>(TRequest request, ServerCallContext context, StatusCode status, long started)
    {
        var rpc = RpcNames.GetOrAdd(context.Method, static method => method[(method.LastIndexOf('/') + 1)..]);
        var model = ModelOf(request);
        var tags = new TagList
        {
            { GanTelemetry.ModelTag, model },
            { "rpc", rpc },
            { "status", status.ToString() },
            { "protocol", ProtocolOf(context) },
        };
        var seconds = time.GetElapsedTime(started).TotalSeconds;
        telemetry.Requests.Add(1, tags);
        telemetry.RequestDuration.Record(seconds, tags);
        telemetry.RecordInferenceRequest(model, rpc, status.ToString(), status == StatusCode.OK, seconds);
    }

    /// <summary>The request's model name when it is loaded; unknown names stay out of metric labels, so bad requests cannot blow up their cardinality.</summary>
    private string ModelOf<TRequest>(TRequest request)
    {
        var name = request switch
        {
            GenerateRequest generate => generate.Model,
            GetModelRequest get => get.Model,
            TranslateRequest translate => translate.Model,
            GenerateFromTextRequest text => text.Model,
            _ => OpenInferenceExtensions.ModelOf(request) ?? string.Empty,
        };
        return repository.Contains(name) ? name : string.Empty;
    }

    /// <summary>Stands in for the request of client- and duplex-streaming calls, whose messages this layer does not read.</summary>
    private sealed class NoRequest
    {
        public static readonly NoRequest Instance = new();
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "Call {Method} failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method);
}
