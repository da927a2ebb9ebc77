namespace GanInference.Core.Repository;

/// <summary>
/// One request's hold on a model: while it is held, a hot reload that replaces or removes the model lets
/// this request finish on the old session before that session is released. Dispose it when the request ends.
/// </summary>
public sealed class ModelLease : IDisposable
{
    private ServedModel? _model;

    internal ModelLease(ServedModel model) => _model = model;

    /// <summary>The leased model.</summary>
    public ServedModel Model => _model ?? throw new ObjectDisposedException(nameof(ModelLease));

    /// <summary>Gives the lease back (once).</summary>
    public void Dispose() => Interlocked.Exchange(ref _model, null)?.Release();
}
