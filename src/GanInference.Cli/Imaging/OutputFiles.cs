using GanInference.Api.V1;

namespace GanInference.Cli.Imaging;

/// <summary>Output folders and files: checked before any work, written atomically.</summary>
internal static class OutputFiles
{
    public const string TemporarySuffix = ".partial";

    /// <summary>The name of the empty file <see cref="PrepareFolder(string, string, out string?)"/> writes and removes to prove a folder writable.</summary>
    public const string WriteProbePrefix = ".gan-write-probe-";

    /// <summary>Creates the folder and proves it is writable, so a bad path fails before the server works.</summary>
    public static string PrepareFolder(string path, string optionName) => PrepareFolder(path, optionName, out _);

    /// <summary>
    /// Same, and reports the outermost folder this call created (null when the folder existed), so a command
    /// that fails can remove what it made (<see cref="RemoveIfNoFiles"/>) instead of leaving an empty folder behind.
    /// </summary>
    public static string PrepareFolder(string path, string optionName, out string? created)
    {
        created = null;
        try
        {
            var full = Path.GetFullPath(path);
            for (var folder = full; folder is not null && !Directory.Exists(folder); folder = Path.GetDirectoryName(folder))
            {
                if (File.Exists(folder))
                {
                    throw new CliException($"{optionName}: '{path}' cannot be a folder: '{Path.GetRelativePath(Environment.CurrentDirectory, folder)}' is a file. Give a folder path.");
                }

                created = folder;
            }

            Directory.CreateDirectory(full);
            var probe = Path.Combine(full, $"{WriteProbePrefix}{Environment.ProcessId}-{Guid.NewGuid():N}");
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return full;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"{optionName}: cannot write to output folder '{path}': {e.Message}");
        }
    }

    /// <summary>Removes a folder this run created when no file ended up in it (a command that failed before writing).</summary>
    public static void RemoveIfNoFiles(string? created)
    {
        try
        {
            if (created is not null && Directory.Exists(created) && !Directory.EnumerateFiles(created, "*", SearchOption.AllDirectories).Any())
            {
                Directory.Delete(created, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: an empty folder left behind is untidy, not wrong.
        }
    }

    /// <summary>Writes to a temporary name then renames, so a reader (or a resumed run) never sees half a file.</summary>
    /// <param name="path">The final name.</param>
    /// <param name="data">The file's bytes.</param>
    /// <param name="overwrite">False: an existing file at <paramref name="path"/> is an error, never replaced.</param>
    public static async Task WriteAtomicallyAsync(string path, ReadOnlyMemory<byte> data, bool overwrite = true)
    {
        var temporary = path + TemporarySuffix;
        await using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
        {
            // Not cancellable mid-file: a started image is finished, which keeps the folder consistent.
            await stream.WriteAsync(data, CancellationToken.None).ConfigureAwait(false);
        }

        try
        {
            File.Move(temporary, path, overwrite);
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            File.Delete(temporary);
            throw new CliException($"'{path}' already exists and was not replaced (--overwrite replaces existing files).");
        }
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
