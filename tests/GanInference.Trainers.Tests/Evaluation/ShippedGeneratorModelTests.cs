using System.Text.Json;
using GanInference.Trainers.Data;
using GanInference.Trainers.Evaluation;

namespace GanInference.Trainers.Tests.Evaluation;

/// <summary>
/// The shipped <c>models/dcgan-mnist</c> and <c>models/cdcgan-mnist</c>: the figures of their manifests that need no
/// MNIST data (class shares of 1,000 seeds, and for cdcgan the share recognised as the requested label) are reproduced
/// from their own ONNX files through the shipped classifier, as <c>evaluate</c> computes them, and meet their bars.
/// Every other figure but the ResNet-18 ones (the Fréchet distances, the independent 5-NN reader's class shares,
/// nearest-neighbour distances, the readers' test accuracies) is recomputed by the evaluator on the committed copy of
/// the MNIST digits the export read (<c>Data/mnist</c>).
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
    public async Task The_shipped_generator_reproduces_every_figure_of_its_manifest_against_the_real_digits(string name)
    {
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(ShippedFiles.Model(name), "gan.json")));
        var provenance = manifest.RootElement.GetProperty("provenance");
        var metrics = provenance.GetProperty("metrics");

        // What export and evaluate compute, from the shipped ONNX file and the committed copy of the digits it read.
        var report = await new GeneratorEvaluator(ShippedFiles.Classifier, ShippedFiles.Mnist)
            .EvaluateAsync(Path.Combine(ShippedFiles.Model(name), "model.onnx"), metrics.GetProperty("evaluationSamples").GetInt32(), 0f, CancellationToken.None);

        var recomputed = report.ToMetrics();
        Assert.Contains("neighbourMinClassFraction", recomputed.Keys); // the independent reader's figures are among them
        foreach (var (figure, value) in recomputed)
        {
            Assert.True(metrics.TryGetProperty(figure, out var written), $"{name}: the manifest lacks {figure} ({value})");
            Assert.True(written.GetDouble() == value, $"{name}: {figure} is {written.GetDouble()} in the manifest, {value} recomputed");
        }

        // The ResNet-18 figures (evaluate --resnet, about 3,000 ResNet-18 passes: minutes) are written, not recomputed here.
        Assert.Equal(
            metrics.EnumerateObject().Select(m => m.Name).Where(n => !n.StartsWith("resNet", StringComparison.Ordinal)).Order(),
            recomputed.Keys.Order());
        Assert.True(metrics.TryGetProperty("resNetFrechetDistance", out _), $"{name}: no ResNet-18 Fréchet distance in the manifest");
        Assert.Equal(report.ClassFractions, provenance.GetProperty("classFractions").EnumerateArray().Select(v => v.GetDouble()));
        Assert.Equal(report.NeighbourClassFractions, provenance.GetProperty("neighbourClassFractions").EnumerateArray().Select(v => v.GetDouble()));
    }
}
