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

    /// <summary>
    /// Total images with labels seed mod classes, or 0 when <see cref="PerClass"/> is used; images per caption for a
    /// text-conditional dataset; 0 for an image-to-image one (one image per source file).
    /// </summary>
    public int Count { get; init; }

    public ulong Seed { get; init; }

    public float? Truncation { get; init; }

    public required string Format { get; init; }

    /// <summary>Class names in label order; empty for unconditional models.</summary>
    public required IReadOnlyList<string> Classes { get; init; }

    /// <summary>Text-conditional datasets: the captions, in order; <see cref="Count"/> images each.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Captions { get; init; }

    /// <summary>Image-to-image datasets: the source files, relative to the source folder, in ordinal order.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Sources { get; init; }

    /// <summary>Image-to-image datasets: sha256 over every source file's relative path and bytes, so changed inputs are noticed.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? SourcesHash { get; init; }

    /// <summary>webdataset / parquet: the --shard-size (MB) the files were sized for.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public double? ShardSizeMb { get; init; }

    /// <summary>webdataset / parquet: consecutive plan items per file (from --shard-size and the model's image size); 0 for files in folders.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public int ImagesPerFile { get; init; }

    [JsonIgnore]
    public DatasetKind Kind => Captions is not null ? DatasetKind.Text : Sources is not null ? DatasetKind.Image : DatasetKind.Seed;

    [JsonIgnore]
    public int Total => Kind switch
    {
        DatasetKind.Text => Count * Captions!.Count,
        DatasetKind.Image => Sources!.Count,
        _ => PerClass > 0 ? PerClass * Classes.Count : Count,
    };

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

        if (ShardSizeMb != requested.ShardSizeMb)
        {
            return FormattableString.Invariant(
                $"--shard-size {requested.ShardSizeMb} differs from the --shard-size {ShardSizeMb} this dataset in '{folder}' was started with: run with --shard-size {ShardSizeMb} to resume it, or give another --out.");
        }

        if (Kind != requested.Kind)
        {
            return $"'{folder}' holds a {Kind.ToString().ToLowerInvariant()}-driven dataset; this command asks for a {requested.Kind.ToString().ToLowerInvariant()}-driven one: give another --out.";
        }

        if (Kind == DatasetKind.Text && !Captions!.SequenceEqual(requested.Captions!))
        {
            return $"the captions (--texts / --texts-file) differ from the {Captions!.Count} this dataset in '{folder}' was started with: give the same captions to resume it, or another --out.";
        }

        if (Kind == DatasetKind.Image && (SourcesHash != requested.SourcesHash || !Sources!.SequenceEqual(requested.Sources!)))
        {
            return $"the files under --in differ from the {Sources!.Count} this dataset in '{folder}' was started with ({SourcesHash}, now {requested.SourcesHash}): restore them to resume it, or give another --out.";
        }

        if (!Classes.SequenceEqual(requested.Classes))
        {
            return $"the classes of '{requested.Model}' differ from those this dataset in '{folder}' was started with.";
        }

        return null;
    }
}

/// <summary>What drives a dataset's images: seeds (and labels), captions, or source images.</summary>
internal enum DatasetKind
{
    Seed,
    Text,
    Image,
}

/// <summary>
/// One row of the manifest: which file holds which seed and label (or caption, or source image) from which weights.
/// </summary>
internal sealed record DatasetEntry(
    [property: JsonPropertyName("file")] string File,
    [property: JsonPropertyName("index")] int Index,
    [property: JsonPropertyName("seed")] ulong? Seed,
    [property: JsonPropertyName("label")] int? Label,
    [property: JsonPropertyName("class")] string? Class,
    [property: JsonPropertyName("model")] string Model,
    [property: JsonPropertyName("content_hash")] string ContentHash)
{
    /// <summary>Text-conditional datasets: the caption the image was generated from.</summary>
    [JsonPropertyName("caption")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Caption { get; init; }

    /// <summary>Image-to-image datasets: the source file, relative to --in.</summary>
    [JsonPropertyName("source")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Source { get; init; }

    /// <summary>webdataset / parquet: the sample's key in its file (<c>{key}.png</c>, <c>{key}.json</c>; the parquet <c>key</c> column).</summary>
    [JsonPropertyName("key")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Key { get; init; }

    public static DatasetEntry For(DatasetItem item, DatasetSpec spec) =>
        new(item.File, item.Index, item.Seed, item.Label, item.ClassName, spec.Model, spec.ContentHash) { Caption = item.Caption, Source = item.Source, Key = item.Key };
}

[JsonSourceGenerationOptions(WriteIndented = false, DefaultIgnoreCondition = JsonIgnoreCondition.Never, PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower)]
[JsonSerializable(typeof(DatasetEntry))]
[JsonSerializable(typeof(DatasetSpec))]
internal sealed partial class DatasetJsonContext : JsonSerializerContext;
