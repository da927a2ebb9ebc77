using GanInference.Onnx;
using GanInference.Onnx.Proto;
using GanInference.Trainers.Data;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Export;

/// <summary>The image-to-image generators and the layers they add: TorchSharp eval forward vs ONNX Runtime, batch 1 and 5.</summary>
public sealed class ImageToImageParityTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Unet_with_skips_and_dropout_matches_TorchSharp_in_eval_mode(int batch)
    {
        random.manual_seed(11);
        using var generator = new UnetGenerator(1, 1, width: 4);
        OnnxParity.RandomizeNormalization(generator);
        var model = new ImageToImageExporter().Export(generator, 1, 1, "test");

        AssertParity(generator, model, channels: 1, batch);
        var ops = model.Graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(UnetGenerator.Levels - 1, ops.Count(op => op == "Concat"));
        Assert.Contains("LeakyRelu", ops);
        Assert.Equal(UnetGenerator.Levels, ops.Count(op => op == "ConvTranspose"));
        Assert.DoesNotContain("Dropout", ops);
    }

    [Fact]
    public void Unet_has_dropout_in_training_and_none_in_eval()
    {
        random.manual_seed(12);
        using var generator = new UnetGenerator(1, 1, width: 4);
        Assert.Equal(2, generator.modules().Count(m => m is TorchSharp.Modules.Dropout));
        using var input = randn(2, 1, DigitImaging.Size, DigitImaging.Size);
        using (no_grad())
        {
            generator.train();
            using var first = generator.forward(input);
            using var second = generator.forward(input);
            Assert.False(first.allclose(second), "dropout should make training-mode outputs differ");
            generator.eval();
            using var third = generator.forward(input);
            using var fourth = generator.forward(input);
            Assert.True(third.allclose(fourth, rtol: 0, atol: 0), "eval mode must be deterministic");
        }
    }

    [Theory]
    [InlineData(1, 3, 1)]
    [InlineData(5, 3, 1)]
    [InlineData(1, 1, 3)]
    [InlineData(5, 1, 3)]
    public void Resnet_generator_with_instance_norm_and_reflection_padding_matches_TorchSharp(int batch, int inputChannels, int outputChannels)
    {
        random.manual_seed(13);
        using var generator = new ResnetGenerator(inputChannels, outputChannels, width: 4, residualBlocks: 2);
        var model = new ImageToImageExporter().Export(generator, inputChannels, outputChannels, "test");

        AssertParity(generator, model, inputChannels, batch);
        var ops = model.Graph.Node.Select(n => n.OpType).ToList();
        Assert.Equal(2 + 4, ops.Count(op => op == "Pad")); // head + tail, two per residual block
        Assert.Equal(3 + 2 + (2 * 2), ops.Count(op => op == "InstanceNormalization")); // head, tail, blocks
        Assert.Equal(2, ops.Count(op => op == "Add"));
        var pad = model.Graph.Node.First(n => n.OpType == "Pad");
        Assert.Equal("reflect", pad.Attribute.Single(a => a.Name == "mode").S.ToStringUtf8());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Non_affine_instance_norm_matches_TorchSharp(int batch)
    {
        random.manual_seed(14);
        using var norm = nn.InstanceNorm2d(3);
        norm.eval();
        using var input = randn(batch, 3, 7, 7) * 3 + 1;
        using var expected = norm.forward(input);
        var graph = new OnnxGraphBuilder();
        var x = graph.Input("x", OnnxType.Float, Dim.Batch, 3, 7, 7);
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());
        graph.Node("Identity", [context.Export(norm, "norm", x)], "y");
        graph.Output("y", OnnxType.Float, Dim.Batch, 3, 7, 7);

        var actual = OnnxParity.Run(graph.ToModel(), ("x", input))["y"];
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    private static void AssertParity(nn.Module<Tensor, Tensor> generator, ModelProto model, int channels, int batch)
    {
        generator.eval();
        using var input = rand(batch, channels, DigitImaging.Size, DigitImaging.Size) * 2 - 1;
        using var expected = ForwardWithoutGradients(generator, input);
        var actual = OnnxParity.Run(model, (ImageToImageExporter.ImageInput, input))[ImageToImageExporter.ImageOutput];
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    private static Tensor ForwardWithoutGradients(nn.Module<Tensor, Tensor> module, Tensor input)
    {
        using var _ = no_grad();
        return module.forward(input);
    }
}
