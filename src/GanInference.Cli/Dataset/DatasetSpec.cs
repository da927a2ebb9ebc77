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

    /// <summary>The first difference from <paramref name="requested"/>, as a message naming the option; null when equal.</summary>
    public string? DescribeMismatch(DatasetSpec requested, string folder)
    {
        if (Model != requested.Model || ContentHash != requested.ContentHash)
        {
            return $"'{folder}' holds images of model '{Model}' ({ContentHash}); the server's '{requested.Model}' is {requested.ContentHash}: refusing to mix models in one dataset (use another --out).";
        }

        if (PerClass != requested.PerClass)
        {
            return $"--per-class {requested.PerClass} differs from the {PerClass} this dataset in '{folder}' was started with.";
        }

        if (Count != requested.Count)
        {
            return $"--count {requested.Count} differs from the {Count} this dataset in '{folder}' was started with.";
        }

        if (Seed != requested.Seed)
        {
            return $"--seed {requested.Seed} differs from the {Seed} this dataset in '{folder}' was started with.";
        }

        if (Truncation != requested.Truncation)
        {
            return $"--truncation {requested.Truncation?.ToString() ?? "(model default)"} differs from the {Truncation?.ToString() ?? "model default"} this dataset in '{folder}' was started with.";
        }

        if (Format != requested.Format)
        {
            return $"--format {requested.Format} differs from the {Format} this dataset in '{folder}' was started with.";
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
