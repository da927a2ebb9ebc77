using System.Diagnostics;
using GanInference.Api.V1;
using GanInference.Core.Errors;
using GanInference.Core.Telemetry;
using GanInference.Server.Hosting;
using Grpc.Core;
using Grpc.Core.Interceptors;

namespace GanInference.Server.Services;

/// <summary>
/// Wraps every call of the <c>gan.v1.GanInference</c> service: refuses new calls while draining, maps
/// the core's errors to gRPC status codes (one table, below), and records <c>gan.requests</c> and
/// <c>gan.request.duration</c>. Health and reflection calls pass through untouched.
/// </summary>
internal sealed partial class GanErrorInterceptor(ServingState servingState, GanTelemetry telemetry, TimeProvider time, ILogger<GanErrorInterceptor> logger) : Interceptor
{
    private static readonly string ServicePrefix = "/" + Api.V1.GanInference.Descriptor.FullName + "/";

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        if (!context.Method.StartsWith(ServicePrefix, StringComparison.Ordinal))
        {
            return await continuation(request, context).ConfigureAwait(false);
        }

        var started = time.GetTimestamp();
        var status = StatusCode.OK;
        try
        {
            RefuseWhileDraining();
            return await continuation(request, context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var mapped = Map(ex, context);
            status = mapped.StatusCode;
            throw mapped;
        }
        finally
        {
            Record(request, context, status, started);
        }
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        if (!context.Method.StartsWith(ServicePrefix, StringComparison.Ordinal))
        {
            await continuation(request, responseStream, context).ConfigureAwait(false);
            return;
        }

        var started = time.GetTimestamp();
        var status = StatusCode.OK;
        try
        {
            RefuseWhileDraining();
            await continuation(request, responseStream, context).ConfigureAwait(false);
        }
        catch (Exception ex)
        {
            var mapped = Map(ex, context);
            status = mapped.StatusCode;
            throw mapped;
        }
        finally
        {
            Record(request, context, status, started);
        }
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
        if (servingState.IsDraining)
        {
            throw new ServiceUnavailableException("the server is shutting down; retry on another instance");
        }
    }

    private RpcException Map(Exception exception, ServerCallContext context)
    {
        switch (exception)
        {
            case RpcException rpc:
                return rpc;
            case GanRequestException request:
                return new RpcException(new Status(ToStatusCode(request.Kind), request.Message));
            case OperationCanceledException when context.Deadline <= time.GetUtcNow().UtcDateTime:
                return new RpcException(new Status(StatusCode.DeadlineExceeded, "the deadline passed before the images were ready"));
            case OperationCanceledException:
                return new RpcException(new Status(StatusCode.Cancelled, "the call was cancelled"));
            default:
                LogUnexpected(logger, exception, context.Method);
                return new RpcException(new Status(StatusCode.Internal, $"internal error: {exception.GetType().Name}: {exception.Message}"));
        }
    }

    private void Record<TRequest>(TRequest request, ServerCallContext context, StatusCode status, long started)
    {
        var rpc = context.Method[ServicePrefix.Length..];
        var model = request switch
        {
            GenerateRequest generate => generate.Model,
            GetModelRequest get => get.Model,
            _ => string.Empty,
        };

        // Unknown names stay out of the metric labels, so bad requests cannot blow up their cardinality.
        if (status == StatusCode.NotFound)
        {
            model = string.Empty;
        }
        var tags = new TagList
        {
            { GanTelemetry.ModelTag, model },
            { "rpc", rpc },
            { "status", status.ToString() },
        };
        telemetry.Requests.Add(1, tags);
        telemetry.RequestDuration.Record(time.GetElapsedTime(started).TotalSeconds, tags);
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Error, Message = "Call {Method} failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method);
}
