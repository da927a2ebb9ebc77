using System.Buffers;
using System.Collections.Concurrent;

namespace GanInference.Server.Transport;

/// <summary>
/// Kestrel's transport memory pool with blocks larger than its own 4 KiB (<c>Limits:TransportBlockBytes</c>), so a
/// pipe holds a 192 KiB image in 3 segments instead of 48. Every block is a pinned array of the block size (on the
/// pinned object heap: the socket sends and receives from it directly), whatever size was asked for: a pipe uses the
/// whole block as one segment. Returned blocks are kept for reuse, by any thread, up to <see cref="MaxRetainedBlocks"/>;
/// further returns are dropped for the GC. As Kestrel's own pool: renting from a disposed pool throws, and a block
/// returned after the pool was disposed is dropped.
/// </summary>
internal sealed class LargeBlockMemoryPool : MemoryPool<byte>
{
    private readonly ConcurrentQueue<Block> _free = new();
    private readonly TransportPoolStatistics _statistics;
    private int _retained;
    private volatile bool _disposed;

    /// <param name="blockSize">Bytes per block (every block is this size).</param>
    /// <param name="maxRetainedBlocks">Most returned blocks kept for reuse.</param>
    /// <param name="statistics">Counts of rents and allocations, shared by the pools of one factory.</param>
    public LargeBlockMemoryPool(int blockSize, int maxRetainedBlocks, TransportPoolStatistics statistics)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockSize, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetainedBlocks);
        BlockSize = blockSize;
        MaxRetainedBlocks = maxRetainedBlocks;
        _statistics = statistics;
    }

    /// <summary>Bytes of every block.</summary>
    public int BlockSize { get; }

    /// <summary>Most returned blocks kept for reuse.</summary>
    public int MaxRetainedBlocks { get; }

    /// <summary>Blocks kept for reuse now.</summary>
    public int RetainedBlocks => Volatile.Read(ref _retained);

    /// <summary>True once disposed.</summary>
    public bool IsDisposed => _disposed;

    /// <inheritdoc />
    public override int MaxBufferSize => BlockSize;

    /// <summary>A block of <see cref="BlockSize"/> bytes (asking for more throws; -1 or less means any size).</summary>
    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (minBufferSize > BlockSize)
        {
            throw new ArgumentOutOfRangeException(nameof(minBufferSize), minBufferSize, $"Cannot rent {minBufferSize} bytes from a pool of {BlockSize}-byte blocks.");
        }

        if (_free.TryDequeue(out var block))
        {
            Interlocked.Decrement(ref _retained);
            _statistics.OnRented(reused: true);
        }
        else
        {
            block = new Block(this, GC.AllocateUninitializedArray<byte>(BlockSize, pinned: true));
            _statistics.OnRented(reused: false);
        }

        block.Lease();
        return block;
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        _disposed = true;

        // Blocks still rented are dropped when they come back (Return checks _disposed); the kept ones go now.
        while (_free.TryDequeue(out _))
        {
            Interlocked.Decrement(ref _retained);
        }
    }

    private void Return(Block block)
    {
        if (_disposed)
        {
            _statistics.OnDropped();
            return;
        }

        if (Interlocked.Increment(ref _retained) > MaxRetainedBlocks)
        {
            Interlocked.Decrement(ref _retained);
            _statistics.OnDropped();
            return;
        }

        _free.Enqueue(block);

        // Disposed between the check and the enqueue: empty the queue again so nothing outlives the pool.
        if (_disposed)
        {
            while (_free.TryDequeue(out _))
            {
                Interlocked.Decrement(ref _retained);
            }
        }
    }

    /// <summary>One pinned block; the object is reused with its array, as Kestrel's own blocks are.</summary>
    private sealed class Block(LargeBlockMemoryPool pool, byte[] array) : IMemoryOwner<byte>
    {
        private readonly Memory<byte> _memory = array;
        private int _leased;

        public Memory<byte> Memory => _memory;

        public void Lease() => Volatile.Write(ref _leased, 1);

        /// <summary>Returns the block to its pool; a second dispose of the same lease does nothing.</summary>
        public void Dispose()
        {
            if (Interlocked.Exchange(ref _leased, 0) == 1)
            {
                pool.Return(this);
            }
        }
    }
}
