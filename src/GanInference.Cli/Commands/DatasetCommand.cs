using System.CommandLine;
using GanInference.Api.V1;
using GanInference.Cli.Dataset;
using GanInference.Cli.Imaging;

namespace GanInference.Cli.Commands;

/// <summary>
/// `gan dataset`: augmentation data in class folders with a manifest, streamed, resumable, refusing to mix
/// models.
/// </summary>
internal static class DatasetCommand
{
    /// <summary>Images in one dataset folder: the plan indexes them with an int, the manifest lists them all.</summary>
    private const int MaxImages = 100_000_000;

    public static Command Create(CliHost host, ServerConnection connection)
    {
        var model = new Option<string>("--model", "-m") { Description = "Model name (see `gan models`)", Required = true };
        var output = new Option<string>("--out", "-o") { Description = "Dataset folder (created; an existing dataset is resumed)", Required = true };
        var count = new Option<int>("--count", "-n") { Description = "Total images; class-conditional labels are seed mod classes" };
        var perClass = new Option<int>("--per-class") { Description = "Images per class (class-conditional models)" };
        var seed = new Option<ulong>("--seed") { Description = "Seed of the first image; image i uses seed+i", DefaultValueFactory = _ => 0 };
        var truncation = new Option<float?>("--truncation") { Description = "Truncate latents to [-t, t] (default: the model's)" };
        var format = CliOptions.Format("Image file format", ImageFormat.Png, "png", "jpeg");

        var command = new Command("dataset", "Generate an augmentation dataset (ImageFolder layout + CSV/JSONL manifest); rerun to resume.");
        foreach (var option in new Option[] { model, output, count, perClass, seed, truncation, format })
        {
            command.Options.Add(option);
        }

        CommandRunner.SetAction(command, host, connection, async (parse, cancellationToken) =>
        {
            var (countValue, perClassValue) = (parse.GetValue(count), parse.GetValue(perClass));
            if ((countValue > 0) == (perClassValue > 0) || countValue < 0 || perClassValue < 0)
            {
                throw new CliException("give exactly one of --count N or --per-class N (N ≥ 1).");
            }

            if (countValue > MaxImages)
            {
                throw new CliException($"--count {countValue} is more than {MaxImages:N0} images; split the dataset.");
            }

            if (parse.GetValue(truncation) is { } t && (!(t >= 0) || float.IsInfinity(t)))
            {
                throw new CliException($"--truncation must be 0 or a positive number, not {t}.");
            }

            var root = OutputFiles.PrepareFolder(parse.GetValue(output)!, "--out", out var created);
            try
            {
                using var client = connection.CreateClient(parse);
                var info = await ModelLookup.GetAsync(client, parse.GetValue(model)!, cancellationToken).ConfigureAwait(false);
                ModelLookup.RequireSeedDriven(info, "dataset");
                if (perClassValue > 0 && info.Kind != ModelKind.ClassConditional)
                {
                    throw new CliException($"--per-class: model '{info.Name}' is {ModelLookup.KindName(info.Kind)}; use --count.");
                }

                if ((long)perClassValue * info.Classes.Count > MaxImages)
                {
                    throw new CliException($"--per-class {perClassValue} x {info.Classes.Count} classes is more than {MaxImages:N0} images; split the dataset.");
                }

                var spec = new DatasetSpec
                {
                    Model = info.Name,
                    ContentHash = info.ContentHash,
                    PerClass = perClassValue,
                    Count = countValue,
                    Seed = parse.GetValue(seed),
                    Truncation = parse.GetValue(truncation),
                    Format = ValueParsers.FormatName(parse.GetValue(format)),
                    Classes = [.. info.Classes],
                };
                var generator = new DatasetGenerator(client, spec, parse.GetValue(format), root);
                return await generator.RunAsync(host.Console, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                OutputFiles.RemoveIfNoFiles(created);
            }
        });
        return command;
    }
}
