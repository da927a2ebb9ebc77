using System.Globalization;

namespace GanInference.Trainers.Training;

/// <summary>Appends one CSV row per training step (<c>loss.csv</c> in the run folder).</summary>
internal sealed class LossLog : IAsyncDisposable
{
    private readonly StreamWriter writer;

    private LossLog(StreamWriter writer) => this.writer = writer;

    public static Task<LossLog> CreateAsync(string path, IReadOnlyList<string> columns, CancellationToken cancellationToken) =>
        OpenAsync(path, columns, append: false, cancellationToken);

    /// <summary>Starts a new CSV, or appends to an existing one (a resumed run).</summary>
    public static async Task<LossLog> OpenAsync(string path, IReadOnlyList<string> columns, bool append, CancellationToken cancellationToken)
    {
        var writeHeader = !append || !File.Exists(path);
        var writer = new StreamWriter(path, append);
        if (writeHeader)
        {
            await writer.WriteLineAsync(("epoch,step," + string.Join(',', columns)).AsMemory(), cancellationToken).ConfigureAwait(false);
        }

        return new LossLog(writer);
    }

    public Task AppendAsync(int epoch, long step, ReadOnlySpan<double> values, CancellationToken cancellationToken)
    {
        var line = string.Create(CultureInfo.InvariantCulture, $"{epoch},{step}");
        foreach (var value in values)
        {
            line += string.Create(CultureInfo.InvariantCulture, $",{value:G6}");
        }

        return writer.WriteLineAsync(line.AsMemory(), cancellationToken);
    }

    public Task FlushAsync(CancellationToken cancellationToken) => writer.FlushAsync(cancellationToken);

    public ValueTask DisposeAsync() => writer.DisposeAsync();
}
