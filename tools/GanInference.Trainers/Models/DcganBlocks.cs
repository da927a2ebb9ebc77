using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>The convolutional stacks shared by the unconditional and conditional networks (28×28, 1 channel).</summary>
internal static class DcganBlocks
{
    /// <summary>
    /// [B, C, 1, 1] → ConvT k7 → 7×7 → ConvT k4 s2 → 14×14 → ConvT k4 s2 → 28×28, tanh.
    /// BatchNorm follows the first two, so their convolutions need no bias.
    /// </summary>
    public static Sequential GeneratorBody(long inputChannels, int width) => nn.Sequential(
        ("up7", nn.ConvTranspose2d(inputChannels, width * 4, kernel_size: 7, stride: 1, padding: 0, bias: false)),
        ("bn7", nn.BatchNorm2d(width * 4)),
        ("relu7", nn.ReLU()),
        ("up14", nn.ConvTranspose2d(width * 4, width * 2, kernel_size: 4, stride: 2, padding: 1, bias: false)),
        ("bn14", nn.BatchNorm2d(width * 2)),
        ("relu14", nn.ReLU()),
        ("up28", nn.ConvTranspose2d(width * 2, 1, kernel_size: 4, stride: 2, padding: 1)),
        ("tanh", nn.Tanh()));

    /// <summary>28×28 → 14×14 → 7×7 feature maps with LeakyReLU(0.2).</summary>
    public static Sequential DiscriminatorFeatures(int width) => nn.Sequential(
        ("down14", nn.Conv2d(1, width, kernel_size: 4, stride: 2, padding: 1)),
        ("lrelu14", nn.LeakyReLU(0.2)),
        ("down7", nn.Conv2d(width, width * 2, kernel_size: 4, stride: 2, padding: 1, bias: false)),
        ("bn7", nn.BatchNorm2d(width * 2)),
        ("lrelu7", nn.LeakyReLU(0.2)));
}
