using GanInference.Trainers.Data;

namespace GanInference.Trainers.Evaluation;

/// <summary>
/// Judges an exported generator the way a user meets it: seeds → latents (determinism contract)
/// → ONNX Runtime → the exported MNIST classifier. Reports the class histogram, conditional
/// accuracy, a Fréchet distance with a real-vs-real baseline, and a memorisation check; beside them an independent
/// reader (a k-nearest-neighbour vote among the real training digits, <see cref="NearestNeighbours.Read"/>) and, when
/// <paramref name="resNetFrechet"/> is set, the Fréchet distances in ImageNet ResNet-18 features (<see cref="ResNetFeatures"/>).
/// </summary>
public sealed class GeneratorEvaluator(string classifierPath, string dataDirectory, bool resNetFrechet = false, string? resNetModels = null)
{
    private const int ImageArea = MnistDataset.ImageSize * MnistDataset.ImageSize;

    /// <summary>Figures of <paramref name="sampleCount"/> images from seeds <paramref name="firstSeed"/>.. (a seed set kept apart for selection, or the one reported).</summary>
    public async Task<EvaluationReport> EvaluateAsync(string generatorPath, int sampleCount, float truncation, CancellationToken cancellationToken, ulong firstSeed = 0)
    {
        if (sampleCount < 10)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleCount), sampleCount, "--samples must be at least 10.");
        }

        var train = await MnistDataset.LoadAsync(dataDirectory, MnistSplit.Train, cancellationToken).ConfigureAwait(false);
        var test = await MnistDataset.LoadAsync(dataDirectory, MnistSplit.Test, cancellationToken).ConfigureAwait(false);
        using var classifier = new OnnxClassifierSession(classifierPath);
        using var generator = new OnnxGeneratorSession(generatorPath);

        var seeds = Enumerable.Range(0, sampleCount).Select(i => firstSeed + (ulong)i).ToArray();
        var requested = generator.IsConditional ? seeds.Select(s => (long)(s % (ulong)classifier.ClassCount)).ToArray() : null;
        var samples = generator.Generate(seeds, requested, truncation, cancellationToken);
        var (predicted, sampleFeatures) = classifier.Classify(samples, cancellationToken);

        var testImages = Images(test, test.Count);
        var (testPredicted, testFeatures) = classifier.Classify(testImages, cancellationToken);
        var trainImages = Images(train, train.Count);
        // The baseline compares equal-sized sets, because the Fréchet distance is biased by sample size.
        var baselineCount = Math.Min(train.Count, Math.Min(sampleCount, test.Count));
        var (_, trainFeatures) = classifier.Classify(trainImages.AsMemory(0, baselineCount * ImageArea), cancellationToken);

        var neighbourRead = NearestNeighbours.Read(samples, trainImages, train.Labels, ImageArea, classifier.ClassCount);
        var neighbourTest = NearestNeighbours.Read(testImages, trainImages, train.Labels, ImageArea, classifier.ClassCount);
        (double Samples, double RealVsReal)? resNet = null;
        if (resNetFrechet)
        {
            using var features = new ResNetFeatures(resNetModels);
            var sampleResNet = features.Compute(samples, MnistDataset.ImageSize, cancellationToken);
            var testResNet = features.Compute(testImages.AsSpan(0, Math.Min(sampleCount, test.Count) * ImageArea), MnistDataset.ImageSize, cancellationToken);
            var trainResNet = features.Compute(trainImages.AsSpan(0, baselineCount * ImageArea), MnistDataset.ImageSize, cancellationToken);
            resNet = (
                FrechetDistance.Compute(sampleResNet, testResNet, ResNetFeatures.Dimension),
                FrechetDistance.Compute(trainResNet, TakeRows(testResNet, baselineCount, ResNetFeatures.Dimension), ResNetFeatures.Dimension));
        }

        var sampleNearest = NearestNeighbours.Distances(samples, trainImages, ImageArea);
        var testNearest = NearestNeighbours.Distances(testImages, trainImages, ImageArea);
        var copyThreshold = Percentile(testNearest, 0.01);

        var histogram = new double[classifier.ClassCount];
        foreach (var p in predicted)
        {
            histogram[p] += 1.0 / predicted.Length;
        }

        return new EvaluationReport
        {
            SampleCount = sampleCount,
            FirstSeed = firstSeed,
            Truncation = truncation,
            ClassFractions = histogram.Select(h => Math.Round(h, 4)).ToArray(),
            ClassifierAccuracy = requested is null ? null : predicted.Where((p, i) => p == requested[i]).Count() / (double)sampleCount,
            FrechetDistance = FrechetDistance.Compute(sampleFeatures, TakeRows(testFeatures, Math.Min(sampleCount, test.Count), classifier.FeatureDimension), classifier.FeatureDimension),
            RealVsRealFrechetDistance = FrechetDistance.Compute(trainFeatures, TakeRows(testFeatures, baselineCount, classifier.FeatureDimension), classifier.FeatureDimension),
            ClassifierTestAccuracy = testPredicted.Where((p, i) => p == test.Labels[i]).Count() / (double)test.Count,
            SampleNearestTrainDistance = sampleNearest.Average(),
            TestNearestTrainDistance = testNearest.Average(),
            NearCopyFraction = sampleNearest.Count(d => d < copyThreshold) / (double)sampleNearest.Length,
            NeighbourClassFractions = Histogram(neighbourRead, classifier.ClassCount),
            NeighbourAccuracy = requested is null ? null : neighbourRead.Where((p, i) => p == requested[i]).Count() / (double)sampleCount,
            NeighbourTestAccuracy = neighbourTest.Where((p, i) => p == test.Labels[i]).Count() / (double)test.Count,
            ResNetFrechetDistance = resNet?.Samples,
            ResNetRealVsRealFrechetDistance = resNet?.RealVsReal,
        };
    }

    private static double[] Histogram(int[] predicted, int classCount)
    {
        var histogram = new double[classCount];
        foreach (var p in predicted)
        {
            histogram[p] += 1.0 / predicted.Length;
        }

        return histogram.Select(h => Math.Round(h, 4)).ToArray();
    }

    private static float[] Images(MnistDataset data, int count)
    {
        var images = new float[count * ImageArea];
        for (var i = 0; i < count; i++)
        {
            data.CopyImage(i, images.AsSpan(i * ImageArea, ImageArea));
        }

        return images;
    }

    private static float[] TakeRows(float[] rows, int count, int dimension) => rows.AsSpan(0, count * dimension).ToArray();

    private static double Percentile(float[] values, double fraction)
    {
        var sorted = values.Order().ToArray();
        return sorted[(int)Math.Floor(fraction * (sorted.Length - 1))];
    }
}
