using GanInference.Onnx;
using GanInference.Onnx.Proto;
using GanInference.Trainers.Data;
using static TorchSharp.torch;

namespace GanInference.Trainers.Export;

/// <summary>
/// ONNX export of image-to-image generators with the server's convention: input <c>input</c>
/// float32 [batch, C_in, 64, 64] and output <c>image</c> float32 [batch, C_out, 64, 64], both in
/// [-1, 1]. Exported in eval mode: Dropout is the identity and BatchNorm uses its running
/// statistics, so the graph is deterministic.
/// </summary>
public sealed class ImageToImageExporter(ModuleExporterRegistry registry)
{
    public const string ImageInput = "input";
    public const string ImageOutput = "image";

    /// <summary>ONNX metadata key naming the data transform the model was trained on (<see cref="Evaluation.TranslationTask"/>).</summary>
    public const string TaskMetadataKey = "gan.translation";

    public ImageToImageExporter()
        : this(ModuleExporterRegistry.CreateDefault())
    {
    }

    public ModelProto Export(nn.Module generator, int inputChannels, int outputChannels, string docString, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (generator is not IOnnxExportable exportable)
        {
            throw new UnsupportedLayerException(generator.GetType(), "generator", "the generator does not describe its forward for ONNX (IOnnxExportable)");
        }

        generator.eval();
        using var _ = no_grad();
        var graph = new OnnxGraphBuilder("image_to_image");
        var context = new OnnxExportContext(graph, registry);
        var input = graph.Input(ImageInput, OnnxType.Float, Dim.Batch, inputChannels, DigitImaging.Size, DigitImaging.Size);
        var output = exportable.ExportOnnx(context, [input]);
        graph.Node("Identity", [output], ImageOutput);
        graph.Output(ImageOutput, OnnxType.Float, Dim.Batch, outputChannels, DigitImaging.Size, DigitImaging.Size);
        return graph.ToModel(metadata: metadata, docString: docString);
    }
}
