using System.Buffers;
using System.Diagnostics.Metrics;
using GanInference.Core.Telemetry;
using GanInference.Server.Options;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Transport;

/// <summary>
/// Hands Kestrel's transports <see cref="LargeBlockMemoryPool"/>s of <c>Limits:TransportBlockBytes</c> blocks.
/// ASP.NET Core 10's socket transport takes its pools from the <see cref="IMemoryPoolFactory{T}"/> in DI (one pool
/// per I/O queue of each listener, TCP and Unix socket alike), and its pipes, and the HTTP/2 streams' pipes of the
/// connections on them, rent every segment from it. Registered only when the option is not 0
/// (<see cref="GanServer"/>); 0 keeps Kestrel's own 4 KiB pool.
/// </summary>
internal sealed class LargeBlockMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    /// <summary>Most bytes one pool keeps for reuse: a 16-image 256² RAW_U8 reply is 3 MiB, and a few in flight fit.</summary>
    public const int MaxRetainedBytesPerPool = 16 * 1024 * 1024;

    public LargeBlockMemoryPoolFactory(IOptions<ServerLimitsOptions> limits, IMeterFactory meterFactory)
    {
        BlockSize = limits.Value.TransportBlockBytes;
        if (!ServerLimitsOptions.IsValidTransportBlockSize(BlockSize) || BlockSize == 0)
        {
            // OptionsValidators refuses such a value at start, naming the key; this is the backstop.
            throw new ArgumentOutOfRangeException(nameof(limits), BlockSize, $"{ServerLimitsOptions.TransportBlockBytesKey} must be a power of two in {ServerLimitsOptions.MinTransportBlockBytes}..{ServerLimitsOptions.MaxTransportBlockBytes}");
        }

        var meter = meterFactory.Create(new MeterOptions(GanTelemetry.Name));
        meter.CreateObservableCounter("gan.transport.blocks.rented", () => Statistics.Rented, "{block}", "Blocks rented from the transport memory pools (Limits:TransportBlockBytes each): every pipe segment of every connection.");
        meter.CreateObservableCounter("gan.transport.blocks.allocated", () => Statistics.Allocated, "{block}", "Transport memory pool blocks allocated because none was free to reuse.");
        meter.CreateObservableCounter("gan.transport.blocks.dropped", () => Statistics.Dropped, "{block}", "Transport memory pool blocks returned and not kept (the pool held its most, or was disposed).");
    }

    /// <summary>Bytes of every block of every pool.</summary>
    public int BlockSize { get; }

    /// <summary>What all the pools of this factory did.</summary>
    public TransportPoolStatistics Statistics { get; } = new();

    /// <inheritdoc />
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        Statistics.OnPoolCreated();
        return new LargeBlockMemoryPool(BlockSize, MaxRetainedBytesPerPool / BlockSize, Statistics);
    }
}
