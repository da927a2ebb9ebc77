using System.Buffers;

namespace GanInference.Core.Generation;

/// <summary>
/// The pools of a chunk's large buffers: its inferred pixels and its encoded RAW replies (megabytes each at 256² and up).
/// <see cref="ArrayPool{T}.Shared"/> keeps such arrays in per-thread slots and trims them on full collections, so a
/// buffer returned on one thread (the reply's, after the transport has copied it) is not found when another thread
/// rents the next: measured at 256², fresh 4 and 16 MiB arrays kept being allocated on the large object heap, most of
/// the unary path's 52 KB per image (docs/performance.md, "Allocations"). These pools have no per-thread slots and never trim: a returned buffer is
/// found by the next renter on any thread. They keep at most <see cref="ArraysPerSize"/> arrays of each power-of-two
/// size, which is no more than the most that were in use at once.
/// </summary>
internal static class ChunkBuffers
{
    /// <summary>Arrays kept per size: enough for every chunk in flight under the default batching limits.</summary>
    public const int ArraysPerSize = 32;

    // The largest the configurable pool supports (2^30 elements); larger requests are refused earlier by the limits.
    private const int MaxLength = 1 << 30;

    /// <summary>Inferred pixels, C·H·W floats per image.</summary>
    public static ArrayPool<float> Pixels { get; } = ArrayPool<float>.Create(MaxLength, ArraysPerSize);

    /// <summary>Encoded RAW images, one slice per image.</summary>
    public static ArrayPool<byte> Encoded { get; } = ArrayPool<byte>.Create(MaxLength, ArraysPerSize);
}
