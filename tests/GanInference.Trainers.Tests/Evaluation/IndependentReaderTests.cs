using GanInference.Trainers.Data;
using GanInference.Trainers.Evaluation;

namespace GanInference.Trainers.Tests.Evaluation;

/// <summary>The readers of <c>evaluate</c> that share nothing with our classifier: pixel-space k-NN and ImageNet ResNet-18 features.</summary>
public sealed class IndependentReaderTests
{
    private const int Area = MnistDataset.ImageSize * MnistDataset.ImageSize;

    [Fact]
    public async Task Nearest_neighbour_reader_reads_held_out_digits_by_a_vote_of_real_ones()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 200, testCount: 50, gzip: false);
        var train = await MnistDataset.LoadAsync(temp.Combine("data"), MnistSplit.Train, CancellationToken.None);
        var test = await MnistDataset.LoadAsync(temp.Combine("data"), MnistSplit.Test, CancellationToken.None);
        var references = Images(train);

        var read = NearestNeighbours.Read(Images(test), references, train.Labels, Area, classCount: 10);

        Assert.Equal(test.Labels.Select(l => (int)l), read);

        // The vote, not just the nearest: a query equal to a '3' whose four next neighbours are all '8's reads '8'.
        var query = references.AsSpan(3 * Area, Area).ToArray(); // training digit 3 has label 3 (labels are i % 10)
        var crowd = new float[5 * Area];
        query.CopyTo(crowd, 0);
        for (var i = 1; i < 5; i++)
        {
            query.Select(v => v + (0.01f * i)).ToArray().CopyTo(crowd, i * Area);
        }

        Assert.Equal([8], NearestNeighbours.Read(query, crowd, [3, 8, 8, 8, 8], Area, classCount: 10));
        Assert.Equal([3], NearestNeighbours.Read(query, crowd, [3, 8, 8, 8, 8], Area, classCount: 10, k: 1));
        Assert.Equal([3], NearestNeighbours.Read(query, crowd, [3, 8, 3, 8, 5], Area, classCount: 10, k: 4)); // 2–2 tie: the nearest class wins
        Assert.Throws<ArgumentException>(() => NearestNeighbours.Read(query, crowd, [3, 8], Area, classCount: 10));
    }

    [Fact]
    public async Task ResNet_features_separate_digits_of_different_classes_more_than_two_draws_of_one_class()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 400, testCount: 10, gzip: false);
        var train = await MnistDataset.LoadAsync(temp.Combine("data"), MnistSplit.Train, CancellationToken.None);
        var images = Images(train);
        float[] OfClass(int digit, int skip) => Enumerable.Range(0, train.Count).Where(i => train.Labels[i] == digit).Skip(skip).Take(20)
            .SelectMany(i => images.AsSpan(i * Area, Area).ToArray()).ToArray();

        using var resNet = new ResNetFeatures();
        var ones = resNet.Compute(OfClass(1, 0), MnistDataset.ImageSize, CancellationToken.None);
        var otherOnes = resNet.Compute(OfClass(1, 20), MnistDataset.ImageSize, CancellationToken.None);
        var sevens = resNet.Compute(OfClass(7, 0), MnistDataset.ImageSize, CancellationToken.None);

        Assert.Equal(20 * ResNetFeatures.Dimension, ones.Length);
        Assert.All(ones, f => Assert.True(float.IsFinite(f)));
        Assert.True(ones.Distinct().Count() > ResNetFeatures.Dimension, "features do not depend on the image");
        var same = FrechetDistance.Compute(ones, otherOnes, ResNetFeatures.Dimension);
        var different = FrechetDistance.Compute(ones, sevens, ResNetFeatures.Dimension);
        Assert.True(different > 2 * same, $"1s vs 7s {different}, 1s vs other 1s {same}");
    }

    private static float[] Images(MnistDataset data)
    {
        var images = new float[data.Count * Area];
        for (var i = 0; i < data.Count; i++)
        {
            data.CopyImage(i, images.AsSpan(i * Area, Area));
        }

        return images;
    }
}
