using GanInference.Api.V1;
using GanInference.Client;
using Grpc.Core;

namespace GanInference.Cli;

/// <summary>Resolves a model name, answering an unknown name with the list of models the server has.</summary>
internal static class ModelLookup
{
    public static async Task<ModelInfo> GetAsync(GanClient client, string model, CancellationToken cancellationToken)
    {
        try
        {
            return await client.GetModelAsync(model, cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            var models = await client.ListModelsAsync(cancellationToken).ConfigureAwait(false);
            var available = models.Count == 0
                ? "the server has no models"
                : "available models: " + string.Join(", ", models.Select(m => $"{m.Name} ({KindName(m.Kind)})"));
            throw new CliException($"unknown model '{model}'; {available}", ExitCodes.UnknownModel);
        }
    }

    public static string KindName(ModelKind kind) => kind switch
    {
        ModelKind.Unconditional => "unconditional",
        ModelKind.ClassConditional => "class-conditional",
        ModelKind.TextConditional => "text-conditional",
        ModelKind.ImageToImage => "image-to-image",
        _ => "unspecified",
    };

    /// <summary>
    /// The commands that draw from seeds (generate, dataset, bench) need a model fed by latents; text and
    /// image-conditioned kinds use other RPCs.
    /// </summary>
    public static void RequireSeedDriven(ModelInfo model, string command)
    {
        if (model.Kind is not (ModelKind.Unconditional or ModelKind.ClassConditional))
        {
            throw new CliException(
                $"model '{model.Name}' is {KindName(model.Kind)}; `gan {command}` drives unconditional and class-conditional models through Generate.");
        }
    }
}
