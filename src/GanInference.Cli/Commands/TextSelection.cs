using System.CommandLine;
using GanInference.Api.V1;

namespace GanInference.Cli.Commands;

/// <summary>
/// `--texts` and `--texts-file`: the captions a text-conditional model or pipeline draws from, and how they and
/// the seed options (<see cref="SeedSelection"/>: count per text, seeds, truncation) become a
/// <see cref="GenerateFromTextRequest"/>.
/// </summary>
internal sealed class TextSelection
{
    public Option<string[]> Texts { get; } = new("--texts", "--text")
    {
        Description = "Text-conditional models: a caption (repeat the option for more); --count images per caption",
    };

    public Option<string?> TextsFile { get; } = new("--texts-file")
    {
        Description = "Text-conditional models: a UTF-8 file with one caption per line (blank lines are skipped)",
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Texts);
        command.Options.Add(TextsFile);
    }

    /// <summary>True when the command line gives captions.</summary>
    public bool IsGiven(ParseResult parse) => (parse.GetValue(Texts) ?? []).Length > 0 || parse.GetValue(TextsFile) is not null;

    /// <summary>The captions, in order: every --texts, then the file's lines.</summary>
    public async Task<IReadOnlyList<string>> ReadAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var texts = new List<string>(parse.GetValue(Texts) ?? []);
        if (parse.GetValue(TextsFile) is { } file)
        {
            string[] lines;
            try
            {
                lines = await File.ReadAllLinesAsync(file, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"--texts-file: cannot read '{file}': {ex.Message}");
            }

            texts.AddRange(lines.Where(line => !string.IsNullOrWhiteSpace(line)).Select(line => line.Trim()));
        }

        if (texts.Count == 0)
        {
            throw new CliException("--texts / --texts-file: no captions given.");
        }

        return texts;
    }

    public GenerateFromTextRequest CreateRequest(ParseResult parse, SeedSelection selection, ModelInfo model, IReadOnlyList<string> texts, ImageFormat format)
    {
        if (model.Kind != ModelKind.TextConditional)
        {
            throw new CliException($"--texts: model '{model.Name}' is {ModelLookup.KindName(model.Kind)} and takes no captions.");
        }

        if ((parse.GetValue(selection.Labels) ?? []).Length > 0)
        {
            throw new CliException($"--labels: model '{model.Name}' is text-conditional and takes no labels.");
        }

        var request = new GenerateFromTextRequest { Model = model.Name, Format = format };
        request.Texts.AddRange(texts);
        var seeds = selection.Resolve(parse, texts.Count, "captions");
        request.Count = seeds.Count;
        request.Seeds.AddRange(seeds.Seeds);
        if (seeds.Seed is { } first)
        {
            request.Seed = first;
        }

        if (seeds.Truncation is { } truncation)
        {
            request.Truncation = truncation;
        }

        return request;
    }
}
