using GanInference.Onnx;
using GanInference.Trainers.Export;
using TorchSharp;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Export;

/// <summary>Each registered layer: TorchSharp eval forward vs ONNX Runtime, batch 1 and 5.</summary>
public sealed class LayerParityTests
{
    /// <summary>A layer under test and the shape of one input item (without batch).</summary>
    private sealed record LayerCase(Func<nn.Module> Create, long[] ItemShape, bool IntegerInput = false);

    private static readonly Dictionary<string, LayerCase> Cases = new()
    {
        ["Linear"] = new(() => nn.Linear(12, 7), [12]),
        ["LinearWithoutBias"] = new(() => nn.Linear(12, 7, hasBias: false), [12]),
        ["LinearOnSequence"] = new(() => nn.Linear(12, 7), [5, 12]),
        ["LinearOnImageRows"] = new(() => nn.Linear(6, 3, hasBias: false), [2, 4, 6]),
        ["Conv2d"] = new(() => nn.Conv2d(3, 4, kernel_size: 3, padding: 1), [3, 8, 8]),
        ["Conv2dStrided"] = new(() => nn.Conv2d(3, 5, kernel_size: 4, stride: 2, padding: 1, bias: false), [3, 8, 8]),
        ["Conv2dDilatedGrouped"] = new(() => nn.Conv2d(4, 6, kernel_size: 3, dilation: 2, groups: 2, padding: 2), [4, 9, 9]),
        ["Conv2dReflectPadding"] = new(() => nn.Conv2d(2, 3, kernel_size: 3, padding: 1, padding_mode: PaddingModes.Reflect), [2, 6, 6]),
        ["Conv2dSamePadding"] = new(() => nn.Conv2d(2, 3, kernel_size: 4, padding: Padding.Same), [2, 7, 7]),
        ["ConvTranspose2dFromVector"] = new(() => nn.ConvTranspose2d(6, 4, kernel_size: 7), [6, 1, 1]),
        ["ConvTranspose2dUpsampling"] = new(() => nn.ConvTranspose2d(4, 3, kernel_size: 4, stride: 2, padding: 1, bias: false), [4, 5, 5]),
        ["ConvTranspose2dOutputPadding"] = new(() => nn.ConvTranspose2d(3, 2, kernel_size: 3, stride: 2, padding: 1, output_padding: 1), [3, 4, 4]),
        ["BatchNorm2d"] = new(() => nn.BatchNorm2d(4), [4, 6, 6]),
        ["InstanceNorm2d"] = new(() => nn.InstanceNorm2d(4, affine: true), [4, 6, 6]),
        ["ReflectionPad2d"] = new(() => nn.ReflectionPad2d(2), [2, 5, 5]),
        ["ReflectionPad2dAsymmetric"] = new(() => nn.ReflectionPad2d((1L, 3L, 0L, 2L)), [2, 5, 6]),
        ["InstanceNorm2dNoAffine"] = new(() => nn.InstanceNorm2d(3), [3, 5, 5]),
        ["ReLU"] = new(() => nn.ReLU(), [3, 4, 4]),
        ["LeakyReLU"] = new(() => nn.LeakyReLU(0.2), [3, 4, 4]),
        ["Tanh"] = new(() => nn.Tanh(), [3, 4, 4]),
        ["Sigmoid"] = new(() => nn.Sigmoid(), [3, 4, 4]),
        ["Dropout"] = new(() => nn.Dropout(0.5), [3, 4, 4]),
        ["Flatten"] = new(() => nn.Flatten(), [3, 4, 4]),
        ["MaxPool2d"] = new(() => nn.MaxPool2d(2), [2, 8, 8]),
        ["UpsampleNearest"] = new(() => nn.Upsample(scale_factor: [2, 2], mode: UpsampleMode.Nearest), [2, 4, 4]),
        ["Embedding"] = new(() => nn.Embedding(10, 6), [], IntegerInput: true),
        ["Sequential"] = new(() => nn.Sequential(("conv", nn.Conv2d(2, 4, kernel_size: 3, padding: 1)), ("norm", nn.BatchNorm2d(4)), ("act", nn.LeakyReLU(0.2))), [2, 6, 6]),
    };

    public static TheoryData<string, int> LayerCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var name in Cases.Keys)
        {
            data.Add(name, 1);
            data.Add(name, 5);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LayerCases))]
    public void Layer_matches_TorchSharp(string name, int batch)
    {
        var layerCase = Cases[name];
        random.manual_seed(42);
        using var layer = layerCase.Create();
        OnnxParity.RandomizeNormalization(layer);
        layer.eval();

        long[] shape = [batch, .. layerCase.ItemShape];
        using var input = layerCase.IntegerInput ? randint(0, 10, shape, dtype: ScalarType.Int64) : randn(shape);
        using var expected = Forward(layer, input);

        var graph = new OnnxGraphBuilder();
        var inputDims = new[] { Dim.Batch }.Concat(layerCase.ItemShape.Select(d => (Dim)d)).ToArray();
        var x = graph.Input("x", layerCase.IntegerInput ? OnnxType.Int64 : OnnxType.Float, inputDims);
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());
        graph.Node("Identity", [context.Export(layer, "layer", x)], "y");
        var outputDims = new[] { Dim.Batch }.Concat(expected.shape.Skip(1).Select(d => (Dim)d)).ToArray();
        graph.Output("y", OnnxType.Float, outputDims);

        var actual = OnnxParity.Run(graph.ToModel(), ("x", input))["y"];
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, actual), 0f, OnnxParity.Tolerance);
    }

    [Fact]
    public void Every_registered_layer_type_has_a_parity_case()
    {
        var tested = Cases.Values.Select(c =>
        {
            using var module = c.Create();
            return module.GetType();
        }).ToHashSet();
        var missing = ModuleExporterRegistry.CreateDefault().SupportedTypes.Where(t => !tested.Contains(t)).Select(t => t.Name);
        Assert.Empty(missing);
    }

    [Fact]
    public void BatchNorm_in_training_mode_is_refused()
    {
        using var model = nn.Sequential(("conv", nn.Conv2d(1, 2, kernel_size: 3)), ("norm", nn.BatchNorm2d(2)));
        model.train();
        var graph = new OnnxGraphBuilder();
        var x = graph.Input("x", OnnxType.Float, Dim.Batch, 1, 8, 8);
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());

        var error = Assert.Throws<UnsupportedLayerException>(() => context.Export(model, "body", x));
        Assert.Equal("body.norm", error.LayerPath);
        Assert.Contains("training mode", error.Message, StringComparison.Ordinal);
        Assert.Contains("eval()", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1L)]
    [InlineData(-10L)]
    [InlineData(10L)]
    public void Embedding_index_outside_the_table_fails_in_ONNX_Runtime_as_in_TorchSharp(long index)
    {
        random.manual_seed(42);
        using var embedding = nn.Embedding(10, 6);
        embedding.eval();
        using var indices = tensor(new long[] { 3, index, 0 });
        Assert.ThrowsAny<Exception>(() => Forward(embedding, indices));

        var graph = new OnnxGraphBuilder();
        var x = graph.Input("x", OnnxType.Int64, Dim.Batch);
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());
        graph.Node("Identity", [context.Export(embedding, "embedding", x)], "y");
        graph.Output("y", OnnxType.Float, Dim.Batch, 6);
        var model = graph.ToModel();

        // Rows inside the table still work, and an index out of it fails the run instead of wrapping to row n − k.
        using var valid = tensor(new long[] { 3, 9, 0 });
        using var expected = Forward(embedding, valid);
        Assert.InRange(OnnxParity.MaxAbsDifference(expected, OnnxParity.Run(model, ("x", valid))["y"]), 0f, OnnxParity.Tolerance);
        var error = Assert.Throws<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(() => OnnxParity.Run(model, ("x", indices)));
        Assert.Contains("out of", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void Unsupported_layer_is_an_error_naming_its_type_and_place()
    {
        using var model = nn.Sequential(("conv", nn.Conv2d(1, 2, kernel_size: 3)), ("act", nn.GELU()));
        var graph = new OnnxGraphBuilder();
        var x = graph.Input("x", OnnxType.Float, Dim.Batch, 1, 8, 8);
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());

        var error = Assert.Throws<UnsupportedLayerException>(() => context.Export(model, "body", x));
        Assert.Equal("GELU", error.LayerType.Name);
        Assert.Equal("body.act", error.LayerPath);
        Assert.Contains("TorchSharp.Modules.GELU", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unsupported_setting_of_a_supported_layer_is_an_error_naming_it()
    {
        using var upsample = nn.Upsample(scale_factor: [2, 2], mode: UpsampleMode.Bilinear);
        var graph = new OnnxGraphBuilder();
        var x = graph.Input("x", OnnxType.Float, Dim.Batch, 1, 4, 4);
        var context = new OnnxExportContext(graph, ModuleExporterRegistry.CreateDefault());

        var error = Assert.Throws<UnsupportedLayerException>(() => context.Export(upsample, "up", x));
        Assert.Contains("nearest", error.Message, StringComparison.Ordinal);
        Assert.Contains("Upsample", error.Message, StringComparison.Ordinal);
    }

    private static Tensor Forward(nn.Module layer, Tensor input)
    {
        using var _ = no_grad();
        return ((nn.Module<Tensor, Tensor>)layer).forward(input);
    }
}
