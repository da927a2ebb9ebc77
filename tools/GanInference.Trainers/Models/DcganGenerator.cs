using GanInference.Trainers.Export;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>Unconditional DCGAN generator: z [B, D] → image [B, 1, 28, 28] in [-1, 1].</summary>
public sealed class DcganGenerator : nn.Module<Tensor, Tensor>, IGenerator, IOnnxExportable
{
    private readonly Sequential body;

    public DcganGenerator(GanArchitecture architecture)
        : base(nameof(DcganGenerator))
    {
        architecture.Validate();
        LatentDimension = architecture.LatentDimension;
        body = DcganBlocks.GeneratorBody(architecture.LatentDimension, architecture.GeneratorWidth);
        RegisterComponents();
    }

    public int LatentDimension { get; }

    /// <summary>The transposed-convolution stack after z is reshaped to [B, D, 1, 1].</summary>
    internal Sequential Body => body;

    nn.Module IGenerator.Module => this;

    public override Tensor forward(Tensor input) => body.forward(input.reshape(-1, LatentDimension, 1, 1));

    public Tensor Generate(Tensor latents, Tensor? labels) => forward(latents);

    /// <summary>inputs: z [B, D] → Reshape [B, D, 1, 1] → body.</summary>
    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var shape = context.Constant("latent_shape", -1, LatentDimension, 1, 1);
        var reshaped = context.Graph.Node("Reshape", [inputs[0], shape]);
        return context.Export(body, "body", reshaped);
    }
}
