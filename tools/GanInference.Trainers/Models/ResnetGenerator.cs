using GanInference.Trainers.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// The CycleGAN ResNet generator (Zhu et al. 2017, after Johnson et al.): ReflectionPad 3 → Conv 7×7
/// (ngf) → InstanceNorm → ReLU; two Conv 3×3 s2 downsamplings (2·ngf, 4·ngf) with InstanceNorm + ReLU;
/// <c>blocks</c> residual blocks at 16×16; two ConvTranspose 3×3 s2 upsamplings back to ngf; then
/// ReflectionPad 3 → Conv 7×7 → Tanh. InstanceNorm has no affine parameters and no running
/// statistics, as in the paper's code, so train and eval behave alike.
/// </summary>
public sealed class ResnetGenerator : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Sequential head;
    private readonly ModuleList<ResidualBlock> blocks = new();
    private readonly Sequential tail;

    public ResnetGenerator(int inputChannels, int outputChannels, int width, int residualBlocks)
        : base(nameof(ResnetGenerator))
    {
        if (inputChannels <= 0 || outputChannels <= 0 || width <= 0 || residualBlocks <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), "channel counts, --ngf and --blocks must be positive.");
        }

        InputChannels = inputChannels;
        OutputChannels = outputChannels;
        head = nn.Sequential(
            ("pad", nn.ReflectionPad2d(3)),
            ("conv", nn.Conv2d(inputChannels, width, kernel_size: 7)),
            ("norm", nn.InstanceNorm2d(width)),
            ("act", nn.ReLU()),
            ("down1", nn.Conv2d(width, width * 2, kernel_size: 3, stride: 2, padding: 1)),
            ("norm1", nn.InstanceNorm2d(width * 2)),
            ("act1", nn.ReLU()),
            ("down2", nn.Conv2d(width * 2, width * 4, kernel_size: 3, stride: 2, padding: 1)),
            ("norm2", nn.InstanceNorm2d(width * 4)),
            ("act2", nn.ReLU()));
        for (var i = 0; i < residualBlocks; i++)
        {
            blocks.Add(new ResidualBlock(width * 4));
        }

        tail = nn.Sequential(
            ("up1", nn.ConvTranspose2d(width * 4, width * 2, kernel_size: 3, stride: 2, padding: 1, output_padding: 1)),
            ("norm1", nn.InstanceNorm2d(width * 2)),
            ("act1", nn.ReLU()),
            ("up2", nn.ConvTranspose2d(width * 2, width, kernel_size: 3, stride: 2, padding: 1, output_padding: 1)),
            ("norm2", nn.InstanceNorm2d(width)),
            ("act2", nn.ReLU()),
            ("pad", nn.ReflectionPad2d(3)),
            ("conv", nn.Conv2d(width, outputChannels, kernel_size: 7)),
            ("tanh", nn.Tanh()));
        RegisterComponents();
    }

    public int InputChannels { get; }

    public int OutputChannels { get; }

    public override Tensor forward(Tensor input)
    {
        var x = head.forward(input);
        foreach (var block in blocks)
        {
            x = block.forward(x);
        }

        return tail.forward(x);
    }

    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var x = context.Export(head, "head", inputs[0]);
        for (var i = 0; i < blocks.Count; i++)
        {
            x = context.Export(blocks[i], $"blocks.{i}", x);
        }

        return context.Export(tail, "tail", x);
    }
}

/// <summary>x + (ReflectionPad 1 → Conv 3×3 → InstanceNorm → ReLU → ReflectionPad 1 → Conv 3×3 → InstanceNorm)(x).</summary>
public sealed class ResidualBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Sequential body;

    public ResidualBlock(long channels)
        : base(nameof(ResidualBlock))
    {
        body = nn.Sequential(
            ("pad1", nn.ReflectionPad2d(1)),
            ("conv1", nn.Conv2d(channels, channels, kernel_size: 3)),
            ("norm1", nn.InstanceNorm2d(channels)),
            ("act", nn.ReLU()),
            ("pad2", nn.ReflectionPad2d(1)),
            ("conv2", nn.Conv2d(channels, channels, kernel_size: 3)),
            ("norm2", nn.InstanceNorm2d(channels)));
        RegisterComponents();
    }

    public override Tensor forward(Tensor input) => input + body.forward(input);

    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs) =>
        context.Graph.Node("Add", [inputs[0], context.Export(body, "body", inputs[0])]);
}
