using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Trainers.TextToImage;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace GanInference.Trainers.Cli;

/// <summary><c>evaluate</c> of an exported text-to-image pipeline folder (e.g. <c>models/stackgan-digits</c>).</summary>
internal static partial class ToolCommands
{
    /// <summary>True when <paramref name="folder"/> holds a text-conditional pipeline manifest (two steps, Stage-I then Stage-II).</summary>
    private static bool IsTextPipeline(string folder)
    {
        var manifest = Path.Combine(folder, "gan.json");
        if (!File.Exists(manifest))
        {
            return false;
        }

        var root = JsonNode.Parse(File.ReadAllText(manifest));
        return root?["kind"]?.GetValue<string>() == "text-conditional" && root["pipeline"] is not null;
    }

    /// <summary>
    /// The export's text-to-image figures, recomputed from the folder's ONNX files (the steps named by its manifest, the
    /// manifest's default truncation unless --truncation is given), with the gate figures of issue 16 beside them.
    /// </summary>
    private static async Task EvaluateTextPipelineAsync(ParseResult parse, string folder, string classifierPath, string dataDirectory, Option<int> samples, Option<float> truncationOption, string? jsonPath, ILogger logger, CancellationToken cancellationToken)
    {
        var root = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(folder, "gan.json"), cancellationToken).ConfigureAwait(false))!;
        var steps = root["pipeline"]!["steps"]!.AsArray().Select(s => s!["model"]!.GetValue<string>()).ToArray();
        if (steps.Length != 2)
        {
            throw new InvalidDataException($"{folder}/gan.json: expected a two-step pipeline (Stage-I, Stage-II), found {steps.Length} steps.");
        }

        var networks = root["provenance"]!["architecture"].Deserialize<StackGanArchitecture>(new JsonSerializerOptions(JsonSerializerDefaults.Web))
            ?? throw new InvalidDataException($"{folder}/gan.json: no provenance.architecture.");
        var truncation = parse.GetResult(truncationOption) is { Implicit: false } ? parse.GetValue(truncationOption) : root["defaults"]?["truncation"]?.GetValue<float>() ?? 0f;
        var parent = Path.GetDirectoryName(Path.GetFullPath(folder).TrimEnd(Path.DirectorySeparatorChar))!;
        using var pipeline = new OnnxStackGanPipeline(
            await File.ReadAllBytesAsync(Path.Combine(parent, steps[0], "model.onnx"), cancellationToken).ConfigureAwait(false),
            await File.ReadAllBytesAsync(Path.Combine(parent, steps[1], "model.onnx"), cancellationToken).ConfigureAwait(false),
            networks);
        var count = parse.GetResult(samples) is { Implicit: false } ? parse.GetValue(samples) : TextToImageEvaluator.DefaultCaptions;
        var report = await new TextToImageEvaluator(classifierPath, dataDirectory).EvaluateAsync(pipeline, count, cancellationToken, truncation).ConfigureAwait(false);

        var table = new Table().AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (name, value) in report.ToMetrics())
        {
            table.AddRow(name, value.ToString("G6", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(table);
        if (jsonPath is not null)
        {
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(report, ReportJson), cancellationToken).ConfigureAwait(false);
        }

        Log.Evaluated(logger, folder, string.Join(", ", report.ToMetrics().Select(m => FormattableString.Invariant($"{m.Key}={m.Value}"))));
    }
}
