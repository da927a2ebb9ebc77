using GanInference.Trainers.Export;
using GanInference.Trainers.TextToImage;
using GanInference.Trainers.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Export;

/// <summary>Polyak-averaged StackGAN Stage-I: BatchNorm statistics re-estimated for the averaged weights at the served truncation.</summary>
public sealed class GeneratorAveragingTests
{
    private static readonly StackGanArchitecture Networks = new() { StageOneWidth = 4, WordDimension = 8, EmbeddingDimension = 8, ConditionDimension = 4, LatentDimension = 8 };

    [Fact]
    public void Averaged_stage_one_normalises_with_the_statistics_of_its_own_activations_at_the_served_truncation()
    {
        using var temp = new TempDirectory();
        random.manual_seed(7);
        var folders = new List<string>();
        for (var epoch = 1; epoch <= 2; epoch++)
        {
            using var snapshot = new StageOneGenerator(Networks);
            snapshot.apply(GanTrainer.InitializeDcganWeights);
            OnnxParity.RandomizeNormalization(snapshot); // each snapshot's own running statistics, which the mean weights do not produce
            var folder = temp.Combine("checkpoints", $"epoch-00{epoch}");
            Directory.CreateDirectory(folder);
            snapshot.save(Path.Combine(folder, StackGanTrainer.StageOneFileName));
            folders.Add(folder);
        }

        const float served = 0.5f;
        using var reestimated = new StageOneGenerator(Networks);
        GeneratorAveraging.LoadStageOneAverage(reestimated, folders, served, seed: 1);
        using var atAnotherTruncation = new StageOneGenerator(Networks);
        GeneratorAveraging.LoadStageOneAverage(atAnotherTruncation, folders, truncation: 0f, seed: 1);
        using var averagedStatistics = new StageOneGenerator(Networks);
        GeneratorAveraging.LoadMean(averagedStatistics, folders, StackGanTrainer.StageOneFileName, () => new StageOneGenerator(Networks));

        var error = StatisticsError(reestimated, served);
        Assert.InRange(error, 0, 0.01);
        Assert.True(StatisticsError(averagedStatistics, served) > 10 * error, $"averaged statistics {StatisticsError(averagedStatistics, served)} vs re-estimated {error}");
        Assert.True(StatisticsError(atAnotherTruncation, served) > 3 * error, $"estimated at truncation 0: {StatisticsError(atAnotherTruncation, served)} vs at {served}: {error}");
        Assert.False(reestimated.training);
    }

    /// <summary>
    /// Mean |eval-mode output − output normalised by the batch's own statistics| on 512 fresh training captions and seeds
    /// (none of the estimator's) at <paramref name="truncation"/>: near 0 when the running statistics are those of the
    /// network's activations at that truncation.
    /// </summary>
    private static double StatisticsError(StageOneGenerator generator, float truncation)
    {
        const int count = 512;
        var captions = new Random(99);
        var tokens = new long[count * CaptionGrammar.MaxTokens];
        for (var i = 0; i < count; i++)
        {
            var attributes = CaptionGrammar.RandomTrainingAttributes(captions.Next(10), captions);
            CaptionGrammar.Tokenize(CaptionGrammar.RandomCaption(attributes, captions)).CopyTo(tokens, i * CaptionGrammar.MaxTokens);
        }

        var seeds = Enumerable.Range(0, count).Select(i => 900_000UL + (ulong)i).ToArray();
        var (z, epsilon, _) = StackGanNoise.Draw(seeds, Networks, truncation);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor Run()
        {
            using var pass = generator.Forward(
                tensor(tokens, [count, CaptionGrammar.MaxTokens]),
                zeros(count, Networks.EmbeddingDimension),
                tensor(z, [count, Networks.LatentDimension]),
                tensor(epsilon, [count, Networks.ConditionDimension]));
            return pass.Image.clone();
        }

        generator.eval();
        var served = Run();
        var norms = generator.modules().OfType<BatchNorm2d>().ToList();
        var saved = norms.Select(n => (n.running_mean!.clone(), n.running_var!.clone())).ToList();
        norms.ForEach(n => n.train());
        var batch = Run();
        generator.eval();
        for (var i = 0; i < norms.Count; i++)
        {
            norms[i].running_mean!.copy_(saved[i].Item1);
            norms[i].running_var!.copy_(saved[i].Item2);
        }

        return (served - batch).abs().mean().item<float>();
    }
}
