using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace GanInference.Trainers.Cli;

/// <summary><c>export</c> and <c>evaluate</c> for the image-to-image models (Pix2Pix, CycleGAN).</summary>
internal static partial class ToolCommands
{
    private static async Task ExportImageToImageAsync(ParseResult parse, ExportOptions options, Option<int> samples, ImageToImageExportOptions translation, ILogger logger, CancellationToken cancellationToken)
    {
        var direction = ParseDirection(parse.GetValue(translation.Direction));
        var report = await new ImageToImagePackageWriter(new ImageToImageExporter())
            .WriteAsync(options with { EvaluationSamples = SampleCount(parse, samples) }, direction, cancellationToken).ConfigureAwait(false);
        Print(report);
        Log.Exported(logger, "image-to-image model", options.OutputDirectory);
    }

    private static async Task EvaluateImageToImageAsync(ParseResult parse, string modelPath, string? reversePath, string classifierPath, string dataDirectory, Option<int> samples, string? jsonPath, ILogger logger, CancellationToken cancellationToken)
    {
        if (reversePath is not null && Directory.Exists(reversePath))
        {
            reversePath = Path.Combine(reversePath, ModelPackageWriter.ModelFileName);
        }

        using var model = new OnnxTranslatorSession(modelPath);
        using var reverse = reversePath is null ? null : new OnnxTranslatorSession(reversePath);
        var report = await new ImageToImageEvaluator(classifierPath, dataDirectory).EvaluateAsync(model, reverse, SampleCount(parse, samples), cancellationToken).ConfigureAwait(false);
        Print(report);
        if (jsonPath is not null)
        {
            await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(report, ReportJson), cancellationToken).ConfigureAwait(false);
        }

        Log.Evaluated(logger, modelPath, string.Join(", ", report.ToMetrics().Select(m => FormattableString.Invariant($"{m.Key}={m.Value}"))));
    }

    /// <summary>The shared --samples default (1,000 generated images) exceeds the held-out digits a translation can use; use 200 unless given.</summary>
    private static int SampleCount(ParseResult parse, Option<int> samples) =>
        parse.GetResult(samples) is { Implicit: false } ? parse.GetValue(samples) : ImageToImagePackageWriter.DefaultEvaluationSamples;

    private static CycleDirection ParseDirection(string? value) => value switch
    {
        "a2b" => CycleDirection.AToB,
        "b2a" => CycleDirection.BToA,
        _ => throw new ArgumentException($"--direction must be a2b or b2a, got '{value}'."),
    };

    private static void Print(ImageToImageReport report)
    {
        static string Colour(double[] values) => string.Join(", ", values.Select(v => v.ToString("F1", CultureInfo.InvariantCulture)));
        var table = new Table().AddColumn(report.Task).AddColumn(new TableColumn("value").RightAligned());
        foreach (var (name, value) in report.ToMetrics())
        {
            table.AddRow(name, value.ToString("G6", CultureInfo.InvariantCulture));
        }

        table.AddRow("background colour (target)", $"{Colour(report.BackgroundColor)} ({Colour(report.TargetBackgroundColor)})");
        table.AddRow("stroke colour (target)", $"{Colour(report.StrokeColor)} ({Colour(report.TargetStrokeColor)})");
        AnsiConsole.Write(table);
    }

    /// <summary>Export options that only image-to-image checkpoints use.</summary>
    private sealed record ImageToImageExportOptions(Option<string> Direction)
    {
        public static ImageToImageExportOptions AddTo(Command command)
        {
            var direction = new Option<string>("--direction") { Description = "CycleGAN checkpoints: which generator to export, a2b (grey -> ink) or b2a (ink -> grey).", DefaultValueFactory = _ => "a2b" };
            direction.AcceptOnlyFromAmong("a2b", "b2a");
            command.Options.Add(direction);
            return new(direction);
        }
    }
}
