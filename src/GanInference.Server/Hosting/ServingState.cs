namespace GanInference.Server.Hosting;

/// <summary>
/// Whether the server takes new inference calls. It flips once, when the host begins to stop: from then
/// on new calls get UNAVAILABLE while the calls already running finish (graceful drain).
/// </summary>
internal sealed class ServingState
{
    private volatile bool _draining;

    /// <summary>True once shutdown has begun.</summary>
    public bool IsDraining => _draining;

    /// <summary>Stops taking new calls.</summary>
    public void BeginDrain() => _draining = true;
}
