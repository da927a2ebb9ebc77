using System.CommandLine;
using GanInference.Api.V1;

namespace GanInference.Cli.Commands;

/// <summary>
/// The options that say which images to draw from a seed-driven model (count, seeds, labels,
/// truncation) and how they become a <see cref="GenerateRequest"/>. Text prompts (<see cref="TextSelection"/>)
/// reuse the seed options for their own RPC, into the same image sinks.
/// </summary>
internal sealed class SeedSelection
{
    public Option<int> Count { get; } = new("--count", "-n") { Description = "Number of images (default: one per seed, else 1)" };

    public Option<ulong?> Seed { get; } = new("--seed") { Description = "First seed; image i uses seed+i (default: the server picks one and reports it)" };

    public Option<ulong[]> Seeds { get; } = new("--seeds")
    {
        Description = "Explicit seeds, e.g. 7,100..115 (overrides --seed)",
        CustomParser = result =>
        {
            var text = string.Join(',', result.Tokens.Select(t => t.Value));
            if (ValueParsers.TryParseSeeds(text, out var seeds))
            {
                return seeds;
            }

            result.AddError($"--seeds: '{text}' is not a list of seeds and ranges such as 7,100..115.");
            return [];
        },
    };

    public Option<string[]> Labels { get; } = new("--labels", "--label")
    {
        Description = "Class-conditional models: one class for all images or one per image (index or class name, comma-separated)",
        AllowMultipleArgumentsPerToken = true,
    };

    public Option<float?> Truncation { get; } = new("--truncation") { Description = "Truncate latents to [-t, t] (default: the model's)" };

    public void AddTo(Command command)
    {
        command.Options.Add(Count);
        command.Options.Add(Seed);
        command.Options.Add(Seeds);
        command.Options.Add(Labels);
        command.Options.Add(Truncation);
    }

    public GenerateRequest CreateRequest(ParseResult parse, ModelInfo model, ImageFormat format)
    {
        var request = new GenerateRequest { Model = model.Name, Format = format };
        var seeds = Resolve(parse, groups: 1, "images");
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

        var labels = (parse.GetValue(Labels) ?? []).SelectMany(l => l.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)).ToArray();
        if (labels.Length > 0)
        {
            if (model.Kind != ModelKind.ClassConditional)
            {
                throw new CliException($"--labels: model '{model.Name}' is {ModelLookup.KindName(model.Kind)} and takes no labels.");
            }

            var resolved = labels.Select(l => ResolveLabel(l, model)).ToArray();
            var imageCount = (int)request.Count;
            if (labels.Length != 1 && labels.Length != imageCount)
            {
                throw new CliException(
                    $"--labels: give one label for all images or one per image ({imageCount} with this --count/--seeds), not {labels.Length}; "
                    + "without --labels, image i gets class seed mod classes, so --seed 0 --count 20 cycles through the classes twice.");
            }

            request.Labels.AddRange(resolved);
        }

        return request;
    }

    /// <summary>
    /// The checked seed options, shared by every RPC that draws from seeds: images per group (the request's
    /// <c>count</c>; <paramref name="groups"/> is 1 for Generate, the number of captions for GenerateFromText), the
    /// explicit seeds (one per image) or the first seed, and the truncation.
    /// </summary>
    internal ResolvedSeeds Resolve(ParseResult parse, int groups, string groupName)
    {
        var count = parse.GetValue(Count);
        if (count < 0 || (count == 0 && parse.GetResult(Count) is { Implicit: false }))
        {
            throw new CliException($"--count must be at least 1, not {count} (leave it out for one image per seed, else 1).");
        }

        var truncation = parse.GetValue(Truncation);
        if (truncation is { } t && (!(t >= 0) || float.IsInfinity(t)))
        {
            throw new CliException($"--truncation must be 0 or a positive number, not {t}.");
        }

        var seeds = parse.GetValue(Seeds) ?? [];
        if (seeds.Length == 0)
        {
            return new ResolvedSeeds((uint)Math.Max(count, 1), [], parse.GetValue(Seed), truncation);
        }

        var perGroup = count == 0 ? seeds.Length / groups : count;
        if (perGroup == 0 || (long)perGroup * groups != seeds.Length)
        {
            throw new CliException(groups == 1
                ? $"--count {count} disagrees with the {seeds.Length} seeds given by --seeds."
                : $"--seeds: give one seed per image: {groups} {groupName} × {(count == 0 ? "count" : count)}, not {seeds.Length}.");
        }

        return new ResolvedSeeds((uint)perGroup, seeds, null, truncation);
    }

    /// <summary>A class name, else a class index in range.</summary>
    internal static int ResolveLabel(string text, ModelInfo model)
    {
        var byName = model.Classes.IndexOf(text);
        if (byName >= 0)
        {
            return byName;
        }

        if (int.TryParse(text, out var index) && index >= 0 && index < model.Classes.Count)
        {
            return index;
        }

        throw new CliException(
            $"--labels: '{text}' is neither a class of '{model.Name}' nor an index below {model.Classes.Count}; classes: {string.Join(", ", model.Classes)}.");
    }
}

/// <summary>What the seed options ask for, checked.</summary>
/// <param name="Count">Images per group (per caption; all images for Generate).</param>
/// <param name="Seeds">Explicit seeds, one per image; empty when <paramref name="Seed"/> numbers them.</param>
/// <param name="Seed">The first seed, or null to let the server pick (and report) one.</param>
/// <param name="Truncation">The truncation asked for, or null for the model's default.</param>
internal sealed record ResolvedSeeds(uint Count, ulong[] Seeds, ulong? Seed, float? Truncation);
