using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Export;

/// <summary>Whole networks with random weights: TorchSharp eval forward vs the exported ONNX in ONNX Runtime.</summary>
public sealed class GeneratorParityTests
{
    private static readonly GanArchitecture Small = new() { GeneratorWidth = 8, DiscriminatorWidth = 8, LabelEmbeddingDimension = 6 };

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Dcgan_generator_matches_TorchSharp(int batch)
    {
        random.manual_seed(7);
        var architecture = Small with { Kind = ModelKind.Dcgan };
        using var generator = new DcganGenerator(architecture);
        OnnxParity.RandomizeNormalization(generator);
        var model = new OnnxModelExporter().ExportGenerator(generator, architecture);

        using var z = randn(batch, architecture.LatentDimension);
        using var expected = Forward(() => generator.forward(z));
        var actual = OnnxParity.Run(model, (OnnxModelExporter.LatentInput, z))[OnnxModelExporter.ImageOutput];

        Assert.Equal([batch, 1, 28, 28], expected.shape);
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Conditional_generator_matches_TorchSharp(int batch)
    {
        random.manual_seed(8);
        var architecture = Small with { Kind = ModelKind.Cdcgan };
        using var generator = new ConditionalDcganGenerator(architecture);
        OnnxParity.RandomizeNormalization(generator);
        var model = new OnnxModelExporter().ExportGenerator(generator, architecture);

        using var z = randn(batch, architecture.LatentDimension);
        using var labels = randint(0, 10, [batch], dtype: ScalarType.Int64);
        using var expected = Forward(() => generator.forward(z, labels));
        var actual = OnnxParity.Run(model, (OnnxModelExporter.LatentInput, z), (OnnxModelExporter.LabelInput, labels))[OnnxModelExporter.ImageOutput];

        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Latent_class_generator_takes_z_alone_and_matches_TorchSharp(int batch)
    {
        random.manual_seed(10);
        var architecture = Small with { Kind = ModelKind.Dcgan, LatentClasses = true };
        using var generator = new ConditionalDcganGenerator(architecture);
        OnnxParity.RandomizeNormalization(generator);
        var model = new OnnxModelExporter().ExportGenerator(generator, architecture);

        Assert.Equal([OnnxModelExporter.LatentInput], model.Graph.Input.Select(i => i.Name));
        using var z = randn(batch, architecture.LatentDimension);
        using var expected = Forward(() => generator.Generate(z, null));
        var actual = OnnxParity.Run(model, (OnnxModelExporter.LatentInput, z))[OnnxModelExporter.ImageOutput];

        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Classifier_matches_TorchSharp(int batch)
    {
        random.manual_seed(9);
        using var classifier = new MnistClassifier(new GanArchitecture { Kind = ModelKind.Classifier });
        var model = new OnnxModelExporter().ExportClassifier(classifier, 10);

        using var images = rand(batch, 1, 28, 28) * 2 - 1;
        using var expected = Forward(() => classifier.forward(images));
        var outputs = OnnxParity.Run(model, (OnnxModelExporter.ClassifierInput, images));

        Assert.InRange(OnnxParity.MaxAbsDifference(expected, outputs[OnnxModelExporter.LogitsOutput]), 0f, OnnxParity.Tolerance);
        // The features are the Fréchet space of `evaluate`: their values, not just their count, must match.
        using var features = Forward(() => classifier.Features.forward(images));
        Assert.Equal(new long[] { batch, MnistClassifier.FeatureDimension }, features.shape);
        Assert.True(features.abs().max().item<float>() > 1e-3f); // not all zero (ReLU features of random weights)
        Assert.InRange(OnnxParity.MaxAbsDifference(features, outputs[OnnxModelExporter.FeaturesOutput]), 0f, OnnxParity.Tolerance);
    }

    private static Tensor Forward(Func<Tensor> forward)
    {
        using var _ = no_grad();
        return forward();
    }
}
