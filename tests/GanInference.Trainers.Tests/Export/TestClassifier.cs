using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;

namespace GanInference.Trainers.Tests.Export;

/// <summary>A classifier trained for one epoch on the test's tiny data and exported, for evaluations inside tests.</summary>
internal static class TestClassifier
{
    public static async Task<string> ExportAsync(TempDirectory temp, string data)
    {
        var options = new TrainingOptions
        {
            Architecture = new GanArchitecture { Kind = ModelKind.Classifier },
            DataDirectory = data,
            RunDirectory = temp.Combine("runs", "classifier"),
            Epochs = 1,
            BatchSize = 16,
            LearningRate = 1e-3,
        };
        var (result, _) = await new ClassifierTrainer(options).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        var folder = temp.Combine("eval", "classifier");
        await new ModelPackageWriter(new OnnxModelExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = result.LastCheckpoint, OutputDirectory = folder },
            CancellationToken.None);
        Assert.True(File.Exists(Path.Combine(folder, ModelPackageWriter.ClassifierManifestFileName)));
        return Path.Combine(folder, ModelPackageWriter.ModelFileName);
    }
}
