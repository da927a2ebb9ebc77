using GanInference.Trainers.Export;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// Class-conditional DCGAN generator: a learned label embedding is concatenated with z, then the
/// same transposed-convolution stack as the unconditional generator. With
/// <see cref="GanArchitecture.LatentClasses"/> it takes no labels: the class is <see cref="LatentClass"/> of z.
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
        ClassCount = architecture.ClassCount;
        ClassFromLatent = architecture.LatentClasses;
        labelEmbedding = nn.Embedding(architecture.ClassCount, architecture.LabelEmbeddingDimension);
        body = DcganBlocks.GeneratorBody(architecture.LatentDimension + architecture.LabelEmbeddingDimension, architecture.GeneratorWidth);
        RegisterComponents();
    }

    public int LatentDimension { get; }

    public int ClassCount { get; }

    /// <summary>True when the class is read from z (<see cref="GanArchitecture.LatentClasses"/>), so no labels are given.</summary>
    public bool ClassFromLatent { get; }

    internal Embedding LabelEmbedding => labelEmbedding;

    internal Sequential Body => body;

    nn.Module IGenerator.Module => this;

    public override Tensor forward(Tensor latents, Tensor labels)
    {
        using var embedded = labelEmbedding.forward(labels);
        using var joined = cat([latents, embedded], 1);
        return body.forward(joined.reshape(joined.shape[0], joined.shape[1], 1, 1));
    }

    /// <summary>
    /// The class a latent codes: the index of the largest of its first <paramref name="classCount"/> coordinates.
    /// Coordinates drawn i.i.d. (N(0, 1), truncated by rejection or not) make every index equally likely.
    /// </summary>
    /// <returns>[batch] int64.</returns>
    public static Tensor LatentClass(Tensor latents, int classCount) => latents.narrow(1, 0, classCount).argmax(1);

    public Tensor Generate(Tensor latents, Tensor? labels)
    {
        if (!ClassFromLatent)
        {
            return forward(latents, labels ?? throw new ArgumentNullException(nameof(labels), "a class-conditional generator needs labels."));
        }

        if (labels is not null)
        {
            throw new ArgumentException("this generator reads its class from z (LatentClasses); it takes no labels.", nameof(labels));
        }

        using var latentClasses = LatentClass(latents, ClassCount);
        return forward(latents, latentClasses);
    }

    /// <summary>
    /// inputs: z [B, D], label [B] → Gather embedding → Concat with z → Reshape [B, D+E, 1, 1] → body. With
    /// <see cref="ClassFromLatent"/> the only input is z and the label is ArgMax over Slice(z, 0..ClassCount) on axis 1.
    /// </summary>
    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var label = ClassFromLatent ? ExportLatentClass(context, inputs[0]) : inputs[1];
        var embedded = context.Export(labelEmbedding, "labelEmbedding", label);
        var joined = context.Graph.Node("Concat", [inputs[0], embedded], GanInference.Onnx.OnnxAttribute.Int("axis", 1));
        var shape = context.Constant("joined_shape", -1, LatentDimension + labelEmbedding.weight!.shape[1], 1, 1);
        var reshaped = context.Graph.Node("Reshape", [joined, shape]);
        return context.Export(body, "body", reshaped);
    }

    private string ExportLatentClass(OnnxExportContext context, string latents)
    {
        var coded = context.Graph.Node("Slice", [latents, context.Constant("class_starts", 0), context.Constant("class_ends", ClassCount), context.Constant("class_axes", 1)]);
        return context.Graph.Node("ArgMax", [coded], GanInference.Onnx.OnnxAttribute.Int("axis", 1), GanInference.Onnx.OnnxAttribute.Int("keepdims", 0));
    }
}
