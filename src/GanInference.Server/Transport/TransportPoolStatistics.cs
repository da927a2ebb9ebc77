namespace GanInference.Server.Transport;

/// <summary>
/// What the transport pools of one <see cref="LargeBlockMemoryPoolFactory"/> did, for <c>/metrics</c>
/// (<c>gan.transport.blocks.*</c>) and tests: counters only, updated with interlocked adds.
/// </summary>
internal sealed class TransportPoolStatistics
{
    private long _pools;
    private long _rented;
    private long _allocated;
    private long _dropped;

    /// <summary>Pools created (Kestrel's socket transport makes one per I/O queue of each listener).</summary>
    public long Pools => Interlocked.Read(ref _pools);

    /// <summary>Blocks handed out, reused or new.</summary>
    public long Rented => Interlocked.Read(ref _rented);

    /// <summary>Blocks allocated because none was free.</summary>
    public long Allocated => Interlocked.Read(ref _allocated);

    /// <summary>Blocks returned and not kept (the pool was full or disposed).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void OnPoolCreated() => Interlocked.Increment(ref _pools);

    public void OnRented(bool reused)
    {
        Interlocked.Increment(ref _rented);
        if (!reused)
        {
            Interlocked.Increment(ref _allocated);
        }
    }

    public void OnDropped() => Interlocked.Increment(ref _dropped);
}
