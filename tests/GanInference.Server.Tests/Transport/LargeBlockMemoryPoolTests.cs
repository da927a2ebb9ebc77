using System.Buffers;
using System.Runtime.InteropServices;
using GanInference.Server.Transport;

namespace GanInference.Server.Tests.Transport;

/// <summary>The transport memory pool on its own: block size, reuse across threads, bounded retention, disposal.</summary>
public sealed class LargeBlockMemoryPoolTests
{
    private const int BlockSize = 64 * 1024;

    [Theory]
    [InlineData(-1)]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4096)]
    [InlineData(BlockSize)]
    public void Every_block_is_the_block_size_whatever_was_asked(int asked)
    {
        using var pool = new LargeBlockMemoryPool(BlockSize, 4, new TransportPoolStatistics());

        using var block = pool.Rent(asked);

        Assert.Equal(BlockSize, block.Memory.Length);
        Assert.Equal(BlockSize, pool.MaxBufferSize);
    }

    [Fact]
    public void Asking_for_more_than_a_block_is_refused()
    {
        using var pool = new LargeBlockMemoryPool(BlockSize, 4, new TransportPoolStatistics());

        var error = Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(BlockSize + 1));

        Assert.Contains($"pool of {BlockSize}-byte blocks", error.Message);
    }

    [Fact]
    public void A_returned_block_is_handed_out_again_and_a_second_dispose_of_it_returns_nothing()
    {
        var statistics = new TransportPoolStatistics();
        using var pool = new LargeBlockMemoryPool(BlockSize, 4, statistics);

        var first = pool.Rent();
        var array = ArrayOf(first);
        first.Dispose();
        first.Dispose();
        Assert.Equal(1, pool.RetainedBlocks);

        using var second = pool.Rent();

        Assert.Same(array, ArrayOf(second));
        Assert.Equal((2L, 1L), (statistics.Rented, statistics.Allocated));
        Assert.Equal(0, pool.RetainedBlocks);
    }

    [Fact]
    public void The_pool_keeps_at_most_its_bound_and_drops_the_rest()
    {
        var statistics = new TransportPoolStatistics();
        using var pool = new LargeBlockMemoryPool(BlockSize, maxRetainedBlocks: 2, statistics);
        var blocks = Enumerable.Range(0, 5).Select(_ => pool.Rent()).ToList();

        blocks.ForEach(b => b.Dispose());

        Assert.Equal(2, pool.RetainedBlocks);
        Assert.Equal((5L, 5L, 3L), (statistics.Rented, statistics.Allocated, statistics.Dropped));

        // The kept two are reused; the third rent allocates again.
        var again = Enumerable.Range(0, 3).Select(_ => pool.Rent()).ToList();
        Assert.Equal(6L, statistics.Allocated);
        again.ForEach(b => b.Dispose());
    }

    [Fact]
    public void Blocks_rented_and_returned_on_many_threads_are_never_handed_to_two_holders_at_once()
    {
        const int Threads = 8;
        const int HeldEach = 3;
        var statistics = new TransportPoolStatistics();
        using var pool = new LargeBlockMemoryPool(BlockSize, maxRetainedBlocks: 64, statistics);

        Parallel.For(0, Threads, new ParallelOptions { MaxDegreeOfParallelism = Threads }, thread =>
        {
            var mark = (byte)(thread + 1);
            for (var round = 0; round < 500; round++)
            {
                var held = new List<IMemoryOwner<byte>>();
                for (var i = 0; i < HeldEach; i++)
                {
                    var block = pool.Rent(4096);
                    block.Memory.Span.Fill(mark);
                    held.Add(block);
                }

                Thread.Yield();
                foreach (var block in held)
                {
                    // Another holder of the same block would have overwritten this thread's mark.
                    Assert.True(block.Memory.Span.IndexOfAnyExcept(mark) < 0, $"thread {thread}, round {round}: a block was shared");
                    block.Dispose();
                }
            }
        });

        Assert.Equal(Threads * 500L * HeldEach, statistics.Rented);
        Assert.InRange(statistics.Allocated, HeldEach, Threads * HeldEach);
        Assert.InRange(pool.RetainedBlocks, 0, 64);
        Assert.Equal(statistics.Allocated, pool.RetainedBlocks + statistics.Dropped);
    }

    [Fact]
    public void A_disposed_pool_refuses_rents_releases_what_it_kept_and_drops_blocks_returned_later()
    {
        var statistics = new TransportPoolStatistics();
        var pool = new LargeBlockMemoryPool(BlockSize, 4, statistics);
        var kept = pool.Rent();
        var outstanding = pool.Rent();
        kept.Dispose();
        Assert.Equal(1, pool.RetainedBlocks);

        pool.Dispose();

        Assert.True(pool.IsDisposed);
        Assert.Equal(0, pool.RetainedBlocks);
        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
        outstanding.Dispose();
        Assert.Equal(0, pool.RetainedBlocks);
        Assert.Equal(1L, statistics.Dropped);
    }

    private static byte[] ArrayOf(IMemoryOwner<byte> block)
    {
        Assert.True(MemoryMarshal.TryGetArray<byte>(block.Memory, out var segment));
        return segment.Array!;
    }
}
