using System.Globalization;

namespace GanInference.Cli.Dataset;

/// <summary>
/// The images of a dataset as a pure function of its <see cref="DatasetSpec"/>: item i has seed
/// <c>seed + i</c>, and its label is <c>i / perClass</c> (per-class mode) or <c>seed mod classes</c>
/// (count mode, the server's own default). Files sit in one folder per class (the ImageFolder layout).
/// </summary>
internal sealed class DatasetPlan
{
    /// <summary>The folder of an unconditional model's images (ImageFolder needs one class folder).</summary>
    public const string UnlabeledFolder = "unlabeled";

    private readonly DatasetSpec _spec;
    private readonly string[] _folders;
    private readonly string _extension;

    public DatasetPlan(DatasetSpec spec, string extension)
    {
        _spec = spec;
        _extension = extension;
        _folders = ClassFolders(spec.Classes);
    }

    public int Total => _spec.Total;

    public IReadOnlyList<string> Folders => _folders.Length == 0 ? [UnlabeledFolder] : _folders;

    public DatasetItem this[int index]
    {
        get
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, Total);
            var seed = unchecked(_spec.Seed + (ulong)index);
            int? label = _spec.Classes.Count == 0 ? null
                : _spec.PerClass > 0 ? index / _spec.PerClass
                : (int)(seed % (ulong)_spec.Classes.Count);
            var folder = label is { } l ? _folders[l] : UnlabeledFolder;
            var file = string.Create(CultureInfo.InvariantCulture, $"{folder}/{seed:D8}{_extension}");
            return new DatasetItem(index, seed, label, label is { } c ? _spec.Classes[c] : null, file);
        }
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

internal readonly record struct DatasetItem(int Index, ulong Seed, int? Label, string? ClassName, string File);
