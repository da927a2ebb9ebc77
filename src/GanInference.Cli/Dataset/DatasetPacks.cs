using System.Formats.Tar;
using System.Text;
using System.Text.Json;
using GanInference.Api.V1;
using Parquet;
using Parquet.Schema;

namespace GanInference.Cli.Dataset;

/// <summary>
/// The dataset formats: <c>png</c> / <c>jpeg</c> files in class folders (ImageFolder), or PNG images packed into files
/// of about <c>--shard-size</c> MB: <c>webdataset</c> (tar files <c>data-000000.tar</c>, ... holding <c>{key}.png</c>
/// and <c>{key}.json</c> per sample, the layout WebDataset readers stream) and <c>parquet</c> (<c>data-000000.parquet</c>,
/// ..., one row per image). Which images go into which file is a function of <c>dataset.json</c> alone
/// (<see cref="DatasetSpec.ImagesPerFile"/> consecutive plan items per file), so shards and resumed runs write the same
/// files; a file is written under a temporary name and renamed when complete, so a resumed run redoes at most the
/// files that were being written.
/// </summary>
internal static class DatasetPacks
{
    public const string WebDataset = "webdataset";
    public const string Parquet = "parquet";
    public const string FilePrefix = "data-";

    /// <summary>Default --shard-size in MB.</summary>
    public const double DefaultSizeMb = 64;

    /// <summary>Bytes a tar sample costs beside its PNG: two 512-byte headers, padding to 512 bytes, the JSON.</summary>
    private const int TarOverhead = 1536;

    /// <summary>Bytes a Parquet row costs beside its PNG: the key, index, seed, label and strings, before compression.</summary>
    private const int ParquetOverhead = 64;

    public static bool IsPacked(string format) => format is WebDataset or Parquet;

    /// <summary>The encoding of every image of a dataset in <paramref name="format"/>.</summary>
    public static ImageFormat ImageFormatOf(string format) => format switch
    {
        "jpeg" => ImageFormat.Jpeg,
        _ => ImageFormat.Png,
    };

    public static string Extension(string format) => format == Parquet ? ".parquet" : ".tar";

    /// <summary>
    /// Images per file for at most about <paramref name="sizeMb"/> MB (1 MB = 2^20 bytes): an image is counted at its
    /// raw size (the PNG of a generated image is smaller) plus the format's overhead per sample.
    /// </summary>
    public static int ImagesPerFile(string format, double sizeMb, long width, long height, long channels)
    {
        var sample = Math.Max(1, width * height * channels) + (format == Parquet ? ParquetOverhead : TarOverhead);
        return (int)Math.Clamp(Math.Floor(sizeMb * 1024 * 1024 / sample), 1, int.MaxValue);
    }

    public static IPackWriter Create(string format, string path) => format == Parquet ? new ParquetPackWriter(path) : new TarPackWriter(path);
}

/// <summary>Writes one packed file as its images arrive; <see cref="CompleteAsync"/> finishes it.</summary>
internal interface IPackWriter : IAsyncDisposable
{
    Task AddAsync(DatasetEntry entry, ReadOnlyMemory<byte> png);

    Task CompleteAsync();
}

/// <summary>
/// A WebDataset shard: a POSIX ustar archive with <c>{key}.png</c> then <c>{key}.json</c> (the manifest line) for each
/// sample, in key order. Every header field that could vary (time, owner, mode) is fixed, so the bytes are a function
/// of the images alone.
/// </summary>
internal sealed class TarPackWriter : IPackWriter
{
    private readonly FileStream _stream;
    private readonly TarWriter _tar;

    public TarPackWriter(string path)
    {
        _stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        _tar = new TarWriter(_stream, TarEntryFormat.Ustar, leaveOpen: true);
    }

    public async Task AddAsync(DatasetEntry entry, ReadOnlyMemory<byte> png)
    {
        await AddFileAsync($"{entry.Key}.png", png).ConfigureAwait(false);
        await AddFileAsync($"{entry.Key}.json", Encoding.UTF8.GetBytes(JsonSerializer.Serialize(entry, DatasetJsonContext.Default.DatasetEntry))).ConfigureAwait(false);
    }

    public async Task CompleteAsync()
    {
        await _tar.DisposeAsync().ConfigureAwait(false);
        await _stream.FlushAsync().ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _tar.DisposeAsync().ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }

    private async Task AddFileAsync(string name, ReadOnlyMemory<byte> data)
    {
        using var content = new MemoryStream(data.ToArray(), writable: false);
        var file = new UstarTarEntry(TarEntryType.RegularFile, name)
        {
            DataStream = content,
            ModificationTime = DateTimeOffset.UnixEpoch,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            Uid = 0,
            Gid = 0,
            UserName = string.Empty,
            GroupName = string.Empty,
        };
        await _tar.WriteEntryAsync(file, CancellationToken.None).ConfigureAwait(false);
    }
}

/// <summary>
/// A Parquet file of one row group, one row per image: <c>key</c>, <c>index</c>, <c>image</c> (the PNG bytes),
/// <c>seed</c>, <c>label</c>, <c>class</c>, <c>caption</c>, <c>source</c> (the last five null where they do not apply).
/// The rows are held until the file is complete (a file is about --shard-size MB).
/// </summary>
internal sealed class ParquetPackWriter(string path) : IPackWriter
{
    private static readonly DataField<string> Key = new("key", false);
    private static readonly DataField<int> Index = new("index");
    private static readonly DataField<byte[]> Image = new("image", false);
    private static readonly DataField<ulong?> Seed = new("seed");
    private static readonly DataField<int?> Label = new("label");
    private static readonly DataField<string> Class = new("class", true);
    private static readonly DataField<string> Caption = new("caption", true);
    private static readonly DataField<string> Source = new("source", true);

    private readonly List<(DatasetEntry Entry, byte[] Png)> _rows = [];

    public static ParquetSchema Schema { get; } = new(Key, Index, Image, Seed, Label, Class, Caption, Source);

    public Task AddAsync(DatasetEntry entry, ReadOnlyMemory<byte> png)
    {
        _rows.Add((entry, png.ToArray()));
        return Task.CompletedTask;
    }

    public async Task CompleteAsync()
    {
        await using var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, FileOptions.Asynchronous);
        await using (var writer = await ParquetWriter.CreateAsync(Schema, stream).ConfigureAwait(false))
        {
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(Key, _rows.Select(r => r.Entry.Key!).ToArray()).ConfigureAwait(false);
            await group.WriteAsync<int>(Index, _rows.Select(r => r.Entry.Index).ToArray()).ConfigureAwait(false);
            await group.WriteAsync(Image, _rows.Select(r => r.Png).ToArray()).ConfigureAwait(false);
            await group.WriteAsync<ulong>(Seed, _rows.Select(r => r.Entry.Seed).ToArray()).ConfigureAwait(false);
            await group.WriteAsync<int>(Label, _rows.Select(r => r.Entry.Label).ToArray()).ConfigureAwait(false);
            await group.WriteAsync(Class, _rows.Select(r => r.Entry.Class!).ToArray()).ConfigureAwait(false);
            await group.WriteAsync(Caption, _rows.Select(r => r.Entry.Caption!).ToArray()).ConfigureAwait(false);
            await group.WriteAsync(Source, _rows.Select(r => r.Entry.Source!).ToArray()).ConfigureAwait(false);
        }

        await stream.FlushAsync().ConfigureAwait(false);
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
