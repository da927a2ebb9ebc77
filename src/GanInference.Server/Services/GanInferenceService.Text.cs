using GanInference.Api.V1;
using GanInference.Core.TextGeneration;
using GanInference.Server.Options;
using Grpc.Core;

namespace GanInference.Server.Services;

/// <summary>The text-to-image RPCs: <c>GenerateFromText</c> and <c>GenerateFromTextStream</c> (docs/text-to-image.md).</summary>
internal sealed partial class GanInferenceService
{
    public override async Task<GenerateResponse> GenerateFromText(GenerateFromTextRequest request, ServerCallContext context)
    {
        // The target holds every step it runs for the whole call, even if a reload replaces one meanwhile.
        using var target = AcquireText(request.Model);
        var plan = TextGenerationPlan.Create(target, ProtoMapper.ToSpec(request), _limits.ToTextLimits(_limits.MaxImagesPerRequest, ServerLimitsOptions.MaxImagesPerRequestKey));
        var encoding = ProtoMapper.ToEncoding(request.Format, request.JpegQuality);
        CheckUnaryReply(plan.Count, target.Geometry, encoding, "GenerateFromTextStream");
        using var call = servingState.LinkCall(context.CancellationToken);
        var response = new GenerateResponse { Model = target.Name, ContentHash = target.ContentHash };
        response.Images.Capacity = plan.Count;
        await CollectAsync(generator.GenerateFromTextAsync(target, plan, encoding, context.Deadline, call.Token, pooled: true), response, target.Geometry, request.Format, context).ConfigureAwait(false);
        return response;
    }

    public override async Task GenerateFromTextStream(GenerateFromTextRequest request, IServerStreamWriter<GeneratedImage> responseStream, ServerCallContext context)
    {
        using var target = AcquireText(request.Model);
        var plan = TextGenerationPlan.Create(target, ProtoMapper.ToSpec(request), _limits.ToTextLimits(_limits.MaxImagesPerStream, ServerLimitsOptions.MaxImagesPerStreamKey));
        var encoding = ProtoMapper.ToEncoding(request.Format, request.JpegQuality);
        using var call = servingState.LinkCall(context.CancellationToken);
        await WriteAllAsync(generator.GenerateFromTextAsync(target, plan, encoding, context.Deadline, call.Token, pooled: true), responseStream, target.Geometry, request.Format, context, call.Token).ConfigureAwait(false);
    }

    private TextGenerationTarget AcquireText(string name)
    {
        RequireModelName(name);
        return repository.AcquireText(name);
    }
}
