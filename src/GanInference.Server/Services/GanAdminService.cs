using GanInference.Api.V1;
using GanInference.Core.Repository;
using GanInference.Server.Hosting;
using Grpc.Core;

namespace GanInference.Server.Services;

/// <summary>The <c>gan.v1.GanAdmin</c> service: operators' calls (reload the model repository now).</summary>
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
}
