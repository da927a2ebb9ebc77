using System.Text.Json.Nodes;
using GanInference.Onnx.Proto;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// <c>import-stage2</c>: puts a Stage-I checkpoint under an exported Stage-II (<see cref="StackGanExporter.ExportStageTwo"/>)
/// in one Stage-II checkpoint folder that <c>export</c> reads, e.g. a Stage-I fine-tuned with <c>--stage1-init</c> under the
/// shipped Stage-II, whose training checkpoints are gone. Stage-II's weights are read back as <see cref="StageOneImporter"/>
/// reads Stage-I's. Stage-II conditions on the text encoder's sentence embedding, so the Stage-I must carry the very
/// encoder the Stage-II file holds (a fine-tune keeps it frozen); any other is refused.
/// </summary>
public static class StageTwoImporter
{
    /// <summary>Names the exporter gives the fixed constants of a Stage-II graph (resize scales, the binomial filter, the ones of the text tile).</summary>
    private static readonly string[] ConstantNames = ["scales", "bilinear_scales", "binomial_kernel", "ones"];

    /// <summary>Fills <paramref name="generator"/> from <paramref name="model"/>; <paramref name="source"/> names the file in errors.</summary>
    public static void Load(ModelProto model, StageTwoGenerator generator, string source) =>
        StageOneImporter.LoadWeights(
            model,
            generator,
            generator.Architecture.EmbeddingDimension,
            source,
            $"a Stage-II generator of this architecture (stageTwoWidth {generator.Architecture.StageTwoWidth}, residualBlocks {generator.Architecture.ResidualBlocks})",
            name => ConstantNames.Contains(name[(name.LastIndexOf('.') + 1)..], StringComparer.Ordinal));

    /// <summary>
    /// Writes a Stage-II checkpoint folder (<c>stage1-generator.dat</c>, <c>stage2-generator.dat</c>, <c>checkpoint.json</c>):
    /// Stage-I from <paramref name="stageOneCheckpoint"/> (the mean of its last <paramref name="average"/> epochs with
    /// BatchNorm statistics re-estimated at <paramref name="truncation"/>, as <c>train stackgan --stage 2 --stage1-average</c>
    /// does), Stage-II from <paramref name="onnxPath"/> with the Stage-II options, epochs, steps, batch size and seed of
    /// <paramref name="manifestPath"/>'s provenance. The provenance chain is the Stage-I's commands, then the manifest's
    /// Stage-II commands, then <paramref name="command"/>; the training time is the Stage-I's plus <paramref name="stageTwoSeconds"/>.
    /// </summary>
    public static async Task<CheckpointInfo> ImportAsync(string onnxPath, string manifestPath, string stageOneCheckpoint, int average, float truncation, double stageTwoSeconds, string outputDirectory, string command, CancellationToken cancellationToken)
    {
        StageOneImporter.RequireInputs(onnxPath, manifestPath, "the Stage-II sizes", "--stage2-seconds", stageTwoSeconds);

        if (average < 1)
        {
            throw new ArgumentException($"--stage1-average must be at least 1, got {average}.");
        }

        var stageOneInfo = await Checkpoint.ReadInfoAsync(stageOneCheckpoint, cancellationToken).ConfigureAwait(false);
        if (stageOneInfo.Architecture.Kind != ModelKind.StackGanStageOne || stageOneInfo.Architecture.StackGan is not { } first)
        {
            throw new ArgumentException($"--stage1: {stageOneCheckpoint} holds a {stageOneInfo.Architecture.Kind} checkpoint, not a Stage-I one.");
        }

        var shipped = StageOneImporter.ReadArchitecture(manifestPath);
        var provenance = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath, cancellationToken).ConfigureAwait(false))!["provenance"]!;
        var networks = first with
        {
            StageTwoWidth = shipped.StageTwoWidth,
            ResidualBlocks = shipped.ResidualBlocks,
            StageTwoResidual = shipped.StageTwoResidual,
            StageTwoPaper = shipped.StageTwoPaper,
            StageTwoAntiAlias = shipped.StageTwoAntiAlias,
            DiscriminatorWidth = shipped.DiscriminatorWidth,
            DiscriminatorBatchNorm = shipped.DiscriminatorBatchNorm,
            DiscriminatorProjection = shipped.DiscriminatorProjection,
            DiscriminatorThickness = shipped.DiscriminatorThickness,
            StageOneStatisticsTruncation = average > 1 ? truncation : null,
        };
        var seed = provenance["seed"]?.GetValue<ulong>() ?? 0;
        using var stageOne = new StageOneGenerator(networks);
        using var stageTwo = new StageTwoGenerator(networks);
        if (average > 1)
        {
            GeneratorAveraging.LoadStageOneAverage(stageOne, GeneratorAveraging.CheckpointsToAverage(stageOneCheckpoint, stageOneInfo, average), truncation, seed);
        }
        else
        {
            Checkpoint.LoadWeights(stageOneCheckpoint, StackGanTrainer.StageOneFileName, stageOne);
        }

        var model = ModelProto.Parser.ParseFrom(await File.ReadAllBytesAsync(onnxPath, cancellationToken).ConfigureAwait(false));
        Load(model, stageTwo, onnxPath);
        var difference = EncoderDifference(stageOne.Encoder, stageTwo.Encoder);
        if (difference != 0)
        {
            throw new ArgumentException($"--stage1: {stageOneCheckpoint}'s text encoder differs from the one in {onnxPath} (largest weight difference {difference:G3}); Stage-II conditions on the sentence embedding it was trained with, so only a Stage-I that keeps that encoder (a --stage1-init fine-tune of the Stage-I it was trained on) can go under it.");
        }

        stageOne.eval();
        stageTwo.eval();
        var stageTwoCommands = provenance["commands"]?.AsArray().Select(c => c!.GetValue<string>()).Where(c => c.Contains("--stage 2", StringComparison.Ordinal)).ToList() ?? [];
        var info = new CheckpointInfo
        {
            Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageTwo, LatentDimension = networks.LatentDimension, StackGan = networks },
            Epoch = provenance["stage2Epochs"]?.GetValue<int>() ?? 0,
            Step = provenance["stage2Steps"]?.GetValue<long>() ?? 0,
            Seed = seed,
            TrainingSeconds = Math.Round(stageOneInfo.TrainingSeconds + stageTwoSeconds, 1),
            Command = command,
            EarlierCommands = [.. stageOneInfo.EarlierCommands, stageOneInfo.Command, .. stageTwoCommands],
            DataDirectory = stageOneInfo.DataDirectory,
            TrainingImages = stageOneInfo.TrainingImages,
            BatchSize = provenance["batchSize"]?.GetValue<int>() ?? stageOneInfo.BatchSize,
            TestAccuracy = stageOneInfo.TestAccuracy,
        };
        await Checkpoint.SaveAsync(outputDirectory, info, new Dictionary<string, nn.Module> { [StackGanTrainer.StageOneFileName] = stageOne, [StackGanTrainer.StageTwoFileName] = stageTwo }, cancellationToken).ConfigureAwait(false);
        return info;
    }

    /// <summary>The largest absolute difference between two text encoders' weights (0 when they are the same).</summary>
    internal static double EncoderDifference(TextEncoder a, TextEncoder b)
    {
        using var scope = NewDisposeScope();
        var (left, right) = (a.state_dict(), b.state_dict());
        return left.Max(p => (double)(p.Value - right[p.Key]).abs().max().item<float>());
    }
}
