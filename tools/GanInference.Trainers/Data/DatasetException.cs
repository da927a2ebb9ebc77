namespace GanInference.Trainers.Data;

/// <summary>A data file or folder that cannot be used; the message names the file.</summary>
public sealed class DatasetException : Exception
{
    public DatasetException(string path, string reason, Exception? inner = null)
        : base($"{path}: {reason}", inner)
    {
        Path = path;
    }

    /// <summary>The file or folder at fault.</summary>
    public string Path { get; }
}
