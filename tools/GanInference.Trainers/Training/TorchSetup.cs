using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>Process-wide libtorch settings for a reproducible run.</summary>
internal static class TorchSetup
{
    public static void Apply(ulong seed, int threads)
    {
        if (threads > 0)
        {
            set_num_threads(threads);
        }

        // Refuses to train on CPU kernels that compute wrong values (docs/training.md, "Wrong numbers from oneDNN").
        OneDnn.EnsureCorrect();

        // libtorch seeds are signed 64-bit; keep all 64 bits of ours.
        random.manual_seed(unchecked((long)seed));
    }
}
