using System.CommandLine;
using System.Globalization;
using GanInference.Api.V1;
using Spectre.Console;

namespace GanInference.Cli.Commands;

/// <summary>`gan models`: a table of the models the server serves.</summary>
internal static class ModelsCommand
{
    public static Command Create(CliHost host, ServerConnection connection)
    {
        var command = new Command("models", "List the server's models and pipelines: kind, image size, latent size, classes or text, batching.");
        CommandRunner.SetAction(command, host, connection, async (parse, cancellationToken) =>
        {
            using var client = connection.CreateClient(parse);
            var models = await client.ListModelsAsync(cancellationToken).ConfigureAwait(false);
            if (models.Count == 0)
            {
                host.Console.WriteLine($"The server at {client.Address} has no models.");
                return ExitCodes.Success;
            }

            host.Console.Write(BuildTable(models));
            return ExitCodes.Success;
        });
        return command;
    }

    internal static Table BuildTable(IEnumerable<ModelInfo> models)
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("Model").AddColumn("Kind").AddColumn("Image (WxHxC)").AddColumn(new TableColumn("Latent").RightAligned())
            .AddColumn("Conditioning").AddColumn(new TableColumn("Max batch").RightAligned()).AddColumn("Provider").AddColumn("Weights");
        foreach (var model in models.OrderBy(m => m.Name, StringComparer.Ordinal))
        {
            table.AddRow(
                Markup.Escape(model.Name),
                ModelLookup.KindName(model.Kind),
                $"{model.Width}x{model.Height}x{model.Channels}",
                model.LatentDim.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(DescribeConditioning(model)),
                model.Batching is { } batching ? batching.MaxBatchSize.ToString(CultureInfo.InvariantCulture) : "-",
                Markup.Escape(model.ExecutionProvider),
                Markup.Escape(ShortHash(model.ContentHash)));
        }

        return table;
    }

    /// <summary>What a model is conditioned on: its classes, or its text block and, for a pipeline, its steps.</summary>
    internal static string DescribeConditioning(ModelInfo model)
    {
        if (model.Kind == ModelKind.TextConditional)
        {
            var text = $"text: {Math.Max(0, model.Vocabulary.Count - 1)} words, <= {model.MaxTextTokens} per text";
            if (model.PipelineSteps.Count > 0)
            {
                return $"{text}; pipeline {string.Join(" -> ", model.PipelineSteps)}";
            }

            return model.Inputs.Any(i => i.Role == "image") ? $"{text}; pipeline step (takes an image)" : text;
        }

        if (model.Classes.Count == 0)
        {
            return "-";
        }

        const int Shown = 10;
        var names = string.Join(",", model.Classes.Take(Shown));
        return model.Classes.Count > Shown ? $"{model.Classes.Count}: {names},..." : $"{model.Classes.Count}: {names}";
    }

    // "sha256:" and the first 12 hex digits: enough to tell weights apart in a table.
    private static string ShortHash(string hash) => hash.Length > 19 ? hash[..19] : hash;
}
