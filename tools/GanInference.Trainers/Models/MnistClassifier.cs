using GanInference.Trainers.Export;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Models;

/// <summary>
/// A small MNIST CNN: two conv/pool blocks, a 128-unit penultimate layer (the feature space of
/// the Fréchet distance in <c>evaluate</c>), and a 10-way linear head. Input in [-1, 1] like the
/// generators' output.
/// </summary>
public sealed class MnistClassifier : nn.Module<Tensor, Tensor>
{
    public const int FeatureDimension = 128;

    private readonly Sequential features;
    private readonly Dropout dropout;
    private readonly Linear head;

    public MnistClassifier(GanArchitecture architecture)
        : base(nameof(MnistClassifier))
    {
        architecture.Validate();
        features = nn.Sequential(
            ("conv1", nn.Conv2d(1, 32, kernel_size: 3, padding: 1)),
            ("relu1", nn.ReLU()),
            ("pool1", nn.MaxPool2d(2)),
            ("conv2", nn.Conv2d(32, 64, kernel_size: 3, padding: 1)),
            ("relu2", nn.ReLU()),
            ("pool2", nn.MaxPool2d(2)),
            ("flatten", nn.Flatten()),
            ("fc", nn.Linear(64 * 7 * 7, FeatureDimension)),
            ("relu3", nn.ReLU()));
        dropout = nn.Dropout(0.3);
        head = nn.Linear(FeatureDimension, architecture.ClassCount);
        RegisterComponents();
    }

    internal Sequential Features => features;

    internal Dropout Dropout => dropout;

    internal Linear Head => head;

    /// <returns>Class logits [B, classes].</returns>
    public override Tensor forward(Tensor input)
    {
        using var h = features.forward(input);
        using var dropped = dropout.forward(h);
        return head.forward(dropped);
    }

    /// <summary>Writes the eval-mode forward; returns the penultimate features and the logits.</summary>
    public (string Features, string Logits) ExportOnnx(OnnxExportContext context, string image)
    {
        var h = context.Export(features, "features", image);
        var dropped = context.Export(dropout, "dropout", h);
        return (h, context.Export(head, "head", dropped));
    }
}
