using GanInference.Onnx;
using GanInference.Onnx.Proto;
using GanInference.Trainers.Models;
using static TorchSharp.torch;

namespace GanInference.Trainers.Export;

/// <summary>
/// Whole-model ONNX export with the server's I/O convention: generators take <c>z</c> float32
/// [batch, D] (and <c>label</c> int64 [batch]) and produce <c>image</c> float32 [batch, 1, 28, 28]
/// in [-1, 1]; the classifier takes <c>image</c> and produces <c>logits</c> [batch, 10] and
/// <c>features</c> [batch, 128]. Networks are exported in eval mode.
/// </summary>
public sealed class OnnxModelExporter(ModuleExporterRegistry registry)
{
    public const string LatentInput = "z";
    public const string LabelInput = "label";
    public const string ImageOutput = "image";
    public const string ClassifierInput = "image";
    public const string LogitsOutput = "logits";
    public const string FeaturesOutput = "features";
    public const int ImageSize = 28;

    public OnnxModelExporter()
        : this(ModuleExporterRegistry.CreateDefault())
    {
    }

    public ModelProto ExportGenerator(IGenerator generator, GanArchitecture architecture, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (generator.Module is not IOnnxExportable exportable)
        {
            throw new UnsupportedLayerException(generator.Module.GetType(), "generator", "the generator does not describe its forward for ONNX (IOnnxExportable)");
        }

        generator.Module.eval();
        using var _ = no_grad();
        var graph = new OnnxGraphBuilder(architecture.Kind.ToString().ToLowerInvariant());
        var context = new OnnxExportContext(graph, registry);
        List<string> inputs = [graph.Input(LatentInput, OnnxType.Float, Dim.Batch, architecture.LatentDimension)];
        if (architecture.IsConditional)
        {
            inputs.Add(graph.Input(LabelInput, OnnxType.Int64, Dim.Batch));
        }

        var output = exportable.ExportOnnx(context, inputs);
        graph.Node("Identity", [output], ImageOutput);
        graph.Output(ImageOutput, OnnxType.Float, Dim.Batch, 1, ImageSize, ImageSize);
        return graph.ToModel(metadata: metadata, docString: $"{architecture.Kind} generator: z ~ N(0, I) [batch, {architecture.LatentDimension}] → image in [-1, 1].");
    }

    public ModelProto ExportClassifier(MnistClassifier classifier, int classCount, IReadOnlyDictionary<string, string>? metadata = null)
    {
        classifier.eval();
        using var _ = no_grad();
        var graph = new OnnxGraphBuilder("mnist_classifier");
        var context = new OnnxExportContext(graph, registry);
        var image = graph.Input(ClassifierInput, OnnxType.Float, Dim.Batch, 1, ImageSize, ImageSize);
        var (features, logits) = classifier.ExportOnnx(context, image);
        graph.Node("Identity", [logits], LogitsOutput);
        graph.Node("Identity", [features], FeaturesOutput);
        graph.Output(LogitsOutput, OnnxType.Float, Dim.Batch, classCount);
        graph.Output(FeaturesOutput, OnnxType.Float, Dim.Batch, MnistClassifier.FeatureDimension);
        return graph.ToModel(metadata: metadata, docString: "MNIST classifier: image in [-1, 1] → class logits and penultimate features.");
    }
}
