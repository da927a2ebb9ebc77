namespace GanInference.Server.Hosting;

/// <summary>
/// Whether the server takes new inference calls. It flips once, when the host begins to stop: from then on
/// new calls get UNAVAILABLE while the calls already running finish, until the drain time runs out and
/// <see cref="DrainExpired"/> ends the rest (with UNAVAILABLE, not silence).
/// </summary>
internal sealed class ServingState : IDisposable
{
    private readonly CancellationTokenSource _drainExpired = new();
    private int _draining;

    /// <summary>True once shutdown has begun.</summary>
    public bool IsDraining => Volatile.Read(ref _draining) != 0;

    /// <summary>Cancelled when the drain time has run out; every running call observes it.</summary>
    public CancellationToken DrainExpired => _drainExpired.Token;

    /// <summary>Stops taking new calls and starts the drain clock; false when shutdown had already begun.</summary>
    public bool BeginDrain(TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _draining, 1) != 0)
        {
            return false;
        }

        _drainExpired.CancelAfter(drainTimeout);
        return true;
    }

    /// <summary>A token for one call: cancelled when the caller goes away or the drain time runs out.</summary>
    public CancellationTokenSource LinkCall(CancellationToken callToken) =>
        CancellationTokenSource.CreateLinkedTokenSource(callToken, _drainExpired.Token);

    public void Dispose() => _drainExpired.Dispose();
}
