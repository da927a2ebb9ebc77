using System.Runtime.CompilerServices;
using Grpc.AspNetCore.Server;
using Grpc.Core;
using Microsoft.AspNetCore.Http.Features;

namespace GanInference.Server.Services;

/// <summary>
/// Writes one message of a server stream the way every streaming RPC here must:
/// <list type="bullet">
/// <item>the write gets the transport's token only (cancelling a write aborts the HTTP/2 stream), and a call
/// cut off by the drain time is stopped between writes, so it ends with its UNAVAILABLE status;</item>
/// <item>a write that is still waiting on HTTP/2 flow control when the call's token fires (the reader stalled
/// past the drain time) is abandoned and the stream reset with REFUSED_STREAM: trailers cannot get past the
/// unread data, and gRPC's HTTP/2 mapping makes REFUSED_STREAM UNAVAILABLE in every client;</item>
/// <item>writes inside a chunk carry <see cref="WriteFlags.BufferHint"/>, so a chunk is flushed once (gRPC calls; a
/// JSON-transcoded stream writes each message as it comes).</item>
/// <item>a write that waits (a flush under flow control) reuses a pooled state machine instead of allocating one per
/// message (<see cref="PoolingAsyncValueTaskMethodBuilder"/>).</item>
/// </list>
/// </summary>
internal static class ResponseStreamWriter
{
    private const int RefusedStream = 0x7;
    private static readonly WriteOptions Buffered = new(WriteFlags.BufferHint);

    /// <summary>How long a write waiting on flow control may still take once the drain time has run out (within
    /// <see cref="Options.ShutdownOptions.AnswerGrace"/>, so the answer is written before the host stops).</summary>
    internal static readonly TimeSpan WriteGraceAfterDrain = Options.ShutdownOptions.AnswerGrace / 2;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public static async ValueTask WriteAsync<T>(IServerStreamWriter<T> stream, T message, bool flush, ServerCallContext context, CancellationToken callToken)
    {
        callToken.ThrowIfCancellationRequested();

        // A JSON-transcoded call (gan.v1 over HTTP/1.1) writes newline-delimited JSON: its writer takes neither write
        // options nor a token (the transcoding writer does not support either and throws).
        var grpc = context.GetHttpContext() is not { } http || GrpcTrailersOnlyResponse.IsGrpc(http.Request);
        if (grpc)
        {
            stream.WriteOptions = flush ? null : Buffered;
        }

        var write = grpc ? stream.WriteAsync(message, context.CancellationToken) : stream.WriteAsync(message);
        if (write.IsCompleted)
        {
            await write.ConfigureAwait(false);
            return;
        }

        try
        {
            await write.WaitAsync(callToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (callToken.IsCancellationRequested && !context.CancellationToken.IsCancellationRequested)
        {
            // A reader that is still reading frees the window within moments: let the write finish, so the call ends
            // with its UNAVAILABLE status and message. Only a reader that stalled has its stream reset.
            if (await FinishesWithinAsync(write, WriteGraceAfterDrain).ConfigureAwait(false))
            {
                throw;
            }

            _ = write.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            context.GetHttpContext().Features.Get<IHttpResetFeature>()?.Reset(RefusedStream);
            throw;
        }
    }

    private static async ValueTask<bool> FinishesWithinAsync(Task write, TimeSpan grace)
    {
        try
        {
            await write.WaitAsync(grace).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (Exception) when (write.IsFaulted || write.IsCanceled)
        {
            // The transport failed the write itself: the caller's status cannot be written either way.
            return true;
        }
    }
}
