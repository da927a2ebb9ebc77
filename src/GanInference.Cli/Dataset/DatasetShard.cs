using System.Globalization;
using System.Text.RegularExpressions;

namespace GanInference.Cli.Dataset;

/// <summary>
/// Which part of a dataset's plan one process writes: shard <c>i</c> of <c>n</c> holds the plan indices
/// <c>[floor(total·i/n), floor(total·(i+1)/n))</c>, a contiguous block, so the shards are disjoint, cover the plan,
/// and differ in size by at most one image. Shard 0 of 1 is the whole dataset.
/// </summary>
/// <remarks>
/// A shard keeps its own manifest, <c>manifest-IIIII-of-NNNNN.jsonl</c>, in the dataset folder (beside the class
/// folders, so ImageFolder readers ignore it): shards on a shared volume never write the same file.
/// <c>gan dataset merge</c> turns the shard manifests into the dataset's <c>manifest.jsonl</c> and
/// <c>manifest.csv</c> and removes them.
/// </remarks>
internal readonly partial record struct DatasetShard(int Index, int Count)
{
    /// <summary>The most shards: the manifest names have five digits.</summary>
    public const int MaxCount = 99_999;

    public static DatasetShard Whole => new(0, 1);

    public bool IsWhole => Count == 1;

    public int Start(int total) => (int)((long)total * Index / Count);

    public int End(int total) => (int)((long)total * (Index + 1) / Count);

    public string ManifestName => string.Create(CultureInfo.InvariantCulture, $"manifest-{Index:D5}-of-{Count:D5}.jsonl");

    /// <summary>The shard manifests in <paramref name="root"/>, whatever their shard count.</summary>
    public static IEnumerable<string> ManifestsIn(string root) =>
        Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "manifest-*-of-*.jsonl").Where(f => ManifestPattern().IsMatch(Path.GetFileName(f))).Order(StringComparer.Ordinal)
            : [];

    /// <summary>The shard a manifest file name belongs to, or null when the name is not a shard manifest's.</summary>
    public static DatasetShard? FromManifestName(string name) =>
        ManifestPattern().Match(name) is { Success: true } match
            ? new DatasetShard(int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture), int.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture))
            : null;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"shard {Index} of {Count}");

    [GeneratedRegex("^manifest-([0-9]{5})-of-([0-9]{5})\\.jsonl$")]
    private static partial Regex ManifestPattern();
}
