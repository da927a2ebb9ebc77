using System.Runtime;

namespace GanInference.Trainers.Training;

/// <summary>
/// Runs one training step with garbage collection held off. TorchSharp 0.107 passes implicit
/// Scalars (the alpha of every tensor + and −) to libtorch by handle without keeping the managed
/// object alive, so a GC during the native call can finalize the Scalar it is reading. Steps that
/// allocate a lot of managed memory (the StackGAN data is painted per batch) hit that race often
/// enough to crash ("Expected false to be true" from c10::Scalar) or, worse, to compute with a freed
/// value. Collections then happen between steps, where no Scalar is in flight. Every trainer's step
/// loop runs inside one.
/// </summary>
internal readonly struct GcQuietSection : IDisposable
{
    private const long Budget = 128L << 20;
    private readonly bool started;

    private GcQuietSection(bool started) => this.started = started;

    public static GcQuietSection Enter()
    {
        try
        {
            return new GcQuietSection(GC.TryStartNoGCRegion(Budget));
        }
        catch (InvalidOperationException)
        {
            return new GcQuietSection(false); // already inside one
        }
    }

    public void Dispose()
    {
        // A step that outgrew the budget has already ended the region with a collection.
        if (started && GCSettings.LatencyMode == GCLatencyMode.NoGCRegion)
        {
            GC.EndNoGCRegion();
        }
    }
}
