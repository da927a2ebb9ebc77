using System.Globalization;

namespace GanInference.Trainers.Training;

/// <summary>The layout of <c>runs/NAME/</c>.</summary>
public sealed class RunFolder
{
    public RunFolder(string root)
    {
        Root = Path.GetFullPath(root);
    }

    public string Root { get; }

    public string LossCsv => Path.Combine(Root, "loss.csv");

    public string CheckpointsRoot => Path.Combine(Root, "checkpoints");

    public string Checkpoint(int epoch) => Path.Combine(CheckpointsRoot, string.Create(CultureInfo.InvariantCulture, $"epoch-{epoch:D3}"));

    /// <summary>Copy of the newest checkpoint, so scripts need not know the epoch count.</summary>
    public string LatestCheckpoint => Path.Combine(CheckpointsRoot, "latest");

    public string SampleGrid(int epoch) => Path.Combine(Root, "samples", string.Create(CultureInfo.InvariantCulture, $"epoch-{epoch:D3}.png"));

    public void Create()
    {
        Directory.CreateDirectory(CheckpointsRoot);
        Directory.CreateDirectory(Path.Combine(Root, "samples"));
    }
}
