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

    /// <summary>
    /// Loads the checkpoint's exponential moving average of the generator (<c>train --g-ema</c>) into
    /// <paramref name="target"/> and re-estimates its BatchNorm statistics: the saved ones are the online generator's.
    /// </summary>
    public static void LoadMovingAverage(IGenerator target, GanArchitecture architecture, string checkpoint, CheckpointInfo info)
    {
        if (info.GeneratorEmaDecay is null)
        {
            throw new ArgumentException($"--ema: {checkpoint} holds no averaged generator ({Checkpoint.GeneratorEmaFileName}); its run was trained without --g-ema.");
        }

        Checkpoint.LoadWeights(checkpoint, Checkpoint.GeneratorEmaFileName, target.Module);
        RecomputeBatchNormStatistics(target, architecture, info.Seed);
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
    /// same shape to load each snapshot into. The averaged BatchNorm statistics do not match the averaged weights'
    /// activations: <see cref="LoadAverage"/> re-estimates them for the GAN generators, and
    /// <see cref="LoadStageOneAverage"/> for StackGAN's Stage-I.
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

    /// <summary>
    /// Loads the mean of the checkpoints' Stage-I weights into <paramref name="stageOne"/>, then re-estimates its
    /// BatchNorm statistics on random training captions with z and the CA noise drawn at <paramref name="truncation"/>
    /// (the truncation the model will be served at: truncation shrinks the activations, so statistics gathered at
    /// another one normalise them wrongly). Leaves the network in eval mode.
    /// </summary>
    public static void LoadStageOneAverage(TextToImage.StageOneGenerator stageOne, IReadOnlyList<string> checkpoints, float truncation, ulong seed)
    {
        var networks = stageOne.Architecture;
        LoadMean(stageOne, checkpoints, TextToImage.StackGanTrainer.StageOneFileName, () => new TextToImage.StageOneGenerator(networks));
        RecomputeStageOneStatistics(stageOne, truncation, seed);
    }

    /// <summary>
    /// Resets every BatchNorm of <paramref name="stageOne"/> and re-estimates its running statistics from
    /// <see cref="StatisticsBatches"/> batches of random training captions (held-out combinations never appear),
    /// z and CA noise from seeds drawn at <paramref name="truncation"/>; only the BatchNorm layers run in training mode.
    /// </summary>
    public static void RecomputeStageOneStatistics(TextToImage.StageOneGenerator stageOne, float truncation, ulong seed)
    {
        var networks = stageOne.Architecture;
        var norms = stageOne.modules().OfType<TorchSharp.Modules.BatchNorm2d>().ToList();
        using var noGrad = no_grad();
        foreach (var norm in norms)
        {
            norm.running_mean!.zero_();
            norm.running_var!.fill_(1);
        }

        stageOne.eval();
        foreach (var norm in norms)
        {
            norm.train();
        }

        var captions = new Random(unchecked((int)seed));
        for (var i = 0; i < StatisticsBatches; i++)
        {
            using var scope = NewDisposeScope();
            var tokens = new long[StatisticsBatchSize * TextToImage.CaptionGrammar.MaxTokens];
            for (var j = 0; j < StatisticsBatchSize; j++)
            {
                var attributes = TextToImage.CaptionGrammar.RandomTrainingAttributes(captions.Next(10), captions);
                TextToImage.CaptionGrammar.Tokenize(TextToImage.CaptionGrammar.RandomCaption(attributes, captions)).CopyTo(tokens, j * TextToImage.CaptionGrammar.MaxTokens);
            }

            // Seeds far from the evaluation's (1000..) and the sample sheets' (0..), one block per batch.
            var seeds = Enumerable.Range(0, StatisticsBatchSize).Select(j => unchecked((seed << 32) + 0x5EED0000UL + (ulong)((i * StatisticsBatchSize) + j))).ToArray();
            var (z, epsilon, _) = TextToImage.StackGanNoise.Draw(seeds, networks, truncation);
            using var pass = stageOne.Forward(
                tensor(tokens, [StatisticsBatchSize, TextToImage.CaptionGrammar.MaxTokens]),
                zeros(StatisticsBatchSize, networks.EmbeddingDimension),
                tensor(z, [StatisticsBatchSize, networks.LatentDimension]),
                tensor(epsilon, [StatisticsBatchSize, networks.ConditionDimension]));
        }

        stageOne.eval();
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
