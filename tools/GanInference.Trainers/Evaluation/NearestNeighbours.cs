using static TorchSharp.torch;

namespace GanInference.Trainers.Evaluation;

/// <summary>Pixel-space nearest-neighbour distances, for the memorisation check.</summary>
public static class NearestNeighbours
{
    /// <summary>For each query image, the Euclidean distance (pixels in [-1, 1]) to its nearest reference image.</summary>
    public static float[] Distances(float[] queries, float[] references, int imageArea)
    {
        using var scope = NewDisposeScope();
        var q = tensor(queries, [queries.Length / imageArea, imageArea]);
        var r = tensor(references, [references.Length / imageArea, imageArea]);
        var nearest = new float[q.shape[0]];
        const int Chunk = 256;
        for (long start = 0; start < q.shape[0]; start += Chunk)
        {
            var length = Math.Min(Chunk, q.shape[0] - start);
            var distances = cdist(q.narrow(0, start, length), r);
            distances.min(1).values.data<float>().CopyTo(nearest.AsSpan((int)start, (int)length));
        }

        return nearest;
    }
}
