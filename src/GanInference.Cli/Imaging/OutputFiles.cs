using GanInference.Api.V1;

namespace GanInference.Cli.Imaging;

/// <summary>Output folders and files: checked before any work, written atomically.</summary>
internal static class OutputFiles
{
    public const string TemporarySuffix = ".partial";

    /// <summary>Creates the folder and proves it is writable, so a bad path fails before the server works.</summary>
    public static string PrepareFolder(string path, string optionName)
    {
        try
        {
            var full = Path.GetFullPath(path);
            Directory.CreateDirectory(full);
            var probe = Path.Combine(full, $".gan-write-probe-{Environment.ProcessId}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return full;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"{optionName}: cannot write to output folder '{path}': {e.Message}");
        }
    }

    /// <summary>Writes to a temporary name then renames, so a reader (or a resumed run) never sees half a file.</summary>
    public static async Task WriteAtomicallyAsync(string path, ReadOnlyMemory<byte> data)
    {
        var temporary = path + TemporarySuffix;
        await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
        {
            // Not cancellable mid-file: a started image is finished, which keeps the folder consistent.
            await stream.WriteAsync(data, CancellationToken.None).ConfigureAwait(false);
        }

        File.Move(temporary, path, overwrite: true);
    }

    public static string Extension(ImageFormat format) => format switch
    {
        ImageFormat.Png => ".png",
        ImageFormat.Jpeg => ".jpg",
        ImageFormat.RawU8 => ".u8",
        ImageFormat.RawF32 => ".f32",
        _ => ".bin",
    };
}
