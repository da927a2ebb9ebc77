using GanInference.Trainers.Data;
using GanInference.Trainers.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>What the image-to-image trainers share: initialisation, checkpoint records, previews.</summary>
internal static class TranslationTraining
{
    /// <summary>Images shown in each epoch's preview table.</summary>
    public const int PreviewRows = 8;

    /// <summary>Pix2Pix/CycleGAN initialisation: conv weights ~ N(0, 0.02), biases 0, BatchNorm γ ~ N(1, 0.02), β = 0.</summary>
    public static void InitializeWeights(nn.Module module)
    {
        using var _ = no_grad();
        switch (module)
        {
            case Conv2d conv:
                nn.init.normal_(conv.weight, 0, 0.02);
                if (conv.bias is not null)
                {
                    nn.init.zeros_(conv.bias);
                }

                break;
            case ConvTranspose2d deconv:
                nn.init.normal_(deconv.weight, 0, 0.02);
                if (deconv.bias is not null)
                {
                    nn.init.zeros_(deconv.bias);
                }

                break;
            case BatchNorm2d norm:
                nn.init.normal_(norm.weight, 1, 0.02);
                nn.init.zeros_(norm.bias);
                break;
        }
    }

    public static void CheckKind(TrainingOptions options, ModelKind expected)
    {
        options.Validate();
        if (options.Architecture.Kind != expected)
        {
            throw new ArgumentException($"this trainer trains {expected}, not {options.Architecture.Kind}.", nameof(options));
        }
    }

    public static async Task<CheckpointInfo?> ReadResumedAsync(TrainingOptions options, CancellationToken cancellationToken)
    {
        if (options.ResumeFrom is null)
        {
            return null;
        }

        var resumed = await Checkpoint.ReadInfoAsync(options.ResumeFrom, cancellationToken).ConfigureAwait(false);
        if (resumed.Architecture.Kind != options.Architecture.Kind)
        {
            throw new ArgumentException($"--resume: {options.ResumeFrom} holds a {resumed.Architecture.Kind} checkpoint, not {options.Architecture.Kind}.");
        }

        return resumed;
    }

    /// <summary>Runs <paramref name="module"/> in eval mode without gradients; returns its output as floats.</summary>
    public static float[] Evaluate(nn.Module<Tensor, Tensor> module, Tensor input)
    {
        module.eval();
        try
        {
            using var _ = NewDisposeScope();
            using var __ = no_grad();
            return module.forward(input).contiguous().data<float>().ToArray();
        }
        finally
        {
            module.train();
        }
    }

    /// <summary>The first <paramref name="count"/> images of <paramref name="images"/>, in [-1, 1].</summary>
    public static float[] Head(ImageSet images, int count) =>
        images.ToModelRange().AsSpan(0, Math.Min(count, images.Count) * images.ImageLength).ToArray();

    public static Tensor AsTensor(float[] pixels, int channels) =>
        tensor(pixels, [pixels.Length / ImageSet.LengthOf(channels), channels, DigitImaging.Size, DigitImaging.Size]);

    /// <summary>Sets whether a network's parameters collect gradients (off for D during the G step saves work).</summary>
    public static void SetRequiresGrad(nn.Module module, bool value)
    {
        foreach (var parameter in module.parameters())
        {
            parameter.requires_grad = value;
        }
    }

    /// <summary>Sets the learning rate of every parameter group of every optimizer (the schedule's rate for an epoch).</summary>
    public static void SetLearningRate(IEnumerable<OptimizerHelper> optimizers, double learningRate)
    {
        foreach (var optimizer in optimizers)
        {
            foreach (var group in optimizer.ParamGroups)
            {
                group.LearningRate = learningRate;
            }
        }
    }

    public static void Restore(string checkpoint, IReadOnlyDictionary<string, nn.Module> networks, IReadOnlyDictionary<string, OptimizerHelper> optimizers)
    {
        foreach (var (file, network) in networks)
        {
            Checkpoint.LoadWeights(checkpoint, file, network);
        }

        foreach (var (file, optimizer) in optimizers)
        {
            Checkpoint.LoadOptimizerState(checkpoint, file, optimizer);
        }
    }
}
