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
    /// <summary>
    /// <c>import-stage1</c>: an exported Stage-I ONNX file (e.g. the shipped models/stackgan-digits-stage1) back into a
    /// Stage-I checkpoint folder for <c>train stackgan --stage 2 --stage1</c> (TextToImage/StageOneImporter.cs).
    /// </summary>
    private static Command CreateImportStageOne(ILoggerFactory loggers)
    {
        var onnx = new Option<string>("--onnx") { Description = "Stage-I model.onnx written by export (e.g. models/stackgan-digits-stage1/model.onnx).", Required = true };
        var manifest = new Option<string?>("--manifest") { Description = "gan.json whose provenance.architecture gives the Stage-I sizes (default: the one beside --onnx)." };
        var output = new Option<string>("--out") { Description = "Checkpoint folder to write (e.g. runs/S1/checkpoints/imported).", Required = true };
        var seconds = new Option<double>("--stage1-seconds") { Description = "Stage-I training time to carry into the Stage-II checkpoint's seconds (the file does not record it).", DefaultValueFactory = _ => 0 };
        var command = new Command("import-stage1", "Read an exported StackGAN Stage-I ONNX file back into a Stage-I checkpoint (for train stackgan --stage 2 --stage1).");
        foreach (var option in new Option[] { onnx, manifest, output, seconds })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var onnxPath = parse.GetValue(onnx)!;
            var manifestPath = parse.GetValue(manifest) ?? Path.Combine(Path.GetDirectoryName(onnxPath) ?? string.Empty, "gan.json");
            var outputPath = parse.GetValue(output)!;
            var line = FormattableString.Invariant($"dotnet run --project tools/GanInference.Trainers -c Release -- import-stage1 --onnx {onnxPath} --manifest {manifestPath} --out {outputPath} --stage1-seconds {parse.GetValue(seconds)}");
            var info = await StageOneImporter.ImportAsync(onnxPath, manifestPath, outputPath, parse.GetValue(seconds), line, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(FormattableString.Invariant($"Stage-I (stageOneWidth {info.Architecture.StackGan!.StageOneWidth}, embedding {info.Architecture.StackGan.EmbeddingDimension}) imported from {onnxPath} to {outputPath}"));
            Log.Exported(loggers.CreateLogger("import-stage1"), "Stage-I checkpoint", outputPath);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// <c>import-stage2</c>: a Stage-I checkpoint under an exported Stage-II ONNX file (e.g. a fine-tuned Stage-I under the
    /// shipped models/stackgan-digits-stage2) in one Stage-II checkpoint folder for <c>export</c> (TextToImage/StageTwoImporter.cs).
    /// </summary>
    private static Command CreateImportStageTwo(ILoggerFactory loggers)
    {
        var onnx = new Option<string>("--onnx") { Description = "Stage-II model.onnx written by export (e.g. models/stackgan-digits-stage2/model.onnx).", Required = true };
        var manifest = new Option<string?>("--manifest") { Description = "gan.json whose provenance gives the Stage-II sizes, epochs, steps and commands (default: the one beside --onnx)." };
        var stageOne = new Option<string>("--stage1") { Description = "Stage-I checkpoint folder to put under it; its text encoder must be the Stage-II file's (a --stage1-init fine-tune keeps it).", Required = true };
        var average = new Option<int>("--stage1-average") { Description = "Use the mean Stage-I weights of this many epoch checkpoints up to --stage1 (1 = that checkpoint alone).", DefaultValueFactory = _ => 1 };
        var truncation = new Option<float>("--stage1-truncation") { Description = "With --stage1-average > 1: re-estimate the averaged Stage-I's BatchNorm statistics at this truncation; use the truncation the export will ship.", DefaultValueFactory = _ => 0f };
        var seconds = new Option<double>("--stage2-seconds") { Description = "Stage-II training time to add to the Stage-I's (the file does not record it).", DefaultValueFactory = _ => 0 };
        var output = new Option<string>("--out") { Description = "Checkpoint folder to write (e.g. runs/swap/checkpoints/imported).", Required = true };
        var command = new Command("import-stage2", "Put a Stage-I checkpoint under an exported StackGAN Stage-II ONNX file, as one Stage-II checkpoint (for export).");
        foreach (var option in new Option[] { onnx, manifest, stageOne, average, truncation, seconds, output })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var onnxPath = parse.GetValue(onnx)!;
            var manifestPath = parse.GetValue(manifest) ?? Path.Combine(Path.GetDirectoryName(onnxPath) ?? string.Empty, "gan.json");
            var outputPath = parse.GetValue(output)!;
            var line = FormattableString.Invariant($"dotnet run --project tools/GanInference.Trainers -c Release -- import-stage2 --onnx {onnxPath} --manifest {manifestPath} --stage1 {parse.GetValue(stageOne)} --stage1-average {parse.GetValue(average)} --stage1-truncation {parse.GetValue(truncation)} --stage2-seconds {parse.GetValue(seconds)} --out {outputPath}");
            Training.OneDnn.EnsureCorrect();
            var info = await StageTwoImporter.ImportAsync(onnxPath, manifestPath, parse.GetValue(stageOne)!, parse.GetValue(average), parse.GetValue(truncation), parse.GetValue(seconds), outputPath, line, cancellationToken).ConfigureAwait(false);
            Console.WriteLine(FormattableString.Invariant($"Stage-II (stageTwoWidth {info.Architecture.StackGan!.StageTwoWidth}, {info.Epoch} epochs) imported from {onnxPath} over the Stage-I of {parse.GetValue(stageOne)} to {outputPath}"));
            Log.Exported(loggers.CreateLogger("import-stage2"), "Stage-II checkpoint", outputPath);
            return 0;
        });
        return command;
    }

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
    /// <param name="updateCommand">With --update-manifest: the command line to record; the figures then go into the three manifests.</param>
    private static async Task EvaluateTextPipelineAsync(ParseResult parse, string folder, string classifierPath, string dataDirectory, Option<int> samples, Option<float> truncationOption, string? jsonPath, string? resNetModels, string? updateCommand, ILogger logger, CancellationToken cancellationToken)
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

        // --resnet (resNetModels is then "" for the default folder): issue 16's Fréchet distances at 64×64 (TextToImageFrechet).
        var frechet = resNetModels is null ? null : await TextToImageFrechet.ComputeAsync(pipeline, dataDirectory, count, truncation, resNetModels.Length == 0 ? null : resNetModels, cancellationToken).ConfigureAwait(false);
        foreach (var (name, value) in frechet?.ToMetrics() ?? new Dictionary<string, double>())
        {
            table.AddRow(name, value.ToString("G6", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(table);
        if (jsonPath is not null)
        {
            var json = frechet is null ? JsonSerializer.Serialize(report, ReportJson) : JsonSerializer.Serialize(new { report, frechet }, ReportJson);
            await File.WriteAllTextAsync(jsonPath, json, cancellationToken).ConfigureAwait(false);
        }

        if (updateCommand is not null)
        {
            await StackGanPackageWriter.UpdateManifestFiguresAsync(folder, [.. steps.Select(step => Path.Combine(parent, step))], report, frechet, classifierPath, updateCommand, cancellationToken).ConfigureAwait(false);
        }

        Log.Evaluated(logger, folder, string.Join(", ", report.ToMetrics().Select(m => FormattableString.Invariant($"{m.Key}={m.Value}"))));
    }
}
