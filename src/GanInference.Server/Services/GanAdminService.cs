using GanInference.Api.V1;
using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Repository;
using GanInference.Server.Hosting;
using Grpc.Core;

namespace GanInference.Server.Services;

/// <summary>The <c>gan.v1.GanAdmin</c> service: operators' calls (reload the model repository now, profile a model's batch sizes).</summary>
internal sealed class GanAdminService(ModelReloader reloader, ModelRepository repository) : GanAdmin.GanAdminBase
{
    public override async Task<ReloadModelsResponse> ReloadModels(ReloadModelsRequest request, ServerCallContext context)
    {
        var report = await reloader.ReloadNowAsync(context.CancellationToken).ConfigureAwait(false);
        var response = new ReloadModelsResponse();
        response.Models.AddRange(report.Models);
        foreach (var change in report.Changes)
        {
            response.Changes.Add(new Api.V1.ModelChange
            {
                Folder = change.Folder,
                Kind = change.Kind switch
                {
                    Core.Repository.ModelChangeKind.Added => Api.V1.ModelChangeKind.ModelAdded,
                    Core.Repository.ModelChangeKind.Replaced => Api.V1.ModelChangeKind.ModelReplaced,
                    Core.Repository.ModelChangeKind.Removed => Api.V1.ModelChangeKind.ModelRemoved,
                    Core.Repository.ModelChangeKind.Failed => Api.V1.ModelChangeKind.ModelFailed,
                    _ => Api.V1.ModelChangeKind.Unspecified,
                },
                Reason = change.Reason ?? string.Empty,
                StillServing = change.StillServing,
            });
        }

        response.Failures.AddRange(repository.Failures.Select(f => new FolderFailure { Folder = f.Folder, Reason = f.Reason }));
        return response;
    }

    public override async Task<ProfileBatchingResponse> ProfileBatching(ProfileBatchingRequest request, ServerCallContext context)
    {
        if (string.IsNullOrEmpty(request.Model))
        {
            throw new InvalidFieldException("model", $"is required; loaded models: [{string.Join(", ", repository.Names)}]");
        }

        if (repository.TryGetPipeline(request.Model, out var pipeline))
        {
            throw new ModelKindMismatchException(
                $"'{request.Model}' is a pipeline; it has no batcher of its own: profile its steps ({string.Join(", ", pipeline.Steps.Select(s => s.Name))})");
        }

        // The lease keeps this version alive while it is measured, even if a reload replaces it meanwhile.
        using var lease = repository.Acquire(request.Model);
        var model = lease.Model;
        var profile = await model.ProfileBatchingAsync(context.CancellationToken).ConfigureAwait(false);
        return new ProfileBatchingResponse
        {
            Model = model.Name,
            Profile = ProtoMapper.ToProto(profile),
            Policy = model.Batching.Policy.ToName(),
            EffectiveMaxBatchSize = (uint)model.EffectiveMaxBatchSize,
            EffectiveRunsInFlight = (uint)model.EffectiveRunsInFlight,
        };
    }
}
