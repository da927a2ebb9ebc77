using System.CommandLine;
using GanInference.Api.V1;
using GanInference.Cli.Imaging;
using Spectre.Console;

namespace GanInference.Cli.Commands;

/// <summary>
/// `gan generate`: images from seeds (and labels), or from captions (`--texts`) with a text-conditional model or
/// pipeline, to a folder or one contact-sheet PNG.
/// </summary>
internal static class GenerateCommand
{
    public static Command Create(CliHost host, ServerConnection connection)
    {
        var model = new Option<string>("--model", "-m") { Description = "Model name (see `gan models`)", Required = true };
        var selection = new SeedSelection();
        var texts = new TextSelection();
        var format = CliOptions.Format("Image file format", ImageFormat.Png, "png", "jpeg");
        var output = new Option<string>("--out", "-o") { Description = "Folder for one file per image", DefaultValueFactory = _ => "." };
        var grid = new Option<string?>("--grid") { Description = "Write one contact sheet to this .png (or .jpg) file instead of separate files" };
        var columns = new Option<int>("--columns") { Description = "Contact sheet: images per row (default: near-square)" };
        var scale = CliOptions.Positive("--scale", "Contact sheet: integer upscaling (nearest neighbour)", 1);

        var command = new Command("generate", "Generate images from seeds and labels, or from captions with a text-conditional model.");
        command.Options.Add(model);
        selection.AddTo(command);
        texts.AddTo(command);
        command.Options.Add(format);
        command.Options.Add(output);
        command.Options.Add(grid);
        command.Options.Add(columns);
        command.Options.Add(scale);

        CommandRunner.SetAction(command, host, connection, async (parse, cancellationToken) =>
        {
            var gridPath = parse.GetValue(grid);
            using var sink = CreateSink(parse, grid, output, parse.GetValue(model)!, parse.GetValue(format), parse.GetValue(columns), parse.GetValue(scale), out var created);
            try
            {
                using var client = connection.CreateClient(parse);
                var info = await ModelLookup.GetAsync(client, parse.GetValue(model)!, cancellationToken).ConfigureAwait(false);
                IReadOnlyList<string>? captions = null;
                IAsyncEnumerable<GeneratedImage> images;
                if (texts.IsGiven(parse) || info.Kind == ModelKind.TextConditional)
                {
                    if (!texts.IsGiven(parse))
                    {
                        throw new CliException($"model '{info.Name}' is text-conditional: give captions with --texts \"...\" or --texts-file FILE (`gan models {info.Name}` lists the words it knows).");
                    }

                    captions = await texts.ReadAsync(parse, cancellationToken).ConfigureAwait(false);
                    var request = texts.CreateRequest(parse, selection, info, captions, sink.RequestFormat);
                    CheckGrid(gridPath, (request.Seeds.Count > 0 ? request.Seeds.Count : (long)Math.Max(request.Count, 1) * captions.Count), info, parse.GetValue(scale));
                    images = client.GenerateFromTextStreamAsync(request, cancellationToken: cancellationToken);
                }
                else
                {
                    ModelLookup.RequireSeedDriven(info, "generate");
                    var request = selection.CreateRequest(parse, info, sink.RequestFormat);
                    CheckGrid(gridPath, request.Seeds.Count > 0 ? request.Seeds.Count : request.Count, info, parse.GetValue(scale));
                    images = client.GenerateStreamAsync(request, cancellationToken: cancellationToken);
                }

                var seedsByText = captions?.Select(_ => new List<ulong>()).ToArray();
                await foreach (var image in images.ConfigureAwait(false))
                {
                    await sink.AddAsync(image).ConfigureAwait(false);
                    if (seedsByText is not null && image.HasTextIndex && image.TextIndex < seedsByText.Length)
                    {
                        seedsByText[image.TextIndex].Add(image.Seed);
                    }
                }

                var written = await sink.CompleteAsync().ConfigureAwait(false);
                for (var i = 0; seedsByText is not null && i < seedsByText.Length; i++)
                {
                    host.Console.WriteLine($"text {i} ({Plural(seedsByText[i].Count, "image")}, seeds {string.Join(",", seedsByText[i])}): {captions![i]}");
                }

                host.Console.WriteLine(written.Count == 1
                    ? $"wrote {written[0]}"
                    : $"wrote {written.Count} images to {Path.GetDirectoryName(written[0])}");
                return ExitCodes.Success;
            }
            finally
            {
                OutputFiles.RemoveIfNoFiles(created);
            }
        });
        return command;
    }

    private static void CheckGrid(string? grid, long images, ModelInfo model, int scale)
    {
        if (grid is not null)
        {
            ContactSheet.CheckSize(images, (int)model.Width, (int)model.Height, scale);
        }
    }

    private static string Plural(int count, string noun) => count == 1 ? $"1 {noun}" : $"{count} {noun}s";

    /// <summary>Checks the destination before the server does any work, so a bad path costs nothing.</summary>
    private static IImageSink CreateSink(
        ParseResult parse, Option<string?> gridOption, Option<string> outputOption, string model, ImageFormat format, int columns, int scale, out string? created)
    {
        if (parse.GetValue(gridOption) is not { } grid)
        {
            return new FolderImageSink(OutputFiles.PrepareFolder(parse.GetValue(outputOption)!, "--out", out created), model, format);
        }

        if (parse.GetResult(outputOption) is { Implicit: false })
        {
            throw new CliException("--grid and --out are exclusive: the contact sheet is one file.");
        }

        if (columns < 0)
        {
            throw new CliException($"--columns must not be negative, not {columns}.");
        }

        var full = Path.GetFullPath(grid);
        var sheetFormat = ContactSheet.FormatOf(full);
        OutputFiles.PrepareFolder(Path.GetDirectoryName(full)!, "--grid", out created);
        return new ContactSheetSink(full, columns, scale, sheetFormat);
    }
}
