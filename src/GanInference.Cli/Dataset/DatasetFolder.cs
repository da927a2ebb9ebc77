using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;
using GanInference.Cli.Imaging;

namespace GanInference.Cli.Dataset;

/// <summary>
/// A dataset folder on disk: <c>dataset.json</c> (the spec), the class folders, and a manifest in two
/// forms (<c>manifest.jsonl</c>, <c>manifest.csv</c>) that only ever lists complete files. A shard
/// (<see cref="DatasetShard"/>) writes its part of the images and its own <c>manifest-IIIII-of-NNNNN.jsonl</c>
/// instead; <see cref="DatasetMerge"/> makes the two manifests from those.
/// </summary>
/// <remarks>
/// Crash consistency: an image is written under a temporary name and renamed, and only then is its line
/// appended and flushed to the manifest(s). Opening a folder again drops manifest lines whose file is
/// missing or that were cut short, removes this run's temporary files, and rewrites its manifest(s) from the
/// surviving lines, so an interrupted run resumes from exactly the images that are complete. A shard counts as
/// complete the images of its part listed in any manifest of the folder (the merged one, or another shard
/// count's), so rerunning it after a merge or with another --shard-count regenerates nothing that is there.
/// </remarks>
internal sealed class DatasetFolder : IDisposable
{
    public const string JsonlName = "manifest.jsonl";
    public const string CsvName = "manifest.csv";
    public const string CsvHeader = "file,index,seed,label,class,model,content_hash";

    private readonly StreamWriter _jsonl;
    private readonly StreamWriter? _csv;
    private readonly DatasetSpec _spec;

    private DatasetFolder(string root, DatasetSpec spec, BitArray complete, int completeCount, StreamWriter jsonl, StreamWriter? csv)
    {
        Root = root;
        _spec = spec;
        Complete = complete;
        CompleteCount = completeCount;
        _jsonl = jsonl;
        _csv = csv;
    }

    public string Root { get; }

    /// <summary>Which plan indices already have a file and a manifest line.</summary>
    public BitArray Complete { get; }

    /// <summary>Complete images of this run's part of the plan.</summary>
    public int CompleteCount { get; private set; }

    /// <summary>The CSV manifest's header for a dataset: captions, sources and packed files' keys get a column of their own.</summary>
    public static string CsvHeaderFor(DatasetSpec spec) => spec.Kind switch
    {
        DatasetKind.Text => CsvHeader + ",caption",
        DatasetKind.Image => CsvHeader + ",source",
        _ => CsvHeader,
    } + (spec.ImagesPerFile > 0 ? ",key" : string.Empty);

    /// <summary>
    /// Opens (resuming) or starts a dataset, or one shard of it, in <paramref name="root"/>; refuses, touching
    /// nothing, a folder that holds another model's dataset, other parameters, or unrelated files.
    /// </summary>
    public static DatasetFolder Open(string root, DatasetSpec spec, DatasetPlan plan, DatasetShard shard)
    {
        WriteOrCheckSpec(root, spec);
        var shardManifests = DatasetShard.ManifestsIn(root).ToList();
        if (shard.IsWhole && shardManifests.Count > 0)
        {
            throw new CliException(
                $"'{root}' holds the manifests of a sharded run ({Path.GetFileName(shardManifests[0])}, ...): run `gan dataset merge --out {root}` once every shard is complete, or rerun the missing shard with --shard-index/--shard-count.");
        }

        var (start, end) = plan.Range(shard);
        foreach (var folder in plan.Folders)
        {
            Directory.CreateDirectory(Path.Combine(root, folder));
        }

        RemoveLeftovers(root, plan, shard, start, end);

        var sources = new List<string> { Path.Combine(root, JsonlName) };
        if (!shard.IsWhole)
        {
            sources.AddRange(shardManifests);
        }

        var entries = ReadCompleteEntries(root, spec, plan, sources, start, end, out _);
        if (plan.IsPacked)
        {
            entries = DropIncompleteFiles(root, plan, entries, start, end);
        }

        var complete = new BitArray(plan.Total);
        foreach (var entry in entries)
        {
            complete[entry.Index] = true;
        }

        if (shard.IsWhole)
        {
            RewriteManifests(root, spec, entries);
            return new DatasetFolder(root, spec, complete, entries.Count, OpenAppend(Path.Combine(root, JsonlName)), OpenAppend(Path.Combine(root, CsvName)));
        }

        var own = Path.Combine(root, shard.ManifestName);
        ReplaceText(own, JsonlText(entries));
        return new DatasetFolder(root, spec, complete, entries.Count, OpenAppend(own), csv: null);
    }

    /// <summary>
    /// Writes <c>dataset.json</c>, or checks the one there. Shards started together race to write it: each writes
    /// the same text under a name of its own and renames it without replacing, so exactly one wins and the others
    /// check theirs against it.
    /// </summary>
    private static void WriteOrCheckSpec(string root, DatasetSpec spec)
    {
        var specPath = Path.Combine(root, DatasetSpec.FileName);
        if (!File.Exists(specPath))
        {
            // Only another shard's spec being written, or its write probe (OutputFiles.PrepareFolder), may be there
            // already. The folder is listed before the spec is looked for again: a shard creates nothing else until
            // its spec is in place, so anything listed that a shard made means the spec is there by now.
            var unrelated = Directory.EnumerateFileSystemEntries(root).Any(e => Path.GetFileName(e) is var name
                && !name.StartsWith(DatasetSpec.FileName, StringComparison.Ordinal) && !name.StartsWith(OutputFiles.WriteProbePrefix, StringComparison.Ordinal));
            if (unrelated && !File.Exists(specPath))
            {
                throw new CliException($"--out: '{root}' is not empty and holds no {DatasetSpec.FileName}; give an empty or new folder so nothing is overwritten.");
            }

            var temporary = $"{specPath}.{Environment.ProcessId}.{Guid.NewGuid():N}{OutputFiles.TemporarySuffix}";
            File.WriteAllText(temporary, JsonSerializer.Serialize(spec, DatasetJsonContext.Default.DatasetSpec), new UTF8Encoding(false));
            try
            {
                File.Move(temporary, specPath, overwrite: false);
            }
            catch (IOException) when (File.Exists(specPath))
            {
                File.Delete(temporary);
            }
        }

        if (ReadSpec(specPath).DescribeMismatch(spec, root) is { } mismatch)
        {
            throw new CliException(mismatch);
        }
    }

    /// <summary>Removes temporary files an interrupted run left: all of them for a whole run, only its own part's for a shard (the others may be running).</summary>
    private static void RemoveLeftovers(string root, DatasetPlan plan, DatasetShard shard, int start, int end)
    {
        if (plan.IsPacked)
        {
            for (var file = start == end ? 0 : start / PerFile(plan); start < end && file <= (end - 1) / PerFile(plan); file++)
            {
                File.Delete(Path.Combine(root, plan.FileName(file) + OutputFiles.TemporarySuffix));
            }

            if (shard.IsWhole)
            {
                foreach (var leftover in Directory.EnumerateFiles(root, DatasetPacks.FilePrefix + "*" + OutputFiles.TemporarySuffix))
                {
                    File.Delete(leftover);
                }
            }

            return;
        }

        HashSet<string>? mine = null;
        foreach (var folder in plan.Folders)
        {
            foreach (var leftover in Directory.EnumerateFiles(Path.Combine(root, folder), "*" + OutputFiles.TemporarySuffix))
            {
                if (!shard.IsWhole)
                {
                    mine ??= [.. Enumerable.Range(start, end - start).Select(i => Path.GetFullPath(Path.Combine(root, plan[i].File + OutputFiles.TemporarySuffix)))];
                    if (!mine.Contains(Path.GetFullPath(leftover)))
                    {
                        continue;
                    }
                }

                File.Delete(leftover);
            }
        }
    }

    private static int PerFile(DatasetPlan plan) => plan.FileItems(0).End - plan.FileItems(0).Start is var n && n > 0 ? n : 1;

    /// <summary>
    /// A packed file is complete only with a manifest line for each of its images: a file renamed into place by a
    /// run killed before its lines were written is removed and made again (the same bytes).
    /// </summary>
    private static List<DatasetEntry> DropIncompleteFiles(string root, DatasetPlan plan, List<DatasetEntry> entries, int start, int end)
    {
        var byFile = entries.GroupBy(e => e.File).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var incomplete = new HashSet<string>(StringComparer.Ordinal);
        for (var file = 0; file < plan.FileCount; file++)
        {
            var (first, last) = plan.FileItems(file);
            if (last <= start || first >= end)
            {
                continue;
            }

            var name = plan.FileName(file);
            if (File.Exists(Path.Combine(root, name)) && byFile.GetValueOrDefault(name) != last - first)
            {
                File.Delete(Path.Combine(root, name));
                incomplete.Add(name);
            }
        }

        return incomplete.Count == 0 ? entries : entries.Where(e => !incomplete.Contains(e.File)).ToList();
    }

    /// <summary>
    /// Renames a packed file written to <c>{name}.partial</c> into place, then records its images in the manifest(s).
    /// </summary>
    public async Task AddFileAsync(string name, IReadOnlyList<DatasetEntry> entries)
    {
        File.Move(Path.Combine(Root, name + OutputFiles.TemporarySuffix), Path.Combine(Root, name), overwrite: true);
        foreach (var entry in entries)
        {
            await _jsonl.WriteLineAsync(JsonSerializer.Serialize(entry, DatasetJsonContext.Default.DatasetEntry)).ConfigureAwait(false);
            await (_csv?.WriteLineAsync(ToCsv(entry, _spec)) ?? Task.CompletedTask).ConfigureAwait(false);
            Complete[entry.Index] = true;
        }

        await _jsonl.FlushAsync().ConfigureAwait(false);
        await (_csv?.FlushAsync() ?? Task.CompletedTask).ConfigureAwait(false);
        CompleteCount += entries.Count;
    }

    /// <summary>Writes the image, then records it in the manifest(s).</summary>
    public async Task AddAsync(DatasetEntry entry, ReadOnlyMemory<byte> data)
    {
        await OutputFiles.WriteAtomicallyAsync(Path.Combine(Root, entry.File), data).ConfigureAwait(false);
        await _jsonl.WriteLineAsync(JsonSerializer.Serialize(entry, DatasetJsonContext.Default.DatasetEntry)).ConfigureAwait(false);
        // Flushed to the OS per image: an interrupted process loses at most the image in flight.
        await _jsonl.FlushAsync().ConfigureAwait(false);
        if (_csv is not null)
        {
            await _csv.WriteLineAsync(ToCsv(entry, _spec)).ConfigureAwait(false);
            await _csv.FlushAsync().ConfigureAwait(false);
        }

        Complete[entry.Index] = true;
        CompleteCount++;
    }

    /// <summary>
    /// Closes the manifests of a whole, complete run and, when a resumed run appended images out of order, rewrites
    /// them in index order, so a resumed dataset equals an uninterrupted one byte for byte, manifests included.
    /// </summary>
    public void Finish(DatasetPlan plan, bool resumed)
    {
        Dispose();
        if (_csv is null || !resumed || CompleteCount != plan.Total)
        {
            return;
        }

        var entries = ReadCompleteEntries(Root, _spec, plan, [Path.Combine(Root, JsonlName)], 0, plan.Total, out _);
        if (entries.Count == plan.Total)
        {
            RewriteManifests(Root, _spec, entries);
        }
    }

    public void Dispose()
    {
        _jsonl.Dispose();
        _csv?.Dispose();
    }

    internal static DatasetSpec ReadSpec(string path)
    {
        try
        {
            return JsonSerializer.Deserialize(File.ReadAllText(path), DatasetJsonContext.Default.DatasetSpec)
                ?? throw new CliException($"{path}: empty dataset description.");
        }
        catch (JsonException e)
        {
            throw new CliException($"{path}: not a gan dataset description: {e.Message}");
        }
    }

    /// <summary>
    /// The entries of plan indices [<paramref name="start"/>, <paramref name="end"/>) listed in any of
    /// <paramref name="manifests"/> whose file exists, once each, in index order. A line cut short (only the last
    /// one of a file can be) is skipped; a line of another model or outside the plan is refused; two different
    /// lines for one index are reported in <paramref name="conflicts"/>.
    /// </summary>
    internal static List<DatasetEntry> ReadCompleteEntries(
        string root, DatasetSpec spec, DatasetPlan plan, IEnumerable<string> manifests, int start, int end, out List<string> conflicts)
    {
        conflicts = [];
        var byIndex = new Dictionary<int, DatasetEntry>();
        foreach (var path in manifests)
        {
            if (!File.Exists(path))
            {
                continue;
            }

            var lineNumber = 0;
            foreach (var line in ReadLinesShared(path))
            {
                lineNumber++;
                DatasetEntry? entry;
                try
                {
                    entry = JsonSerializer.Deserialize(line, DatasetJsonContext.Default.DatasetEntry);
                }
                catch (JsonException)
                {
                    // Only the last line can be cut short by an interruption; it is dropped and redone.
                    continue;
                }

                if (entry is null)
                {
                    continue;
                }

                if (entry.Model != spec.Model || entry.ContentHash != spec.ContentHash)
                {
                    throw new CliException($"{path}:{lineNumber}: an image of model '{entry.Model}' ({entry.ContentHash}) in a dataset of '{spec.Model}' ({spec.ContentHash}); refusing to mix models.");
                }

                if (entry.Index < 0 || entry.Index >= plan.Total || DatasetEntry.For(plan[entry.Index], spec) != entry)
                {
                    throw new CliException($"{path}:{lineNumber}: '{entry.File}' does not belong to this dataset's plan (index {entry.Index}, seed {entry.Seed}).");
                }

                if (entry.Index < start || entry.Index >= end || !File.Exists(Path.Combine(root, entry.File)))
                {
                    continue;
                }

                if (!byIndex.TryAdd(entry.Index, entry) && byIndex[entry.Index] != entry)
                {
                    conflicts.Add($"{path}:{lineNumber}: index {entry.Index} listed twice, differently");
                }
            }
        }

        var result = byIndex.Values.ToList();
        result.Sort((a, b) => a.Index.CompareTo(b.Index));
        return result;
    }

    /// <summary>Lines of a file another process may still be appending to.</summary>
    private static IEnumerable<string> ReadLinesShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream, new UTF8Encoding(false));
        while (reader.ReadLine() is { } line)
        {
            yield return line;
        }
    }

    internal static string JsonlText(IEnumerable<DatasetEntry> entries)
    {
        var jsonl = new StringBuilder();
        foreach (var entry in entries)
        {
            jsonl.Append(JsonSerializer.Serialize(entry, DatasetJsonContext.Default.DatasetEntry)).Append('\n');
        }

        return jsonl.ToString();
    }

    /// <summary>Replaces both manifests (JSONL last: it is the one a resumed run reads) with <paramref name="entries"/>.</summary>
    internal static void RewriteManifests(string root, DatasetSpec spec, List<DatasetEntry> entries)
    {
        var csv = new StringBuilder().Append(CsvHeaderFor(spec)).Append('\n');
        foreach (var entry in entries)
        {
            csv.Append(ToCsv(entry, spec)).Append('\n');
        }

        ReplaceText(Path.Combine(root, CsvName), csv.ToString());
        ReplaceText(Path.Combine(root, JsonlName), JsonlText(entries));
    }

    internal static void ReplaceText(string path, string text)
    {
        var temporary = path + OutputFiles.TemporarySuffix;
        File.WriteAllText(temporary, text, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }

    private static StreamWriter OpenAppend(string path) =>
        new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { NewLine = "\n" };

    internal static string ToCsv(DatasetEntry entry, DatasetSpec spec)
    {
        var line = string.Join(',',
            Csv(entry.File), entry.Index, entry.Seed?.ToString(CultureInfo.InvariantCulture) ?? string.Empty, entry.Label?.ToString(CultureInfo.InvariantCulture) ?? string.Empty,
            Csv(entry.Class ?? string.Empty), Csv(entry.Model), Csv(entry.ContentHash));
        return spec.Kind switch
        {
            DatasetKind.Text => line + "," + Csv(entry.Caption ?? string.Empty),
            DatasetKind.Image => line + "," + Csv(entry.Source ?? string.Empty),
            _ => line,
        } + (spec.ImagesPerFile > 0 ? "," + entry.Key : string.Empty);
    }

    // RFC 4180: quote a field holding a comma, quote or line break; double inner quotes.
    private static string Csv(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;
}
