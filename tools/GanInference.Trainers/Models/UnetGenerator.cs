using GanInference.Trainers.Export;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// The Pix2Pix U-Net (Isola et al. 2017) for 64×64 images: six 4×4 stride-2 encoder levels
/// (64 → 1 pixel; LeakyReLU 0.2 → Conv → BatchNorm, the first without norm, the innermost without
/// BatchNorm), mirrored by ReLU → ConvTranspose → BatchNorm decoders that take the concatenation of
/// the encoder skip and the level below; the last decoder ends in Tanh. Widths ngf·(1, 2, 4, 8, 8, 8).
/// Dropout(0.5) follows the decoders that are 8·ngf wide (the inner ones); in eval mode (and so in
/// the exported graph) it is the identity, so outputs are deterministic.
/// </summary>
public sealed class UnetGenerator : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    public const int Levels = 6;
    public const double DropoutProbability = 0.5;

    private readonly ModuleList<Sequential> encoders = new();
    private readonly ModuleList<Sequential> decoders = new();

    public UnetGenerator(int inputChannels, int outputChannels, int width)
        : base(nameof(UnetGenerator))
    {
        if (inputChannels <= 0 || outputChannels <= 0 || width <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(width), "channel counts and --ngf must be positive.");
        }

        InputChannels = inputChannels;
        OutputChannels = outputChannels;
        var channels = Enumerable.Range(0, Levels).Select(level => (long)width * Math.Min(1 << level, 8)).ToArray();
        for (var level = 0; level < Levels; level++)
        {
            encoders.Add(Encoder(level, level == 0 ? inputChannels : channels[level - 1], channels[level]));
        }

        for (var level = 0; level < Levels; level++)
        {
            var innermost = level == Levels - 1;
            var input = innermost ? channels[level] : 2 * channels[level];
            var output = level == 0 ? outputChannels : channels[level - 1];
            decoders.Add(Decoder(level, input, output, dropout: level > 0 && output == 8L * width));
        }

        RegisterComponents();
    }

    public int InputChannels { get; }

    public int OutputChannels { get; }

    public override Tensor forward(Tensor input)
    {
        var skips = new Tensor[Levels];
        var x = input;
        for (var level = 0; level < Levels; level++)
        {
            x = skips[level] = encoders[level].forward(x);
        }

        var y = decoders[Levels - 1].forward(skips[Levels - 1]);
        for (var level = Levels - 2; level >= 0; level--)
        {
            y = decoders[level].forward(cat([skips[level], y], 1));
        }

        return y;
    }

    /// <summary>inputs: image [B, C, 64, 64]; the skips become Concat nodes on the channel axis.</summary>
    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var skips = new string[Levels];
        var x = inputs[0];
        for (var level = 0; level < Levels; level++)
        {
            x = skips[level] = context.Export(encoders[level], $"encoders.{level}", x);
        }

        var y = context.Export(decoders[Levels - 1], $"decoders.{Levels - 1}", skips[Levels - 1]);
        for (var level = Levels - 2; level >= 0; level--)
        {
            var joined = context.Graph.Node("Concat", [skips[level], y], GanInference.Onnx.OnnxAttribute.Int("axis", 1));
            y = context.Export(decoders[level], $"decoders.{level}", joined);
        }

        return y;
    }

    private static Sequential Encoder(int level, long input, long output)
    {
        if (level == 0)
        {
            return nn.Sequential(("conv", nn.Conv2d(input, output, kernel_size: 4, stride: 2, padding: 1)));
        }

        var innermost = level == Levels - 1;
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("act", nn.LeakyReLU(0.2)),
            ("conv", nn.Conv2d(input, output, kernel_size: 4, stride: 2, padding: 1, bias: innermost)),
        };
        if (!innermost)
        {
            layers.Add(("norm", nn.BatchNorm2d(output)));
        }

        return nn.Sequential(layers);
    }

    private static Sequential Decoder(int level, long input, long output, bool dropout)
    {
        var outermost = level == 0;
        var layers = new List<(string, nn.Module<Tensor, Tensor>)>
        {
            ("act", nn.ReLU()),
            ("deconv", nn.ConvTranspose2d(input, output, kernel_size: 4, stride: 2, padding: 1, bias: outermost)),
        };
        if (outermost)
        {
            layers.Add(("tanh", nn.Tanh()));
            return nn.Sequential(layers);
        }

        layers.Add(("norm", nn.BatchNorm2d(output)));
        if (dropout)
        {
            layers.Add(("dropout", nn.Dropout(DropoutProbability)));
        }

        return nn.Sequential(layers);
    }
}
