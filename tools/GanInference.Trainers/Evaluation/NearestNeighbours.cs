using static TorchSharp.torch;

namespace GanInference.Trainers.Evaluation;

/// <summary>
/// Pixel-space nearest neighbours among real digits: distances for the memorisation check, and an independent digit
/// reader (k-nearest-neighbour vote) that shares nothing with our classifier or training code.
/// </summary>
public static class NearestNeighbours
{
    /// <summary>Neighbours that vote in <see cref="Read"/>.</summary>
    public const int ReaderNeighbours = 5;

    private const int Chunk = 256;

    /// <summary>For each query image, the Euclidean distance (pixels in [-1, 1]) to its nearest reference image.</summary>
    public static float[] Distances(float[] queries, float[] references, int imageArea)
    {
        using var scope = NewDisposeScope();
        var q = tensor(queries, [queries.Length / imageArea, imageArea]);
        var r = tensor(references, [references.Length / imageArea, imageArea]);
        var nearest = new float[q.shape[0]];
        for (long start = 0; start < q.shape[0]; start += Chunk)
        {
            var length = Math.Min(Chunk, q.shape[0] - start);
            var distances = cdist(q.narrow(0, start, length), r);
            distances.min(1).values.data<float>().CopyTo(nearest.AsSpan((int)start, (int)length));
        }

        return nearest;
    }

    /// <summary>
    /// The digit each query image shows by a vote of its <paramref name="k"/> nearest reference images (Euclidean, pixel
    /// space); a tie goes to the tied class whose nearest member is closest.
    /// </summary>
    public static int[] Read(float[] queries, float[] references, IReadOnlyList<byte> referenceLabels, int imageArea, int classCount, int k = ReaderNeighbours)
    {
        var referenceCount = references.Length / imageArea;
        if (referenceLabels.Count != referenceCount || k < 1 || k > referenceCount)
        {
            throw new ArgumentException($"{referenceLabels.Count} labels for {referenceCount} reference images, k = {k}.");
        }

        using var scope = NewDisposeScope();
        var q = tensor(queries, [queries.Length / imageArea, imageArea]);
        var r = tensor(references, [referenceCount, imageArea]);
        var labels = new int[q.shape[0]];
        var votes = new int[classCount];
        for (long start = 0; start < q.shape[0]; start += Chunk)
        {
            var length = Math.Min(Chunk, q.shape[0] - start);
            var nearest = cdist(q.narrow(0, start, length), r).topk(k, dim: 1, largest: false, sorted: true).indexes.data<long>().ToArray();
            for (var i = 0; i < length; i++)
            {
                Array.Clear(votes);
                var best = -1;
                for (var j = 0; j < k; j++)
                {
                    // Neighbours come nearest first, so a class only overtakes with strictly more votes.
                    var label = referenceLabels[(int)nearest[(i * k) + j]];
                    votes[label]++;
                    if (best < 0 || votes[label] > votes[best])
                    {
                        best = label;
                    }
                }

                labels[start + i] = best;
            }
        }

        return labels;
    }
}
