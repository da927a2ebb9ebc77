using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.Export;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace GanInference.Trainers.Cli;

/// <summary><c>export</c> and <c>evaluate</c>.</summary>
internal static partial class ToolCommands
{
    private static readonly JsonSerializerOptions ReportJson = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static IEnumerable<Command> Create(ILoggerFactory loggers, string commandLine) => [CreateExport(loggers), CreateEvaluate(loggers, commandLine), CreateEvaluateStageOne(), CreateImportStageOne(loggers), CreateImportStageTwo(loggers)];

    private static Command CreateEvaluateStageOne()
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Stage-I checkpoint folder (runs/NAME/checkpoints/epoch-NNN).", Required = true };
        var average = new Option<int>("--average-epochs") { Description = "Evaluate the mean weights of this many epoch checkpoints up to --checkpoint (as train stackgan --stage 2 --stage1-average).", DefaultValueFactory = _ => 1 };
        var truncation = new Option<float>("--truncation") { Description = "Truncation of z and the CA noise (0 = plain N(0, 1)).", DefaultValueFactory = _ => 0f };
        var captions = new Option<int>("--captions") { Description = "Held-out captions (seeds 1000..), as the export's evaluation.", DefaultValueFactory = _ => TextToImage.TextToImageEvaluator.DefaultCaptions };
        var classifier = new Option<string>("--classifier") { Description = "Exported classifier.", DefaultValueFactory = _ => Path.Combine("eval", "mnist-classifier", "model.onnx") };
        var data = new Option<string?>("--data") { Description = "MNIST folder: training digits calibrate the thickness reader, test digits make the real renders (default: the checkpoint's training data)." };
        var command = new Command("evaluate-stage1", "Held-out figures of a StackGAN Stage-I checkpoint (or the mean of its last epochs) at a truncation; per digit and per thickness too.");
        foreach (var option in new Option[] { checkpoint, average, truncation, captions, classifier, data })
        {
            command.Options.Add(option);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(average) < 1 || parse.GetValue(captions) < 1)
            {
                throw new ArgumentException("--average-epochs and --captions must be at least 1.");
            }

            // Stage-I runs in libtorch here, as in training: refuse wrong kernels (docs/training.md, "Wrong numbers from oneDNN").
            Training.OneDnn.EnsureCorrect();

            var report = await TextToImage.StageOneCheckpointEvaluator.EvaluateAsync(
                parse.GetValue(checkpoint)!, parse.GetValue(average), parse.GetValue(truncation), parse.GetValue(captions), parse.GetValue(classifier)!, parse.GetValue(data), cancellationToken).ConfigureAwait(false);
            Console.WriteLine(FormattableString.Invariant($"{report.Captions} held-out captions, {report.AveragedEpochs} epoch(s) averaged, truncation {report.Truncation}: digit {report.Digit:F3}  colour {report.Colour:F3}  background {report.Background:F3}"));
            Console.WriteLine("digit by class 0-9: " + string.Join(" ", report.DigitByClass.Select(v => v.ToString("F2", CultureInfo.InvariantCulture))));
            Console.WriteLine(FormattableString.Invariant($"thickness {report.Thickness:F3} (thin {report.ThicknessByCaption[0]:F2}  regular {report.ThicknessByCaption[1]:F2}  thick {report.ThicknessByCaption[2]:F2}); the same reader on real renders of these captions {report.RealThickness:F3}"));
            return 0;
        });
        return command;
    }

    private static Command CreateExport(ILoggerFactory loggers)
    {
        var checkpoint = new Option<string>("--checkpoint") { Description = "Checkpoint folder (runs/NAME/checkpoints/latest or epoch-NNN).", Required = true };
        var output = new Option<string>("--out") { Description = "Model folder to write, e.g. models/dcgan-mnist (its name is the model name).", Required = true };
        var classifier = new Option<string>("--classifier") { Description = "Exported classifier for the evaluation figures.", DefaultValueFactory = _ => Path.Combine("eval", "mnist-classifier", "model.onnx") };
        var data = new Option<string?>("--data") { Description = "MNIST folder for the evaluation (default: the checkpoint's training data)." };
        var samples = new Option<int>("--samples") { Description = "Images generated for the evaluation.", DefaultValueFactory = _ => 1000 };
        var description = new Option<string?>("--description") { Description = "Manifest description." };
        var average = new Option<int>("--average-epochs") { Description = "Export the mean generator of the last N epoch checkpoints up to --checkpoint.", DefaultValueFactory = _ => 1 };
        var truncation = new Option<float>("--truncation") { Description = "Text-to-image: the manifests' default truncation of z and the CA noise (0 = plain N(0, 1)); the evaluation and samples use it.", DefaultValueFactory = _ => 0f };
        var firstSeed = new Option<ulong>("--first-seed") { Description = "Generators: the evaluation uses seeds from this one (0 = the reported set; e.g. 1000 while choosing a checkpoint).", DefaultValueFactory = _ => 0UL };
        var selection = new Option<string?>("--selection") { Description = "Generators: how the checkpoint, averaging and truncation were chosen and on which seeds (written to provenance.selection)." };
        var ema = new Option<bool>("--ema") { Description = "DCGAN / cDCGAN: export the checkpoint's moving average of the generator (train --g-ema) instead of the trained generator." };

        var command = new Command("export", "Export a checkpoint to ONNX with its manifest (gan.json or classifier.json) and samples.png.");
        foreach (var option in new Option[] { checkpoint, output, classifier, data, samples, description, average, ema, truncation, firstSeed, selection })
        {
            command.Options.Add(option);
        }

        var translation = ImageToImageExportOptions.AddTo(command); // Pix2Pix / CycleGAN: ToolCommands.ImageToImage.cs

        command.SetAction(async (parse, cancellationToken) =>
        {
            // Averaged generators' BatchNorm statistics are re-estimated in libtorch: refuse wrong kernels as training does.
            Training.OneDnn.EnsureCorrect();
            var logger = loggers.CreateLogger("export");
            var options = new ExportOptions
            {
                CheckpointDirectory = parse.GetValue(checkpoint)!,
                OutputDirectory = parse.GetValue(output)!,
                ClassifierPath = parse.GetValue(classifier)!,
                DataDirectory = parse.GetValue(data),
                EvaluationSamples = parse.GetValue(samples),
                Description = parse.GetValue(description),
                AverageEpochs = parse.GetValue(average),
                GeneratorEma = parse.GetValue(ema),
                Truncation = parse.GetValue(truncation),
                EvaluationFirstSeed = parse.GetValue(firstSeed),
                Selection = parse.GetValue(selection),
            };
            if (options.Truncation is < 0 or float.NaN || float.IsInfinity(options.Truncation))
            {
                throw new ArgumentException($"--truncation: {options.Truncation} must be 0 or a finite positive number.");
            }
            var isStackGan = await TextToImage.StackGanPackageWriter.IsStackGanCheckpointAsync(options.CheckpointDirectory, cancellationToken).ConfigureAwait(false);
            var isImageToImage = !isStackGan && await ImageToImagePackageWriter.IsImageToImageCheckpointAsync(options.CheckpointDirectory, cancellationToken).ConfigureAwait(false);
            if (options.GeneratorEma && (isStackGan || isImageToImage))
            {
                throw new ArgumentException($"--ema: only DCGAN and cDCGAN checkpoints (train dcgan|cdcgan --g-ema) carry a moving-average generator; {options.CheckpointDirectory} is not one.");
            }

            if (isStackGan)
            {
                var captions = parse.GetResult(samples) is { Implicit: false } ? options.EvaluationSamples : TextToImage.TextToImageEvaluator.DefaultCaptions;
                var stackReport = await new TextToImage.StackGanPackageWriter(new TextToImage.StackGanExporter())
                    .WriteAsync(options with { EvaluationSamples = captions }, cancellationToken).ConfigureAwait(false);
                foreach (var (metric, value) in stackReport.ToMetrics())
                {
                    Console.WriteLine(FormattableString.Invariant($"{metric,-24} {value}"));
                }

                Console.WriteLine(FormattableString.Invariant($"{"embeddingPathMaxDifference",-24} {stackReport.EmbeddingPathMaxDifference}"));
                Log.Exported(logger, "text-to-image pipeline", options.OutputDirectory);
                return 0;
            }

            if (options.Truncation != 0)
            {
                throw new ArgumentException("--truncation: only text-to-image exports (StackGAN Stage-II checkpoints) write a default truncation; other manifests keep 0.");
            }

            if (isImageToImage)
            {
                await ExportImageToImageAsync(parse, options, samples, translation, logger, cancellationToken).ConfigureAwait(false);
                return 0;
            }

            var report = await new ModelPackageWriter(new OnnxModelExporter()).WriteAsync(options, cancellationToken).ConfigureAwait(false);
            if (report is not null)
            {
                Print(report);
            }

            Log.Exported(logger, report is null ? "classifier" : "generator", options.OutputDirectory);
            return 0;
        });
        return command;
    }

    private static Command CreateEvaluate(ILoggerFactory loggers, string commandLine)
    {
        var model = new Option<string>("--model") { Description = "Exported generator (model.onnx or its folder).", Required = true };
        var classifier = new Option<string>("--classifier") { Description = "Exported classifier.", DefaultValueFactory = _ => Path.Combine("eval", "mnist-classifier", "model.onnx") };
        var data = new Option<string>("--data") { Description = "MNIST folder (real digits for the baselines).", Required = true };
        var samples = new Option<int>("--samples") { Description = "Images generated, from seeds --first-seed..--first-seed+N-1.", DefaultValueFactory = _ => 1000 };
        var truncation = new Option<float>("--truncation") { Description = "Latent truncation (0 = plain N(0, 1)).", DefaultValueFactory = _ => 0f };
        var evaluateFirstSeed = new Option<ulong>("--first-seed") { Description = "Generators: first seed of the samples (0 = the reported set; e.g. 1000 for a selection set kept apart from it).", DefaultValueFactory = _ => 0UL };
        var json = new Option<string?>("--json") { Description = "Also write the report as JSON to this file." };
        var resNet = new Option<bool>("--resnet") { Description = "Generators and text-to-image pipelines (64×64 against real renders): also the Fréchet distances in ImageNet ResNet-18 features (the ONNX model of NuGet package Microsoft.ML.DnnImageFeaturizer.ResNet18; about 3 × --samples images through ResNet-18)." };
        var resNetModels = new Option<string?>("--resnet-models") { Description = "The package's tools/DnnImageModels folder (default: where NuGet restored it for this build)." };
        var updateManifest = new Option<bool>("--update-manifest") { Description = "DCGAN / cDCGAN model folders: write these figures into the folder's gan.json (provenance.metrics, both readers' class shares, the command), e.g. to add the figures an older export did not compute; needs the reported seeds (--first-seed 0) at --truncation 0. Text-to-image pipeline folders: into the pipeline's and both steps' gan.json; needs the export's 200 captions at the manifest's default truncation." };

        var command = new Command("evaluate", "Quality figures of an exported generator, through ONNX Runtime with server-identical latents.");
        foreach (var option in new Option[] { model, classifier, data, samples, truncation, json })
        {
            command.Options.Add(option);
        }

        var reverse = new Option<string?>("--reverse") { Description = "CycleGAN: the opposite-direction model, for the cycle figure." };
        command.Options.Add(reverse);
        command.Options.Add(resNet);
        command.Options.Add(resNetModels);
        command.Options.Add(evaluateFirstSeed);
        command.Options.Add(updateManifest);

        command.SetAction(async (parse, cancellationToken) =>
        {
            var logger = loggers.CreateLogger("evaluate");
            var modelPath = parse.GetValue(model)!;
            var folder = Directory.Exists(modelPath) ? modelPath : null;
            if (parse.GetValue(updateManifest) && (folder is null || (!IsTextPipeline(folder) && ImageToImageEvaluator.IsImageToImageModel(Path.Combine(folder, ModelPackageWriter.ModelFileName)))))
            {
                throw new ArgumentException($"--update-manifest: --model must be the folder of a DCGAN or cDCGAN model or of a text-to-image pipeline (with its gan.json); {modelPath} is not one.");
            }

            if (Directory.Exists(modelPath) && IsTextPipeline(modelPath))
            {
                await EvaluateTextPipelineAsync(parse, modelPath, parse.GetValue(classifier)!, parse.GetValue(data)!, samples, truncation, parse.GetValue(json), parse.GetValue(resNet) ? parse.GetValue(resNetModels) ?? string.Empty : null, parse.GetValue(updateManifest) ? commandLine : null, logger, cancellationToken).ConfigureAwait(false);
                return 0;
            }

            if (Directory.Exists(modelPath))
            {
                modelPath = Path.Combine(modelPath, ModelPackageWriter.ModelFileName);
            }

            if (ImageToImageEvaluator.IsImageToImageModel(modelPath))
            {
                await EvaluateImageToImageAsync(parse, modelPath, parse.GetValue(reverse), parse.GetValue(classifier)!, parse.GetValue(data)!, samples, parse.GetValue(json), logger, cancellationToken).ConfigureAwait(false);
                return 0;
            }

            var report = await new GeneratorEvaluator(parse.GetValue(classifier)!, parse.GetValue(data)!, parse.GetValue(resNet), parse.GetValue(resNetModels))
                .EvaluateAsync(modelPath, parse.GetValue(samples), parse.GetValue(truncation), cancellationToken, parse.GetValue(evaluateFirstSeed)).ConfigureAwait(false);
            Print(report);
            if (parse.GetValue(json) is { } jsonPath)
            {
                await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(report, ReportJson), cancellationToken).ConfigureAwait(false);
            }

            if (parse.GetValue(updateManifest))
            {
                await ModelPackageWriter.UpdateManifestFiguresAsync(folder!, report, parse.GetValue(classifier)!, parse.GetValue(data)!, commandLine, cancellationToken).ConfigureAwait(false);
            }

            Log.Evaluated(logger, modelPath, string.Join(", ", report.ToMetrics().Select(m => FormattableString.Invariant($"{m.Key}={m.Value}"))));
            return 0;
        });
        return command;
    }

    private static void Print(EvaluationReport report)
    {
        var table = new Table().AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
        foreach (var (name, value) in report.ToMetrics())
        {
            table.AddRow(name, value.ToString("G6", CultureInfo.InvariantCulture));
        }

        table.AddRow("classFractions", string.Join(" ", report.ClassFractions.Select(f => f.ToString("F3", CultureInfo.InvariantCulture))));
        table.AddRow("neighbourClassFractions", string.Join(" ", report.NeighbourClassFractions.Select(f => f.ToString("F3", CultureInfo.InvariantCulture))));
        AnsiConsole.Write(table);
    }
}
