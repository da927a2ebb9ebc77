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
        var name = new Argument<string?>("model") { Description = "Show one model in full: inputs, classes, vocabulary, batching, provenance", Arity = ArgumentArity.ZeroOrOne };
        var json = new Option<bool>("--json") { Description = "Print the server's answer as JSON (protobuf JSON mapping) instead of a table" };
        var command = new Command("models", "List the server's models and pipelines (kind, image size, latent size, classes or text, batching), or show one in full.");
        command.Arguments.Add(name);
        command.Options.Add(json);
        CommandRunner.SetAction(command, host, connection, async (parse, cancellationToken) =>
        {
            using var client = connection.CreateClient(parse);
            if (parse.GetValue(name) is { Length: > 0 } modelName)
            {
                var info = await ModelLookup.GetAsync(client, modelName, cancellationToken).ConfigureAwait(false);
                if (parse.GetValue(json))
                {
                    await host.Output.WriteLineAsync(Json.Format(info)).ConfigureAwait(false);
                }
                else
                {
                    host.Console.Write(BuildDetails(info));
                }

                return ExitCodes.Success;
            }

            var models = await client.ListModelsAsync(cancellationToken).ConfigureAwait(false);
            if (parse.GetValue(json))
            {
                var response = new ListModelsResponse();
                response.Models.AddRange(models.OrderBy(m => m.Name, StringComparer.Ordinal));
                await host.Output.WriteLineAsync(Json.Format(response)).ConfigureAwait(false);
                return ExitCodes.Success;
            }

            if (models.Count == 0)
            {
                host.Console.WriteLine($"The server at {client.Address} has no models.");
                return ExitCodes.Success;
            }

            host.Console.Write(BuildTable(models));
            host.Console.WriteLine("`gan models NAME` shows one model in full (classes, vocabulary, inputs, batching); --json prints JSON.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static readonly Google.Protobuf.JsonFormatter Json = new(Google.Protobuf.JsonFormatter.Settings.Default.WithIndentation());

    /// <summary>Everything the server says about one model, one field per row.</summary>
    internal static Grid BuildDetails(ModelInfo model)
    {
        var grid = new Grid().AddColumn(new GridColumn().NoWrap()).AddColumn();
        void Row(string key, string value) => grid.AddRow(new Text(key), new Text(value));
        Row("model", model.Name);
        Row("kind", ModelLookup.KindName(model.Kind));
        if (model.Description.Length > 0)
        {
            Row("description", model.Description);
        }

        Row("image", $"{model.Width}x{model.Height}x{model.Channels} (raw output range {model.OutputMin.ToString(CultureInfo.InvariantCulture)}..{model.OutputMax.ToString(CultureInfo.InvariantCulture)})");
        if (model.LatentDim > 0)
        {
            Row("latent", $"{model.LatentDim}; default truncation {model.DefaultTruncation.ToString(CultureInfo.InvariantCulture)}{(model.DefaultTruncation > 0 ? " (used when --truncation is not given; --truncation 8.66 gives plain N(0, 1), docs/determinism.md)" : " (plain N(0, 1))")}");
        }

        if (model.Classes.Count > 0)
        {
            Row("classes", $"{model.Classes.Count}: {string.Join(", ", model.Classes.Select((c, i) => c == i.ToString(CultureInfo.InvariantCulture) ? c : $"{i}={c}"))} (--labels takes a name or an index)");
        }

        if (model.Vocabulary.Count > 0)
        {
            Row("words", $"{model.Vocabulary.Count - 1}, at most {model.MaxTextTokens} per caption; case-insensitive");
            Row("vocabulary", string.Join(" ", model.Vocabulary.Skip(1)));
        }

        if (model.PipelineSteps.Count > 0)
        {
            Row("pipeline", string.Join(" -> ", model.PipelineSteps));
        }

        foreach (var input in model.Inputs)
        {
            Row("input", $"{input.Name}: {input.Role}, {input.Dtype} [{string.Join(", ", input.Shape)}]");
        }

        foreach (var output in model.Outputs)
        {
            Row("output", $"{output.Name}: {output.Role}, {output.Dtype} [{string.Join(", ", output.Shape)}]");
        }

        Row("batching", model.Batching is { } b
            ? $"max batch {b.MaxBatchSize}, max queue delay {b.MaxQueueDelayMs.ToString(CultureInfo.InvariantCulture)} ms, max queue {b.MaxQueueSize}"
                + (b.PreferredBatchSizes.Count > 0 ? $", preferred {string.Join(",", b.PreferredBatchSizes)}" : string.Empty)
            : "- (a pipeline: its steps batch)");
        Row("provider", model.ExecutionProvider);
        Row("weights", model.ContentHash);
        Row("use", model.Kind switch
        {
            ModelKind.ImageToImage => $"gan translate --model {model.Name} --in FOLDER --out FOLDER",
            ModelKind.TextConditional when model.Inputs.Any(i => i.Role == "image") => "a pipeline step: call the pipeline that lists it",
            ModelKind.TextConditional => $"gan generate --model {model.Name} --texts \"...\"",
            ModelKind.ClassConditional => $"gan generate --model {model.Name} --labels {model.Classes.FirstOrDefault() ?? "0"}; gan dataset --model {model.Name} --per-class N --out FOLDER",
            _ => $"gan generate --model {model.Name}; gan dataset --model {model.Name} --count N --out FOLDER",
        });
        return grid;
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
