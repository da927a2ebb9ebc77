namespace GanInference.Trainers.Export;

/// <summary>
/// Builds a folder's contents in a hidden sibling and moves it into place only when complete, so
/// a failure (or a crash) never leaves a half-written model folder behind.
/// </summary>
public static class AtomicFolder
{
    public static async Task WriteAsync(string destination, Func<string, CancellationToken, Task> fill, CancellationToken cancellationToken)
    {
        var target = Path.GetFullPath(destination.TrimEnd(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar));
        var parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"{destination}: cannot write a folder at the file system root.", nameof(destination));
        Directory.CreateDirectory(parent);
        var name = Path.GetFileName(target);
        var staging = Path.Combine(parent, $".{name}.partial-{Guid.NewGuid():N}");
        var previous = Path.Combine(parent, $".{name}.previous-{Guid.NewGuid():N}");
        Directory.CreateDirectory(staging);
        try
        {
            await fill(staging, cancellationToken).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (Directory.Exists(target))
            {
                Directory.Move(target, previous);
            }

            Directory.Move(staging, target);
        }
        catch
        {
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }

            if (Directory.Exists(previous) && !Directory.Exists(target))
            {
                Directory.Move(previous, target);
            }

            throw;
        }

        if (Directory.Exists(previous))
        {
            Directory.Delete(previous, recursive: true);
        }
    }
}
