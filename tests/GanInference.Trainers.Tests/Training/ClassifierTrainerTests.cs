using GanInference.Trainers.Models;
using GanInference.Trainers.Training;

namespace GanInference.Trainers.Tests.Training;

public sealed class ClassifierTrainerTests
{
    [Fact]
    public async Task Learns_the_tiny_digits()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 200, testCount: 50, gzip: true);
        var options = new TrainingOptions
        {
            Architecture = new GanArchitecture { Kind = ModelKind.Classifier },
            DataDirectory = temp.Combine("data"),
            RunDirectory = temp.Combine("run"),
            Epochs = 3,
            BatchSize = 25,
            LearningRate = 1e-3,
            Seed = 2,
        };

        var (result, accuracy) = await new ClassifierTrainer(options).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);

        // Ten bar positions/angles: far above the 10 % of chance after 24 steps (±2 px shifts blur neighbours).
        Assert.True(accuracy > 0.5, $"test accuracy {accuracy}");
        var info = await Checkpoint.ReadInfoAsync(result.LastCheckpoint, CancellationToken.None);
        Assert.Equal(ModelKind.Classifier, info.Architecture.Kind);
        Assert.Equal(Math.Round(accuracy, 4), info.TestAccuracy);
    }
}
