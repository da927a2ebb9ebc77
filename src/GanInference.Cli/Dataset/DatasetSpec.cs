using System.Text.Json.Serialization;

namespace GanInference.Cli.Dataset;

/// <summary>
/// What a dataset folder was started with (<c>dataset.json</c>): a resumed run must ask for exactly the
/// same images from exactly the same weights, or it would mix two datasets under one manifest.
/// </summary>
internal sealed record DatasetSpec
{
    public const string FileName = "dataset.json";

    public required string Model { get; init; }

    public required string ContentHash { get; init; }

    /// <summary>Images per class (class-conditional models), or 0 when <see cref="Count"/> is used.</summary>
    public int PerClass { get; init; }

    /// <summary>Total images with labels seed mod classes, or 0 when <see cref="PerClass"/> is used.</summary>
    public int Count { get; init; }

    public ulong Seed { get; init; }

    public float? Truncation { get; init; }

    public required string Format { get; init; }

    /// <summary>Class names in label order; empty for unconditional models.</summary>
    public required IReadOnlyList<string> Classes { get; init; }

    [JsonIgnore]
    public int Total => PerClass > 0 ? PerClass * Classes.Count : Count;

    /// <summary>How many images, as the option that asked for them: "--per-class 5" or "--count 50".</summary>
    private static string Size(DatasetSpec spec) => spec.PerClass > 0 ? $"--per-class {spec.PerClass}" : $"--count {spec.Count}";

    /// <summary>The first difference from <paramref name="requested"/>, as a message naming the option; null when equal.</summary>
    public string? DescribeMismatch(DatasetSpec requested, string folder)
    {
        if (Model != requested.Model || ContentHash != requested.ContentHash)
        {
            return $"'{folder}' holds images of model '{Model}' ({ContentHash}); the server's '{requested.Model}' is {requested.ContentHash}: refusing to mix models in one dataset (use another --out).";
        }

        if (PerClass != requested.PerClass || Count != requested.Count)
        {
            return $"{Size(requested)} differs from the {Size(this)} this dataset in '{folder}' was started with: run with {Size(this)} to resume it, or give another --out for a new dataset.";
        }

        if (Seed != requested.Seed)
        {
            return $"--seed {requested.Seed} differs from the --seed {Seed} this dataset in '{folder}' was started with: run with --seed {Seed} to resume it, or give another --out.";
        }

        if (Truncation != requested.Truncation)
        {
            var started = Truncation is { } t ? FormattableString.Invariant($"--truncation {t}") : "no --truncation (the model's default)";
            var asked = requested.Truncation is { } r ? FormattableString.Invariant($"--truncation {r}") : "no --truncation (the model's default)";
            return $"{asked} differs from the {started} this dataset in '{folder}' was started with: run with {(Truncation is null ? "no --truncation" : started)} to resume it, or give another --out.";
        }

        if (Format != requested.Format)
        {
            return $"--format {requested.Format} differs from the --format {Format} this dataset in '{folder}' was started with: run with --format {Format} to resume it, or give another --out.";
        }

        if (!Classes.SequenceEqual(requested.Classes))
        {
            return $"the classes of '{requested.Model}' differ from those this dataset in '{folder}' was started with.";
        }

        return null;
    }
}

/// <summary>One row of the manifest: which file holds which seed and label from which weights.</summary>
internal sealed record DatasetEntry(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("seed")] ulong Seed,
    [property: JsonPropertyName("label")] int? Label,
    [property: JsonPropertyName("class")] string? Class,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("content_hash")] string ContentHash);

[JsonSourceGenerationOptions(WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(DatasetEntry))]
[JsonSerializable(typeof(DatasetSpec))]
internal sealed partial class DatasetJsonContext : JsonSerializerContext;
