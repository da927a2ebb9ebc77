using GanInference.Trainers.Export;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// Class-conditional DCGAN generator: a learned label embedding is concatenated with z, then the
/// same transposed-convolution stack as the unconditional generator.
/// </summary>
public sealed class ConditionalDcganGenerator : nn.Module<Tensor, Tensor, Tensor>, IGenerator, IOnnxExportable
{
    private readonly Embedding labelEmbedding;
    private readonly Sequential body;

    public ConditionalDcganGenerator(GanArchitecture architecture)
        : base(nameof(ConditionalDcganGenerator))
    {
        architecture.Validate();
        LatentDimension = architecture.LatentDimension;
        labelEmbedding = nn.Embedding(architecture.ClassCount, architecture.LabelEmbeddingDimension);
        body = DcganBlocks.GeneratorBody(architecture.LatentDimension + architecture.LabelEmbeddingDimension, architecture.GeneratorWidth);
        RegisterComponents();
    }

    public int LatentDimension { get; }

    internal Embedding LabelEmbedding => labelEmbedding;

    internal Sequential Body => body;

    nn.Module IGenerator.Module => this;

    public override Tensor forward(Tensor latents, Tensor labels)
    {
        using var embedded = labelEmbedding.forward(labels);
        using var joined = cat([latents, embedded], 1);
        return body.forward(joined.reshape(joined.shape[0], joined.shape[1], 1, 1));
    }

    public Tensor Generate(Tensor latents, Tensor? labels) =>
        forward(latents, labels ?? throw new ArgumentNullException(nameof(labels), "a class-conditional generator needs labels."));

    /// <summary>inputs: z [B, D], label [B] → Gather embedding → Concat with z → Reshape [B, D+E, 1, 1] → body.</summary>
    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var embedded = context.Export(labelEmbedding, "labelEmbedding", inputs[1]);
        var joined = context.Graph.Node("Concat", [inputs[0], embedded], GanInference.Onnx.OnnxAttribute.Int("axis", 1));
        var shape = context.Constant("joined_shape", -1, LatentDimension + labelEmbedding.weight!.shape[1], 1, 1);
        var reshaped = context.Graph.Node("Reshape", [joined, shape]);
        return context.Export(body, "body", reshaped);
    }
}
