using System.Globalization;

namespace GanInference.Cli.Dataset;

/// <summary>
/// The images of a dataset as a pure function of its <see cref="DatasetSpec"/>: item i has seed
/// <c>seed + i</c>, and its label is <c>i / perClass</c> (per-class mode) or <c>seed mod classes</c>
/// (count mode, the server's own default). Files sit in one folder per class (the ImageFolder layout).
/// A text-conditional dataset has caption <c>i / count</c> and seed <c>seed + i</c> (the server's own text-major
/// order), in one folder per caption (<c>text-000000</c>, ...); an image-to-image one has item i = source file i,
/// written at the same relative path (under <c>images/</c> when the source file sits at the top of --in).
/// </summary>
internal sealed class DatasetPlan
{
    /// <summary>The folder of an unconditional model's images (ImageFolder needs one class folder).</summary>
    public const string UnlabeledFolder = "unlabeled";

    /// <summary>The folder of image-to-image outputs whose source sits at the top of --in.</summary>
    public const string ImagesFolder = "images";

    private readonly DatasetSpec _spec;
    private readonly string[] _folders;
    private readonly string _extension;

    public DatasetPlan(DatasetSpec spec, string extension)
    {
        _spec = spec;
        _extension = extension;
        _folders = spec.Kind switch
        {
            DatasetKind.Text => [.. Enumerable.Range(0, spec.Captions!.Count).Select(TextFolder)],
            DatasetKind.Image => [.. spec.Sources!.Select(ImageFile).Select(f => Path.GetDirectoryName(f)!.Replace('\\', '/')).Distinct(StringComparer.Ordinal)],
            _ => ClassFolders(spec.Classes),
        };
    }

    public int Total => _spec.Total;

    /// <summary>webdataset / parquet: the images go into files of <see cref="DatasetSpec.ImagesPerFile"/> each.</summary>
    public bool IsPacked => _spec.ImagesPerFile > 0;

    /// <summary>Files of a packed dataset.</summary>
    public int FileCount => IsPacked ? (int)(((long)Total + _spec.ImagesPerFile - 1) / _spec.ImagesPerFile) : 0;

    /// <summary>What shards split: packed files, or images.</summary>
    public int Units => IsPacked ? FileCount : Total;

    public IReadOnlyList<string> Folders => IsPacked ? [] : _folders.Length == 0 ? [UnlabeledFolder] : _folders;

    /// <summary>A packed dataset's file number <paramref name="file"/>.</summary>
    public string FileName(int file) => string.Create(CultureInfo.InvariantCulture, $"{DatasetPacks.FilePrefix}{file:D6}{DatasetPacks.Extension(_spec.Format)}");

    /// <summary>The plan items of file <paramref name="file"/>: [start, end).</summary>
    public (int Start, int End) FileItems(int file) => (file * _spec.ImagesPerFile, (int)Math.Min((long)(file + 1) * _spec.ImagesPerFile, Total));

    /// <summary>The plan items a shard writes: a block of images, or of whole files when packed (a file is never split between shards).</summary>
    public (int Start, int End) Range(DatasetShard shard) => IsPacked
        ? (FileItems(shard.Start(FileCount)).Start, shard.End(FileCount) == 0 ? 0 : FileItems(shard.End(FileCount) - 1).End)
        : (shard.Start(Total), shard.End(Total));

    public DatasetItem this[int index] => IsPacked ? Pack(Unpacked(index)) : Unpacked(index);

    private DatasetItem Pack(DatasetItem item) =>
        item with { File = FileName(item.Index / _spec.ImagesPerFile), Key = item.Index.ToString("D8", CultureInfo.InvariantCulture) };

    private DatasetItem Unpacked(int index)
    {
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Total);
            if (_spec.Kind == DatasetKind.Image)
            {
                var source = _spec.Sources![index];
                return new DatasetItem(index, null, null, null, ImageFile(source)) { Source = source };
            }

            if (_spec.Kind == DatasetKind.Text)
            {
                var text = index / _spec.Count;
                var textSeed = unchecked(_spec.Seed + (ulong)index);
                return new DatasetItem(index, textSeed, null, null, string.Create(CultureInfo.InvariantCulture, $"{TextFolder(text)}/{textSeed:D8}{_extension}"))
                {
                    Caption = _spec.Captions![text],
                };
            }

            var seed = unchecked(_spec.Seed + (ulong)index);
            int? label = _spec.Classes.Count == 0 ? null
                : _spec.PerClass > 0 ? index / _spec.PerClass
                : (int)(seed % (ulong)_spec.Classes.Count);
            var folder = label is { } l ? _folders[l] : UnlabeledFolder;
            var file = string.Create(CultureInfo.InvariantCulture, $"{folder}/{seed:D8}{_extension}");
            return new DatasetItem(index, seed, label, label is { } c ? _spec.Classes[c] : null, file);
        }
    }

    private static string TextFolder(int text) => string.Create(CultureInfo.InvariantCulture, $"text-{text:D6}");

    /// <summary>Where the translation of <paramref name="source"/> goes: its path with the dataset's extension, never at the top.</summary>
    private string ImageFile(string source)
    {
        var file = Path.ChangeExtension(source, _extension);
        return file.Contains('/', StringComparison.Ordinal) ? file : $"{ImagesFolder}/{file}";
    }

    /// <summary>File-system-safe, distinct folder names for the class names.</summary>
    private static string[] ClassFolders(IReadOnlyList<string> classes)
    {
        var invalid = Path.GetInvalidFileNameChars();
        var folders = new string[classes.Count];
        var used = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < classes.Count; i++)
        {
            var name = new string(classes[i].Select(ch => invalid.Contains(ch) || ch == '\\' ? '_' : ch).ToArray()).Trim();
            if (name.Length == 0 || name is "." or ".." || !used.Add(name))
            {
                name = string.Create(CultureInfo.InvariantCulture, $"{i}_{name}");
                used.Add(name);
            }

            folders[i] = name;
        }

        return folders;
    }
}

internal readonly record struct DatasetItem(int Index, ulong? Seed, int? Label, string? ClassName, string File)
{
    public string? Caption { get; init; }

    public string? Source { get; init; }

    public string? Key { get; init; }
}
