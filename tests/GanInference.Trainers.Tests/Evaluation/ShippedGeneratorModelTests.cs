using System.Text.Json;
using GanInference.Trainers.Data;
using GanInference.Trainers.Evaluation;

namespace GanInference.Trainers.Tests.Evaluation;

/// <summary>
/// The shipped <c>models/dcgan-mnist</c> and <c>models/cdcgan-mnist</c>: the figures of their manifests that need no
/// MNIST data (class shares of 1,000 seeds, and for cdcgan the share recognised as the requested label) are reproduced
/// from their own ONNX files through the shipped classifier, as <c>evaluate</c> computes them, and meet their bars.
/// The Fréchet distance (against the 1,000 real test digits) and the classifier's test accuracy are recomputed on the
/// copy of the test split in <c>Data/mnist-heldout</c>; the figures against the 9,000 training digits (the real-vs-real
/// baseline, nearest-neighbour distances) need <c>../shared/data/mnist</c>'s training split, which the repository does
/// not hold.
/// </summary>
public sealed class ShippedGeneratorModelTests
{
    [Theory]
    [InlineData("dcgan-mnist")]
    [InlineData("cdcgan-mnist")]
    public void The_shipped_generator_reproduces_its_manifest_class_figures(string name)
    {
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(ShippedFiles.Model(name), "gan.json")));
        var metrics = manifest.RootElement.GetProperty("provenance").GetProperty("metrics");
        var count = metrics.GetProperty("evaluationSamples").GetInt32();

        using var generator = new OnnxGeneratorSession(Path.Combine(ShippedFiles.Model(name), "model.onnx"));
        using var classifier = new OnnxClassifierSession(ShippedFiles.Classifier);
        var seeds = Enumerable.Range(0, count).Select(i => (ulong)i).ToArray();
        var requested = generator.IsConditional ? seeds.Select(s => (long)(s % (ulong)classifier.ClassCount)).ToArray() : null;
        var (predicted, _) = classifier.Classify(generator.Generate(seeds, requested, 0f, CancellationToken.None), CancellationToken.None);
        var shares = Enumerable.Range(0, classifier.ClassCount).Select(c => predicted.Count(p => p == c) / (double)count).ToArray();

        Assert.Equal(1000, count);
        Assert.Equal(metrics.GetProperty("minClassFraction").GetDouble(), shares.Min(), 3);
        Assert.Equal(metrics.GetProperty("maxClassFraction").GetDouble(), shares.Max(), 3);
        Assert.All(shares, s => Assert.InRange(s, 0.05, 0.15));
        if (requested is not null)
        {
            var accuracy = predicted.Where((p, i) => p == requested[i]).Count() / (double)count;
            Assert.Equal(metrics.GetProperty("classifierAccuracy").GetDouble(), accuracy, 3);
            Assert.InRange(accuracy, 0.90, 1.0);
        }
        else
        {
            Assert.False(metrics.TryGetProperty("classifierAccuracy", out _));
        }
    }

    [Theory]
    [InlineData("dcgan-mnist")]
    [InlineData("cdcgan-mnist")]
    public async Task The_shipped_generator_reproduces_its_manifest_frechet_distance_against_the_test_digits(string name)
    {
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(ShippedFiles.Model(name), "gan.json")));
        var metrics = manifest.RootElement.GetProperty("provenance").GetProperty("metrics");
        var count = metrics.GetProperty("evaluationSamples").GetInt32();

        using var generator = new OnnxGeneratorSession(Path.Combine(ShippedFiles.Model(name), "model.onnx"));
        using var classifier = new OnnxClassifierSession(ShippedFiles.Classifier);
        var test = await MnistDataset.LoadAsync(ShippedFiles.TestDigits, MnistSplit.Test, CancellationToken.None);
        var seeds = Enumerable.Range(0, count).Select(i => (ulong)i).ToArray();
        var requested = generator.IsConditional ? seeds.Select(s => (long)(s % (ulong)classifier.ClassCount)).ToArray() : null;
        var (_, sampleFeatures) = classifier.Classify(generator.Generate(seeds, requested, 0f, CancellationToken.None), CancellationToken.None);
        var testImages = new float[test.Count * MnistDataset.ImageSize * MnistDataset.ImageSize];
        for (var i = 0; i < test.Count; i++)
        {
            test.CopyImage(i, testImages.AsSpan(i * MnistDataset.ImageSize * MnistDataset.ImageSize, MnistDataset.ImageSize * MnistDataset.ImageSize));
        }

        var (testPredicted, testFeatures) = classifier.Classify(testImages, CancellationToken.None);
        var frechet = FrechetDistance.Compute(sampleFeatures, testFeatures, classifier.FeatureDimension);
        var accuracy = testPredicted.Where((p, i) => p == test.Labels[i]).Count() / (double)test.Count;

        Assert.Equal(count, test.Count);
        Assert.Equal(metrics.GetProperty("frechetDistance").GetDouble(), Math.Round(frechet, 3));
        Assert.Equal(metrics.GetProperty("evaluationClassifierTestAccuracy").GetDouble(), Math.Round(accuracy, 4));
    }
}
