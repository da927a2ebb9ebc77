using GanInference.Trainers.Models;
using GanInference.Trainers.TextToImage;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary><c>train stackgan --stage 1 --stage1-init CHECKPOINT</c>: a Stage-I training that starts from an existing Stage-I (a fine-tune).</summary>
public sealed class StageOneInitializationTests
{
    private static readonly StackGanArchitecture Tiny = SmallStackGan.Trainable;

    [Fact]
    public async Task It_is_refused_for_stage_two_beside_resume_and_with_options_it_would_ignore_naming_them()
    {
        using var temp = new TempDirectory();
        var options = new TrainingOptions { Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageOne }, DataDirectory = temp.Combine("data"), RunDirectory = temp.Combine("run") };
        var stageTwo = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options, new StackGanOptions { Stage = 2, StageOneCheckpoint = "x", StageOneInitialization = "y", Networks = Tiny }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--stage1-init", stageTwo.Message, StringComparison.Ordinal);
        Assert.Contains("--stage 1", stageTwo.Message, StringComparison.Ordinal);
        var resumed = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options with { ResumeFrom = "z" }, new StackGanOptions { Stage = 1, StageOneInitialization = "y", Networks = Tiny }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--resume", resumed.Message, StringComparison.Ordinal);

        // Options a fine-tuned Stage-I would ignore are refused, naming them (they were silently ignored before).
        var encoder = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options, new StackGanOptions { Stage = 1, StageOneInitialization = "y", EncoderSteps = 5, Networks = Tiny }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.Contains("--encoder-steps 5", encoder.Message, StringComparison.Ordinal);
        Assert.Contains("--stage1-init", encoder.Message, StringComparison.Ordinal);
        var stageTwoShape = await Assert.ThrowsAsync<ArgumentException>(() => new StackGanTrainer(options, new StackGanOptions { Stage = 1, Networks = Tiny with { StageTwoPaper = true, StageTwoAntiAlias = true } }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None));
        Assert.StartsWith("--stage2-paper --stage2-antialias shape Stage-II's generator", stageTwoShape.Message, StringComparison.Ordinal);
        Assert.Contains("--stage 1", stageTwoShape.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fine_tune_starts_from_the_checkpoint_keeps_its_generator_and_carries_its_provenance()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 32, testCount: 8, gzip: false);
        TrainingOptions Options(string run, string command) => new()
        {
            Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageOne },
            DataDirectory = data,
            RunDirectory = temp.Combine(run),
            Epochs = 1,
            BatchSize = 16,
            Seed = 3,
            Command = command,
        };
        var first = await new StackGanTrainer(Options("first", "train first"), new StackGanOptions { Stage = 1, EncoderSteps = 2, Networks = Tiny, ClassifierPath = temp.Combine("none.onnx") })
            .RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        // The command line asks for another generator width: the checkpoint's wins; the new discriminator head is the command line's.
        var tuned = await new StackGanTrainer(Options("tuned", "train tuned"), new StackGanOptions
        {
            Stage = 1,
            StageOneInitialization = first.LastCheckpoint,
            AuxiliaryWeight = 1,
            Networks = Tiny with { StageOneWidth = 16, DiscriminatorThickness = true },
            ClassifierPath = temp.Combine("none.onnx"),
        }).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        var (before, after) = (await Checkpoint.ReadInfoAsync(first.LastCheckpoint, CancellationToken.None), await Checkpoint.ReadInfoAsync(tuned.LastCheckpoint, CancellationToken.None));
        Assert.Equal(8, after.Architecture.StackGan!.StageOneWidth);
        Assert.True(after.Architecture.StackGan.DiscriminatorThickness);
        Assert.Equal(1, after.Epoch);
        Assert.Equal(["train first"], after.EarlierCommands);
        Assert.True(after.TrainingSeconds > before.TrainingSeconds);
        Assert.Equal(before.TestAccuracy, after.TestAccuracy);

        // The text encoder is frozen in Stage-I training, so it is exactly the checkpoint's (no new pre-training);
        // the rest of the generator trained on from the checkpoint's weights.
        using var scope = NewDisposeScope();
        using var start = new StageOneGenerator(Tiny);
        using var end = new StageOneGenerator(Tiny);
        Checkpoint.LoadWeights(first.LastCheckpoint, StackGanTrainer.StageOneFileName, start);
        Checkpoint.LoadWeights(tuned.LastCheckpoint, StackGanTrainer.StageOneFileName, end);
        var (startWeights, endWeights) = (start.state_dict(), end.state_dict());
        var encoderNames = startWeights.Keys.Where(k => k.StartsWith("encoder.", StringComparison.Ordinal)).ToArray();
        Assert.NotEmpty(encoderNames);
        Assert.All(encoderNames, name => Assert.True(startWeights[name].allclose(endWeights[name], rtol: 0, atol: 0), name));
        Assert.Contains(startWeights.Keys.Except(encoderNames), name => !startWeights[name].allclose(endWeights[name], rtol: 0, atol: 0));
    }
}
