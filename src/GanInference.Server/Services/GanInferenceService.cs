using GanInference.Api.V1;
using GanInference.Core.Errors;
using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Core.Limits;
using GanInference.Core.Repository;
using GanInference.Core.Translation;
using GanInference.Server.Hosting;
using GanInference.Server.Options;
using Grpc.Core;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Services;

/// <summary>
/// The <c>gan.v1.GanInference</c> service: a thin adapter that checks a request against its model and
/// hands it to the core. Errors are thrown as core exceptions and mapped to status codes by
/// <see cref="GanErrorInterceptor"/>.
/// </summary>
internal sealed partial class GanInferenceService(ModelRepository repository, ImageGenerator generator, ImageTranslator translator, ServingState servingState, IOptions<ServerLimitsOptions> limits)
    : Api.V1.GanInference.GanInferenceBase
{
    private readonly ServerLimitsOptions _limits = limits.Value;

    public override Task<ListModelsResponse> ListModels(ListModelsRequest request, ServerCallContext context)
    {
        var response = new ListModelsResponse();
        response.Models.AddRange(repository.Models.Select(ProtoMapper.ToModelInfo)
            .Concat(repository.Pipelines.Select(ProtoMapper.ToModelInfo))
            .OrderBy(m => m.Name, StringComparer.Ordinal));
        return Task.FromResult(response);
    }

    public override Task<ModelInfo> GetModel(GetModelRequest request, ServerCallContext context)
    {
        RequireModelName(request.Model);
        return Task.FromResult(repository.TryGetPipeline(request.Model, out var pipeline)
            ? ProtoMapper.ToModelInfo(pipeline)
            : ProtoMapper.ToModelInfo(repository.Get(request.Model)));
    }

    public override async Task<GenerateResponse> Generate(GenerateRequest request, ServerCallContext context)
    {
        // The lease keeps this model version alive for the whole call, even if a reload replaces it meanwhile.
        using var lease = AcquireModel(request.Model);
        var (model, plan) = Prepare(lease.Model, request, _limits.MaxImagesPerRequest, ServerLimitsOptions.MaxImagesPerRequestKey);
        var encoding = ProtoMapper.ToEncoding(request);
        CheckUnaryReply(plan.Count, model.Geometry, encoding, "GenerateStream");
        using var call = servingState.LinkCall(context.CancellationToken);
        var response = new GenerateResponse { Model = model.Name, ContentHash = model.ContentHash };
        response.Images.Capacity = plan.Count;
        await CollectAsync(generator.GenerateAsync(model, plan, encoding, context.Deadline, call.Token, pooled: true), response, model.Geometry, request.Format, context).ConfigureAwait(false);
        return response;
    }

    public override async Task GenerateStream(GenerateRequest request, IServerStreamWriter<GeneratedImage> responseStream, ServerCallContext context)
    {
        using var lease = AcquireModel(request.Model);
        var (model, plan) = Prepare(lease.Model, request, _limits.MaxImagesPerStream, ServerLimitsOptions.MaxImagesPerStreamKey);
        var encoding = ProtoMapper.ToEncoding(request);
        using var call = servingState.LinkCall(context.CancellationToken);
        await WriteAllAsync(generator.GenerateAsync(model, plan, encoding, context.Deadline, call.Token, pooled: true), responseStream, model.Geometry, request.Format, context, call.Token).ConfigureAwait(false);
    }

    /// <summary>
    /// Adds every image of <paramref name="chunks"/> to a unary reply, in index order. The reply is serialized after the
    /// handler returns, so a pooled chunk is returned to the pool only when the HTTP response has completed
    /// (<c>RegisterForDispose</c> runs after the reply has been written, by which time it has been copied into the transport).
    /// </summary>
    private static async Task CollectAsync(IAsyncEnumerable<EncodedChunk> chunks, GenerateResponse response, ImageGeometry geometry, ImageFormat format, ServerCallContext context)
    {
        var http = context.GetHttpContext();
        await foreach (var chunk in chunks.ConfigureAwait(false))
        {
            if (chunk.IsPooled)
            {
                http.Response.RegisterForDispose(chunk);
            }

            for (var i = 0; i < chunk.Count; i++)
            {
                response.Images.Add(ProtoMapper.ToProto(chunk[i], geometry, format));
            }
        }
    }

    /// <summary>
    /// Writes every image of <paramref name="chunks"/> to a server stream, in index order, one message per image, flushed
    /// at the end of each chunk and whenever <see cref="FlushBytes"/> have been written since the last flush. A chunk's
    /// pooled buffer goes back to the pool once all its messages are written: a completed
    /// write has serialized (copied) the message into the transport, so nothing reads the slices any more. When a
    /// write fails the buffer is left to the garbage collector instead: an abandoned write may not be finished with it.
    /// One message is reused for every image: each write has completed (serialized it) before the next fills it.
    /// </summary>
    private static async Task WriteAllAsync(
        IAsyncEnumerable<EncodedChunk> chunks,
        IServerStreamWriter<GeneratedImage> responseStream,
        ImageGeometry geometry,
        ImageFormat format,
        ServerCallContext context,
        CancellationToken callToken)
    {
        var message = new GeneratedImage();
        await foreach (var chunk in chunks.ConfigureAwait(false))
        {
            var unflushed = 0;
            for (var i = 0; i < chunk.Count; i++)
            {
                // Awaiting each flush applies HTTP/2 flow control: a slow reader slows the producer.
                var image = chunk[i];
                unflushed += image.Data.Length;
                var flush = i == chunk.Count - 1 || unflushed >= FlushBytes;
                await ResponseStreamWriter.WriteAsync(responseStream, ProtoMapper.Fill(message, image, geometry, format), flush, context, callToken).ConfigureAwait(false);
                if (flush)
                {
                    unflushed = 0;
                }
            }

            chunk.Dispose();
        }
    }

    /// <summary>
    /// Bytes of images a stream writes before it flushes within a chunk. Small images are flushed once per chunk (one
    /// HTTP/2 write for many messages); large ones every 1 MiB (a 256² RAW_U8 image is 192 KiB: every sixth image; a
    /// 512² one 768 KiB: every second), so what a stream holds unflushed stays near 1 MiB whatever the chunk's size.
    /// Every flush that waits on flow control allocates its own state machines in Kestrel and gRPC (and the
    /// <see cref="ResponseStreamWriter"/>'s wait), so fewer flushes allocate less; with the transport's 64 KiB blocks
    /// the pipes' segment count no longer limits the threshold. Measured at 256² (docs/performance.md, "Allocations",
    /// "Round 2"): every 256 KiB 1,285 bytes per image besides the idle rate, every 1 MiB 812, once per chunk 830.
    /// </summary>
    internal const int FlushBytes = 1024 * 1024;

    private static (ServedModel Model, GenerationPlan Plan) Prepare(ServedModel model, GenerateRequest request, int maxImages, string limitName)
    {
        var plan = GenerationPlan.Create(model.Name, model.Signature, model.DefaultTruncation, ProtoMapper.ToSpec(request), maxImages, limitName);
        return (model, plan);
    }

    /// <summary>Refuses, before any work, a unary reply of <paramref name="count"/> images that cannot fit one message.</summary>
    private void CheckUnaryReply(int count, ImageGeometry geometry, ImageEncoding encoding, string streamingRpc)
    {
        var perImage = ReplyBudget.MaxImageBytes(geometry.Width, geometry.Height, geometry.Channels, encoding.Format);
        if (count * perImage <= _limits.MaxSendMessageBytes)
        {
            // Fits: the refusal's description below is not built for every call.
            return;
        }

        ReplyBudget.CheckReply(
            count * perImage, _limits.MaxSendMessageBytes, ServerLimitsOptions.MaxSendMessageBytesKey,
            $"{count} {ImageEncoding.ApiName(encoding.Format)} images of {geometry.Width}x{geometry.Height}x{geometry.Channels}",
            $"use {streamingRpc}, which sends one image per message, or fewer images per call");
    }

    private ModelLease AcquireModel(string name)
    {
        RequireModelName(name);
        return repository.Acquire(name);
    }

    private void RequireModelName(string name)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new InvalidFieldException("model", $"is required; loaded models: [{string.Join(", ", repository.Names)}]");
        }
    }
}
