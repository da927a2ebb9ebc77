using System.Collections;
using System.Text;
using System.Text.Json;
using GanInference.Cli.Imaging;

namespace GanInference.Cli.Dataset;

/// <summary>
/// A dataset folder on disk: <c>dataset.json</c> (the spec), the class folders, and a manifest in two
/// forms (<c>manifest.jsonl</c>, <c>manifest.csv</c>) that only ever lists complete files.
/// </summary>
/// <remarks>
/// Crash consistency: an image is written under a temporary name and renamed, and only then is its line
/// appended and flushed to both manifests. Opening a folder again drops manifest lines whose file is
/// missing or that were cut short, removes temporary files, and rewrites both manifests from the
/// surviving JSONL lines, so an interrupted run resumes from exactly the images that are complete.
/// </remarks>
internal sealed class DatasetFolder : IDisposable
{
    public const string JsonlName = "manifest.jsonl";
    public const string CsvName = "manifest.csv";
    public const string CsvHeader = "file,index,seed,label,class,model,content_hash";

    private readonly StreamWriter _jsonl;
    private readonly StreamWriter _csv;

    private DatasetFolder(string root, BitArray complete, int completeCount, StreamWriter jsonl, StreamWriter csv)
    {
        Root = root;
        Complete = complete;
        CompleteCount = completeCount;
        _jsonl = jsonl;
        _csv = csv;
    }

    public string Root { get; }

    /// <summary>Which plan indices already have a file and a manifest line.</summary>
    public BitArray Complete { get; }

    public int CompleteCount { get; private set; }

    /// <summary>
    /// Opens (resuming) or starts a dataset in <paramref name="root"/>; refuses, touching nothing, a folder
    /// that holds another model's dataset, other parameters, or unrelated files.
    /// </summary>
    public static DatasetFolder Open(string root, DatasetSpec spec, DatasetPlan plan)
    {
        var specPath = Path.Combine(root, DatasetSpec.FileName);
        if (File.Exists(specPath))
        {
            var existing = ReadSpec(specPath);
            if (existing.DescribeMismatch(spec, root) is { } mismatch)
            {
                throw new CliException(mismatch);
            }
        }
        else
        {
            if (Directory.EnumerateFileSystemEntries(root).Any())
            {
                throw new CliException($"--out: '{root}' is not empty and holds no {DatasetSpec.FileName}; give an empty or new folder so nothing is overwritten.");
            }

            File.WriteAllText(specPath, JsonSerializer.Serialize(spec, DatasetJsonContext.Default.DatasetSpec));
        }

        foreach (var folder in plan.Folders)
        {
            var path = Path.Combine(root, folder);
            Directory.CreateDirectory(path);
            foreach (var leftover in Directory.EnumerateFiles(path, "*" + OutputFiles.TemporarySuffix))
            {
                File.Delete(leftover);
            }
        }

        var entries = ReadCompleteEntries(root, spec, plan);
        var complete = new BitArray(plan.Total);
        foreach (var entry in entries)
        {
            complete[entry.Index] = true;
        }

        RewriteManifests(root, entries);
        var jsonl = OpenAppend(Path.Combine(root, JsonlName));
        var csv = OpenAppend(Path.Combine(root, CsvName));
        return new DatasetFolder(root, complete, entries.Count, jsonl, csv);
    }

    /// <summary>Writes the image, then records it in both manifests.</summary>
    public async Task AddAsync(DatasetEntry entry, ReadOnlyMemory<byte> data)
    {
        await OutputFiles.WriteAtomicallyAsync(Path.Combine(Root, entry.File), data).ConfigureAwait(false);
        await _jsonl.WriteLineAsync(JsonSerializer.Serialize(entry, DatasetJsonContext.Default.DatasetEntry)).ConfigureAwait(false);
        await _csv.WriteLineAsync(ToCsv(entry)).ConfigureAwait(false);
        // Flushed to the OS per image: an interrupted process loses at most the image in flight.
        await _jsonl.FlushAsync().ConfigureAwait(false);
        await _csv.FlushAsync().ConfigureAwait(false);
        Complete[entry.Index] = true;
        CompleteCount++;
    }

    public void Dispose()
    {
        _jsonl.Dispose();
        _csv.Dispose();
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

    private static List<DatasetEntry> ReadCompleteEntries(string root, DatasetSpec spec, DatasetPlan plan)
    {
        var result = new List<DatasetEntry>();
        var path = Path.Combine(root, JsonlName);
        if (!File.Exists(path))
        {
            return result;
        }

        var seen = new HashSet<int>();
        var lineNumber = 0;
        foreach (var line in File.ReadLines(path))
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

            if (entry.Index < 0 || entry.Index >= plan.Total || plan[entry.Index] is var expected && (expected.Seed != entry.Seed || expected.Label != entry.Label || expected.File != entry.File))
            {
                throw new CliException($"{path}:{lineNumber}: '{entry.File}' does not belong to this dataset's plan (index {entry.Index}, seed {entry.Seed}).");
            }

            if (seen.Add(entry.Index) && File.Exists(Path.Combine(root, entry.File)))
            {
                result.Add(entry);
            }
        }

        result.Sort((a, b) => a.Index.CompareTo(b.Index));
        return result;
    }

    private static void RewriteManifests(string root, List<DatasetEntry> entries)
    {
        var jsonl = new StringBuilder();
        var csv = new StringBuilder().Append(CsvHeader).Append('\n');
        foreach (var entry in entries)
        {
            jsonl.Append(JsonSerializer.Serialize(entry, DatasetJsonContext.Default.DatasetEntry)).Append('\n');
            csv.Append(ToCsv(entry)).Append('\n');
        }

        ReplaceText(Path.Combine(root, JsonlName), jsonl.ToString());
        ReplaceText(Path.Combine(root, CsvName), csv.ToString());
    }

    private static void ReplaceText(string path, string text)
    {
        var temporary = path + OutputFiles.TemporarySuffix;
        File.WriteAllText(temporary, text, new UTF8Encoding(false));
        File.Move(temporary, path, overwrite: true);
    }

    private static StreamWriter OpenAppend(string path) =>
        new(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read), new UTF8Encoding(false)) { NewLine = "\n" };

    internal static string ToCsv(DatasetEntry entry) => string.Join(',',
        Csv(entry.File), entry.Index, entry.Seed, entry.Label?.ToString() ?? string.Empty, Csv(entry.Class ?? string.Empty), Csv(entry.Model), Csv(entry.ContentHash));

    // RFC 4180: quote a field holding a comma, quote or line break; double inner quotes.
    private static string Csv(string field) =>
        field.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? $"\"{field.Replace("\"", "\"\"", StringComparison.Ordinal)}\"" : field;
}
