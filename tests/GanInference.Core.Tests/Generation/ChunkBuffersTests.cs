using System.Buffers;
using GanInference.Core.Generation;

namespace GanInference.Core.Tests.Generation;

/// <summary>
/// A chunk buffer is rented by the request that infers and encodes a chunk and returned by whoever finishes with the
/// reply, usually on another thread; the next request, on yet another thread, must find it. <see cref="ArrayPool{T}.Shared"/>
/// keeps a returned array in the returning thread's own slot, so at 256² requests kept allocating fresh multi-megabyte
/// arrays (docs/performance.md, "Allocations"); <see cref="ChunkBuffers"/> must not.
/// </summary>
public sealed class ChunkBuffersTests
{
    // Sizes no other test rents (a 2^22- and a 2^23-element bucket), so nothing else takes the returned arrays meanwhile.
    private const int PixelLength = 3_000_001;
    private const int ByteLength = 5_000_001;

    [Fact]
    public void A_pixel_buffer_returned_on_one_thread_is_rented_again_on_another()
    {
        var (returned, rentedAgain) = RentReturnRent(ChunkBuffers.Pixels, PixelLength);

        Assert.Same(returned, rentedAgain);
    }

    [Fact]
    public void An_encoded_buffer_returned_on_one_thread_is_rented_again_on_another()
    {
        var (returned, rentedAgain) = RentReturnRent(ChunkBuffers.Encoded, ByteLength);

        Assert.Same(returned, rentedAgain);
    }

    [Fact]
    public void The_shared_pool_does_not_hand_a_buffer_returned_on_one_thread_to_another()
    {
        // Why the chunk buffers have their own pools: the same steps on ArrayPool<T>.Shared allocate a new array.
        var (returned, rentedAgain) = RentReturnRent(ArrayPool<float>.Shared, PixelLength);

        Assert.NotSame(returned, rentedAgain);
    }

    /// <summary>Rents on one thread, returns on a second, rents again on a third (each a new thread, as on the thread pool).</summary>
    private static (T[] Returned, T[] RentedAgain) RentReturnRent<T>(ArrayPool<T> pool, int length)
    {
        var first = OnNewThread(() => pool.Rent(length));
        OnNewThread(() =>
        {
            pool.Return(first);
            return first;
        });
        var again = OnNewThread(() => pool.Rent(length));
        OnNewThread(() =>
        {
            pool.Return(again);
            return again;
        });
        return (first, again);
    }

    private static TResult OnNewThread<TResult>(Func<TResult> work)
    {
        TResult result = default!;
        var thread = new Thread(() => result = work());
        thread.Start();
        thread.Join();
        return result;
    }
}
