using Spectre.Console;

namespace GanInference.Cli.Dataset;

/// <summary>
/// `gan dataset merge`: checks that the shards written into one folder make the whole dataset (every planned
/// image present once, listed by a manifest line of this model and weights, no image still being written, no
/// file the plan does not name), then writes <c>manifest.jsonl</c> and <c>manifest.csv</c> in index order and removes
/// the shard manifests, leaving the folder exactly as one unsharded run leaves it. It needs no server: the plan
/// is a function of <c>dataset.json</c>.
/// </summary>
internal static class DatasetMerge
{
    /// <summary>Missing or stray files named in a message before "and N more".</summary>
    private const int Shown = 5;

    public static int Run(IAnsiConsole console, string root)
    {
        var specPath = Path.Combine(root, DatasetSpec.FileName);
        if (!File.Exists(specPath))
        {
            throw new CliException($"--out: '{root}' holds no {DatasetSpec.FileName}, so it is not a `gan dataset` folder; give the folder the shards wrote (their --out).");
        }

        var spec = DatasetFolder.ReadSpec(specPath);
        var plan = new DatasetPlan(spec, Imaging.OutputFiles.Extension(DatasetPacks.ImageFormatOf(spec.Format)));
        var shardManifests = DatasetShard.ManifestsIn(root).ToList();
        var manifests = new List<string> { Path.Combine(root, DatasetFolder.JsonlName) };
        manifests.AddRange(shardManifests);

        var pending = plan.Folders.Append(".").SelectMany(f => Directory.Exists(Path.Combine(root, f)) ? Directory.EnumerateFiles(Path.Combine(root, f), "*" + Imaging.OutputFiles.TemporarySuffix) : [])
            .Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).ToList();
        if (pending.Count > 0)
        {
            throw new CliException(
                $"'{root}': {pending.Count} image(s) are still being written or were cut short ({List(pending)}): wait for every shard to finish, or rerun the interrupted shard, then merge.",
                ExitCodes.Failure);
        }

        var entries = DatasetFolder.ReadCompleteEntries(root, spec, plan, manifests, 0, plan.Total, out var conflicts);
        if (conflicts.Count > 0)
        {
            throw new CliException($"'{root}': the manifests disagree: {List(conflicts)}.", ExitCodes.Failure);
        }

        if (entries.Count < plan.Total)
        {
            var present = new System.Collections.BitArray(plan.Total);
            entries.ForEach(e => present[e.Index] = true);
            var missing = Enumerable.Range(0, plan.Total).Where(i => !present[i]).ToList();
            throw new CliException(
                $"'{root}' is incomplete: {missing.Count} of {plan.Total} images are missing ({List(missing.Select(i => plan[i].File).Distinct().ToList())}){Owners(missing, plan, shardManifests)}; "
                + "rerun those shards (the same command resumes), then merge again.",
                ExitCodes.Failure);
        }

        var planned = new HashSet<string>(Enumerable.Range(0, plan.Total).Select(i => plan[i].File), StringComparer.Ordinal);
        var stray = plan.Folders.SelectMany(f => Directory.EnumerateFiles(Path.Combine(root, f), "*", SearchOption.AllDirectories))
            .Concat(plan.IsPacked ? Directory.EnumerateFiles(root, DatasetPacks.FilePrefix + "*") : [])
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => !planned.Contains(f)).Order(StringComparer.Ordinal).ToList();
        if (stray.Count > 0)
        {
            throw new CliException($"'{root}': {stray.Count} file(s) are not part of this dataset's plan ({List(stray)}); move them out, then merge again.", ExitCodes.Failure);
        }

        DatasetFolder.RewriteManifests(root, spec, entries);
        foreach (var manifest in shardManifests)
        {
            File.Delete(manifest);
        }

        console.WriteLine(
            $"merged {(shardManifests.Count == 1 ? "1 shard manifest" : $"{shardManifests.Count} shard manifests")}: {entries.Count} of {plan.Total} images in '{root}', each once; manifests {DatasetFolder.CsvName} and {DatasetFolder.JsonlName}");
        return ExitCodes.Success;
    }

    private static string List<T>(IReadOnlyList<T> items) =>
        string.Join(", ", items.Take(Shown)) + (items.Count > Shown ? $" and {items.Count - Shown} more" : string.Empty);

    /// <summary>Which shards the missing images belong to, when the shard manifests present agree on one --shard-count.</summary>
    private static string Owners(List<int> missing, DatasetPlan plan, List<string> shardManifests)
    {
        var counts = shardManifests.Select(m => DatasetShard.FromManifestName(Path.GetFileName(m))?.Count).OfType<int>().Distinct().ToList();
        if (counts.Count != 1)
        {
            return string.Empty;
        }

        var owners = new List<int>();
        for (var index = 0; index < counts[0]; index++)
        {
            var (start, end) = plan.Range(new DatasetShard(index, counts[0]));
            if (missing.Exists(i => i >= start && i < end))
            {
                owners.Add(index);
            }
        }

        return $", in --shard-index {List(owners)} of --shard-count {counts[0]}";
    }
}
