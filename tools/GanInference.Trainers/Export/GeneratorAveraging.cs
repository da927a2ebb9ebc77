using System.Globalization;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.Export;

/// <summary>
/// Polyak averaging of a generator over its last epoch checkpoints (as in SWA / the EMA generators
/// of later GAN work): the mean of the weights is a smoother generator than any single snapshot of
/// an oscillating GAN. BatchNorm statistics of the averaged weights are re-estimated afterwards,
/// because the averaged running statistics do not match the averaged weights' activations.
/// </summary>
internal static class GeneratorAveraging
{
    private const int StatisticsBatches = 100;
    private const int StatisticsBatchSize = 64;

    /// <summary>The checkpoint folders averaged: epochs (last − count + 1)..last, siblings of <paramref name="checkpoint"/>.</summary>
    public static IReadOnlyList<string> CheckpointsToAverage(string checkpoint, CheckpointInfo info, int count)
    {
        var checkpoints = Path.GetDirectoryName(Path.GetFullPath(checkpoint).TrimEnd(Path.DirectorySeparatorChar))!;
        var folders = new List<string>();
        for (var epoch = info.Epoch - count + 1; epoch <= info.Epoch; epoch++)
        {
            var folder = Path.Combine(checkpoints, string.Create(CultureInfo.InvariantCulture, $"epoch-{epoch:D3}"));
            if (epoch < 1 || !Directory.Exists(folder))
            {
                throw new FileNotFoundException($"{folder}: needed to average the last {count} epochs up to epoch {info.Epoch}.", folder);
            }

            folders.Add(folder);
        }

        return folders;
    }

    /// <summary>Loads the mean of the checkpoints' generator weights into <paramref name="target"/> and re-estimates BatchNorm statistics.</summary>
    public static void LoadAverage(IGenerator target, GanArchitecture architecture, IReadOnlyList<string> checkpoints, ulong seed)
    {
        LoadMean(target.Module, checkpoints, Checkpoint.GeneratorFileName, () => ModelFactory.CreateGenerator(architecture).Module);
        RecomputeBatchNormStatistics(target, architecture, seed);
    }

    /// <summary>
    /// Loads into <paramref name="target"/> the mean of every floating-point tensor (weights and BatchNorm running
    /// statistics) of <paramref name="fileName"/> in each checkpoint; <paramref name="create"/> makes a module of the
    /// same shape to load each snapshot into. StackGAN's Stage-I keeps these averaged BatchNorm statistics (they
    /// depend on captions); <see cref="LoadAverage"/> re-estimates them for the GAN generators.
    /// </summary>
    public static void LoadMean(nn.Module target, IReadOnlyList<string> checkpoints, string fileName, Func<nn.Module> create)
    {
        using var noGrad = no_grad();
        var sums = new Dictionary<string, Tensor>();
        try
        {
            foreach (var folder in checkpoints)
            {
                using var snapshot = create();
                Checkpoint.LoadWeights(folder, fileName, snapshot);
                foreach (var (name, value) in snapshot.state_dict())
                {
                    if (!value.is_floating_point())
                    {
                        continue;
                    }

                    if (sums.TryGetValue(name, out var sum))
                    {
                        sum.add_(value.to_type(ScalarType.Float64));
                    }
                    else
                    {
                        sums[name] = value.detach().to_type(ScalarType.Float64);
                    }
                }
            }

            foreach (var (name, value) in target.state_dict())
            {
                if (sums.TryGetValue(name, out var sum))
                {
                    using var mean = sum / checkpoints.Count;
                    using var cast = mean.to_type(value.dtype);
                    value.copy_(cast);
                }
            }
        }
        finally
        {
            foreach (var sum in sums.Values)
            {
                sum.Dispose();
            }
        }
    }

    private static void RecomputeBatchNormStatistics(IGenerator generator, GanArchitecture architecture, ulong seed)
    {
        foreach (var (_, module) in generator.Module.named_modules())
        {
            if (module is TorchSharp.Modules.BatchNorm2d norm)
            {
                norm.running_mean!.zero_();
                norm.running_var!.fill_(1);
            }
        }

        // Momentum 0.1 over 100 batches leaves 0.9^100 ≈ 3e-5 of the reset values.
        random.manual_seed(unchecked((long)seed));
        generator.Module.train();
        for (var i = 0; i < StatisticsBatches; i++)
        {
            using var scope = NewDisposeScope();
            var z = randn(StatisticsBatchSize, architecture.LatentDimension);
            var labels = architecture.IsConditional ? randint(0, architecture.ClassCount, [StatisticsBatchSize], dtype: ScalarType.Int64) : null;
            generator.Generate(z, labels);
        }

        generator.Module.eval();
    }
}
