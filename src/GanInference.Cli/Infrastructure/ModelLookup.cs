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
        var next = model.Kind switch
        {
            ModelKind.ImageToImage => $"it turns input images into images: use `gan translate --model {model.Name} --in FOLDER --out FOLDER` (examples/ has inputs).",
            ModelKind.TextConditional when command == "generate" => $"give captions with --texts or --texts-file (`gan models {model.Name}` lists its words).",
            ModelKind.TextConditional => $"use `gan generate --model {model.Name} --texts \"...\"` for it.",
            _ => null,
        };
        if (next is not null || model.Kind is not (ModelKind.Unconditional or ModelKind.ClassConditional))
        {
            throw new CliException(
                $"model '{model.Name}' is {KindName(model.Kind)}; `gan {command}` drives unconditional and class-conditional models through Generate; {next ?? "this kind is not supported."}");
        }
    }

    /// <summary>"a, b" (the names of the server's models of one kind) or "the server has none", for messages.</summary>
    public static async Task<string> NamesOfKindAsync(GanClient client, ModelKind kind, CancellationToken cancellationToken)
    {
        var models = await client.ListModelsAsync(cancellationToken).ConfigureAwait(false);
        var names = models.Where(m => m.Kind == kind).Select(m => m.Name).Order(StringComparer.Ordinal).ToList();
        return names.Count == 0 ? "the server has none" : "the server has " + string.Join(", ", names);
    }
}
