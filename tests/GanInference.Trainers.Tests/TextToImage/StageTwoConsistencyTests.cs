using System.Globalization;
using GanInference.Trainers.Models;
using GanInference.Trainers.TextToImage;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary><c>train stackgan --stage 2 --stage2-consistency W</c>: Stage-II's image, area-downsized, held to the Stage-I image it refines.</summary>
public sealed class StageTwoConsistencyTests
{
    private static readonly StackGanArchitecture Tiny = SmallStackGan.Trainable;

    [Fact]
    public void The_term_is_zero_for_any_refinement_with_the_same_2x2_means_and_the_mean_difference_otherwise()
    {
        using var scope = NewDisposeScope();
        random.manual_seed(1);
        var small = rand(2, 3, 32, 32);
        var upscaled = nn.functional.interpolate(small, scale_factor: [2.0, 2.0], mode: InterpolationMode.Nearest);
        Assert.Equal(0f, StackGanTrainer.ConsistencyLoss(upscaled, small).item<float>());

        // Detail that keeps the 2×2 means (a checkerboard of ±0.3) costs nothing; a shift of one 2×2 block's mean costs its mean difference.
        var checker = (arange(64).reshape(1, 1, 64, 1) + arange(64).reshape(1, 1, 1, 64)).remainder(2).to_type(ScalarType.Float32) * 0.6f - 0.3f;
        Assert.InRange(StackGanTrainer.ConsistencyLoss(upscaled + checker, small).item<float>(), 0f, 1e-6f);
        var shifted = upscaled.clone();
        shifted[0, 1, 4, 6] += 0.4f; // one pixel of one block: its mean moves by 0.1
        Assert.Equal(0.1 / small.numel(), StackGanTrainer.ConsistencyLoss(shifted, small).item<float>(), 1e-9);
    }

    [Fact]
    public async Task A_negative_weight_or_a_stage_one_run_is_refused_naming_the_option()
    {
        using var temp = new TempDirectory();
        var options = new TrainingOptions { Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageOne }, DataDirectory = temp.Combine("data"), RunDirectory = temp.Combine("run") };
        var negative = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options, new StackGanOptions { Stage = 2, StageOneCheckpoint = "x", StageTwoConsistency = -1, Networks = Tiny }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--stage2-consistency", negative.Message, StringComparison.Ordinal);
        var stageOne = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options, new StackGanOptions { Stage = 1, StageTwoConsistency = 1, Networks = Tiny }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--stage 2", stageOne.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_weight_adds_the_term_to_the_generator_loss_of_the_same_step()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 32, testCount: 8, gzip: false);
        TrainingOptions Options(string run, ModelKind kind) => new()
        {
            Architecture = new GanArchitecture { Kind = kind },
            DataDirectory = data,
            RunDirectory = temp.Combine(run),
            Epochs = 1,
            BatchSize = 16,
            Seed = 3,
            Command = "test",
        };
        var one = await new StackGanTrainer(Options("s1", ModelKind.StackGanStageOne), new StackGanOptions { Stage = 1, EncoderSteps = 2, Networks = Tiny, ClassifierPath = temp.Combine("none.onnx") })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        string[] FirstRow(string run) => File.ReadAllLines(new RunFolder(temp.Combine(run)).LossCsv)[1].Split(',');
        foreach (var (run, weight) in new[] { ("plain", 0.0), ("held", 50.0) })
        {
            await new StackGanTrainer(Options(run, ModelKind.StackGanStageTwo), new StackGanOptions { Stage = 2, StageOneCheckpoint = one.LastCheckpoint, StageTwoConsistency = weight, Networks = Tiny, ClassifierPath = temp.Combine("none.onnx") })
                .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        }

        // Same seed, same first discriminator step; the generator's loss of that step carries the term (> 0 for an untrained Stage-II).
        var (plain, held) = (FirstRow("plain"), FirstRow("held"));
        double Value(string[] row, int column) => double.Parse(row[column], CultureInfo.InvariantCulture);
        Assert.Equal(Value(plain, 2), Value(held, 2)); // d_loss
        Assert.True(Value(held, 3) > Value(plain, 3) + 1e-3, $"g_loss {Value(held, 3)} with the term vs {Value(plain, 3)} without");
    }
}
