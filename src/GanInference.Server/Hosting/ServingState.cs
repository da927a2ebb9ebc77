namespace GanInference.Server.Hosting;

/// <summary>
/// Where the server is in its shutdown. Stopping goes through three steps:
/// <list type="number">
/// <item><see cref="BeginStopping"/>: health says NOT_SERVING (so load balancers take the instance out) and the
/// drain clock starts, but calls are still served for <c>Shutdown:NotServingDelaySeconds</c>;</item>
/// <item><see cref="RefuseNewCalls"/>: new calls get UNAVAILABLE while the running ones finish;</item>
/// <item><see cref="DrainExpired"/> fires when <c>Shutdown:DrainTimeoutSeconds</c> have passed after the delay:
/// every call still running ends with UNAVAILABLE (a stream whose reader stalled is reset with REFUSED_STREAM).</item>
/// </list>
/// </summary>
internal sealed class ServingState : IDisposable
{
    private readonly CancellationTokenSource _drainExpired = new();
    private readonly CancellationTokenSource _refusing = new();
    private int _stopping;

    /// <summary>True once stopping has begun (health is NOT_SERVING).</summary>
    public bool IsStopping => Volatile.Read(ref _stopping) != 0;

    /// <summary>True once new calls are refused (after the not-serving delay).</summary>
    public bool IsRefusingCalls => _refusing.IsCancellationRequested;

    /// <summary>Cancelled when the drain time has run out; every running call observes it.</summary>
    public CancellationToken DrainExpired => _drainExpired.Token;

    /// <summary>
    /// Starts both clocks: calls are refused after <paramref name="notServingDelay"/>, and cut off after that plus
    /// <paramref name="drainTimeout"/>; false when stopping had already begun.
    /// </summary>
    public bool BeginStopping(TimeSpan notServingDelay, TimeSpan drainTimeout)
    {
        if (Interlocked.Exchange(ref _stopping, 1) != 0)
        {
            return false;
        }

        _refusing.CancelAfter(notServingDelay);
        _drainExpired.CancelAfter(notServingDelay + drainTimeout);
        return true;
    }

    /// <summary>From now on new calls get UNAVAILABLE (the host's stop does not wait for the delay's timer).</summary>
    public void RefuseNewCalls() => _refusing.Cancel();

    /// <summary>A token for one call: cancelled when the caller goes away or the drain time runs out.</summary>
    public CancellationTokenSource LinkCall(CancellationToken callToken) =>
        CancellationTokenSource.CreateLinkedTokenSource(callToken, _drainExpired.Token);

    public void Dispose()
    {
        _drainExpired.Dispose();
        _refusing.Dispose();
    }
}
