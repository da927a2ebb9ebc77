using GanInference.Onnx;
using GanInference.Onnx.Proto;
using GanInference.Trainers.Export;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// ONNX export of the two StackGAN stages with the names of docs/text-to-image.md: inputs
/// <c>tokens</c>, <c>embedding</c>, <c>z</c> (Stage-I) or <c>stage1_image</c> (Stage-II), <c>ca_noise</c>;
/// output <c>image</c>. Eval mode, so BatchNorm uses running statistics and every row is independent.
/// </summary>
public sealed class StackGanExporter(ModuleExporterRegistry registry)
{
    public const string TokensInput = "tokens";
    public const string EmbeddingInput = "embedding";
    public const string LatentInput = "z";
    public const string NoiseInput = "ca_noise";
    public const string StageOneImageInput = "stage1_image";
    public const string ImageOutput = "image";

    public StackGanExporter()
        : this(ModuleExporterRegistry.CreateDefault())
    {
    }

    public ModelProto ExportStageOne(StageOneGenerator generator)
    {
        var a = generator.Architecture;
        return Export(
            generator,
            "stackgan_stage1",
            graph =>
            [
                graph.Input(TokensInput, OnnxType.Int64, Dim.Batch, a.MaxTokens),
                graph.Input(EmbeddingInput, OnnxType.Float, Dim.Batch, a.EmbeddingDimension),
                graph.Input(LatentInput, OnnxType.Float, Dim.Batch, a.LatentDimension),
                graph.Input(NoiseInput, OnnxType.Float, Dim.Batch, a.ConditionDimension),
            ],
            CaptionedDigits.SmallSize,
            "StackGAN Stage-I: caption tokens (or a sentence embedding for rows of padding only), z and CA noise → 32×32 RGB in [-1, 1] (docs/text-to-image.md).");
    }

    public ModelProto ExportStageTwo(StageTwoGenerator generator)
    {
        var a = generator.Architecture;
        return Export(
            generator,
            "stackgan_stage2",
            graph =>
            [
                graph.Input(TokensInput, OnnxType.Int64, Dim.Batch, a.MaxTokens),
                graph.Input(EmbeddingInput, OnnxType.Float, Dim.Batch, a.EmbeddingDimension),
                graph.Input(StageOneImageInput, OnnxType.Float, Dim.Batch, 3, CaptionedDigits.SmallSize, CaptionedDigits.SmallSize),
                graph.Input(NoiseInput, OnnxType.Float, Dim.Batch, a.ConditionDimension),
            ],
            CaptionedDigits.LargeSize,
            "StackGAN Stage-II: caption tokens (or a sentence embedding), the Stage-I image and CA noise → 64×64 RGB in [-1, 1] (docs/text-to-image.md).");
    }

    private ModelProto Export(nn.Module generator, string graphName, Func<OnnxGraphBuilder, string[]> inputs, int size, string docString)
    {
        generator.eval();
        using var _ = no_grad();
        var graph = new OnnxGraphBuilder(graphName);
        var context = new OnnxExportContext(graph, registry);
        var names = inputs(graph);
        var output = ((IOnnxExportable)generator).ExportOnnx(context, names);
        graph.Node("Identity", [output], ImageOutput);
        graph.Output(ImageOutput, OnnxType.Float, Dim.Batch, 3, size, size);
        return graph.ToModel(metadata: new Dictionary<string, string> { ["gan.kind"] = "text-conditional" }, docString: docString);
    }
}
