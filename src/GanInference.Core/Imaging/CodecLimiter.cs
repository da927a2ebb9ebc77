namespace GanInference.Core.Imaging;

/// <summary>
/// One limit on image encoding and decoding across all requests: each request parallelises its own images, and
/// without a shared limit N concurrent requests would run N × cores codec threads against the batch loops. PNG and
/// JPEG work takes a slot; RAW formats are a copy and run inline, without one.
/// </summary>
public sealed class CodecLimiter : IDisposable
{
    private readonly SemaphoreSlim _slots;

    /// <summary>Creates the limiter.</summary>
    /// <param name="slots">Codec operations running at once, process-wide; 0 or less: one per processor.</param>
    public CodecLimiter(int slots)
    {
        Slots = slots > 0 ? slots : Environment.ProcessorCount;
        _slots = new SemaphoreSlim(Slots, Slots);
    }

    /// <summary>Codec operations that may run at once.</summary>
    public int Slots { get; }

    /// <summary>True when <paramref name="format"/> needs real encoding work (PNG, JPEG), false for the raw copies.</summary>
    public static bool IsCompressed(ImageFormatKind format) => format is ImageFormatKind.Png or ImageFormatKind.Jpeg;

    /// <summary>Runs <paramref name="count"/> codec operations, at most <see cref="Slots"/> at once across every caller.</summary>
    public Task ForEachAsync(int count, CancellationToken cancellationToken, Action<int> work)
    {
        if (count == 1)
        {
            return RunOneAsync(0, cancellationToken, work);
        }

        var options = new ParallelOptions { MaxDegreeOfParallelism = Slots, CancellationToken = cancellationToken };
        return Parallel.ForAsync(0, count, options, async (i, token) => await RunOneAsync(i, token, work).ConfigureAwait(false));
    }

    private async Task RunOneAsync(int index, CancellationToken cancellationToken, Action<int> work)
    {
        await _slots.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            work(index);
        }
        finally
        {
            _slots.Release();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _slots.Dispose();
}
