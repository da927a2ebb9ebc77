namespace GanInference.Core.Runtime;

/// <summary>
/// The per-run state of a batch runner (its <c>RunOptions</c>, tensor shapes and input buffer slots), one set per run
/// in flight: the batcher may run several batches at once on the one session (<c>batching.maxRunsInFlight</c>), and
/// ONNX Runtime's <c>Run</c> is safe to call concurrently while these are not. Sets are made on first need and reused,
/// so a steady load allocates nothing here.
/// </summary>
/// <typeparam name="T">The runner's scratch type.</typeparam>
internal sealed class RunScratchPool<T> : IDisposable
    where T : class, IDisposable
{
    private readonly Func<T> _create;
    private readonly Stack<T> _free = new();
    private readonly List<T> _all = [];
    private bool _disposed;

    public RunScratchPool(Func<T> create) => _create = create;

    /// <summary>A free set, or a new one when every set is in a run.</summary>
    public T Rent()
    {
        lock (_free)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_free.TryPop(out var scratch))
            {
                return scratch;
            }

            scratch = _create();
            _all.Add(scratch);
            return scratch;
        }
    }

    /// <summary>Gives a set back after its run.</summary>
    public void Return(T scratch)
    {
        lock (_free)
        {
            _free.Push(scratch);
        }
    }

    /// <summary>Disposes every set made (the runner is disposed after its batcher stopped, so none is in a run).</summary>
    public void Dispose()
    {
        lock (_free)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            foreach (var scratch in _all)
            {
                scratch.Dispose();
            }
        }
    }
}
