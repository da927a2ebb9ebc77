using System.CommandLine;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using Microsoft.Extensions.Logging;

namespace GanInference.Trainers.Cli;

/// <summary><c>train pix2pix</c> and <c>train cyclegan</c> (docs/image-to-image.md).</summary>
internal static partial class TrainCommand
{
    /// <summary>--epoch-images, --max-minutes and --lr-decay-epochs.</summary>
    private sealed class ScheduleOptions
    {
        private readonly Option<int> epochImages = new("--epoch-images")
        {
            Description = "Images per epoch (0 = the whole set); each epoch takes the first of a fresh shuffle. Smaller epochs give more frequent checkpoints and previews.",
            DefaultValueFactory = _ => 0,
        };

        private readonly Option<double> maxMinutes = new("--max-minutes")
        {
            Description = "Stop after the first epoch that ends past this many minutes (0 = no limit).",
            DefaultValueFactory = _ => 0,
        };

        private readonly Option<int> decayEpochs = new("--lr-decay-epochs")
        {
            Description = "The last N of --epochs lower the learning rate linearly towards 0, as the reference Pix2Pix/CycleGAN (epoch e trains at lr * (1 - max(0, e - (epochs - N)) / (N + 1))); 0 = constant.",
            DefaultValueFactory = _ => 0,
        };

        public void AddTo(Command command)
        {
            command.Options.Add(epochImages);
            command.Options.Add(maxMinutes);
            command.Options.Add(decayEpochs);
        }

        public TranslationSchedule Build(ParseResult parse) => new() { ImagesPerEpoch = parse.GetValue(epochImages), MaxMinutes = parse.GetValue(maxMinutes), DecayEpochs = parse.GetValue(decayEpochs) };
    }

    private static Command CreatePix2Pix(ILoggerFactory loggers, string commandLine)
    {
        var common = new CommonOptions("pix2pix-outline2digit", defaultEpochs: 6, defaultBatchSize: 16, defaultLearningRate: 2e-4);
        var ngf = new Option<int>("--ngf") { Description = "U-Net base width (levels are ngf x 1, 2, 4, 8, 8, 8).", DefaultValueFactory = _ => 32 };
        var ndf = new Option<int>("--ndf") { Description = "PatchGAN base width.", DefaultValueFactory = _ => 32 };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint folder up to --epochs in total." };
        var schedule = new ScheduleOptions();
        var command = new Command("pix2pix", "Pix2Pix outline -> digit (U-Net + PatchGAN, GAN + 100 L1) on 64x64 MNIST digits.");
        common.AddTo(command);
        command.Options.Add(ngf);
        command.Options.Add(ndf);
        command.Options.Add(resume);
        schedule.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var logger = loggers.CreateLogger("train");
            var options = common.Build(parse, commandLine, new GanArchitecture
            {
                Kind = ModelKind.Pix2Pix,
                GeneratorWidth = parse.GetValue(ngf),
                DiscriminatorWidth = parse.GetValue(ndf),
            }) with { ResumeFrom = parse.GetValue(resume) };
            var result = await ProgressDisplay.RunAsync("pix2pix", logger, progress => new Pix2PixTrainer(options, schedule.Build(parse)).RunAsync(progress, cancellationToken)).ConfigureAwait(false);
            Log.TrainingFinished(logger, result.Steps, result.TrainingSeconds, result.LastCheckpoint);
            return 0;
        });
        return command;
    }

    private static Command CreateCycleGan(ILoggerFactory loggers, string commandLine)
    {
        var common = new CommonOptions("cyclegan-digits", defaultEpochs: 4, defaultBatchSize: 8, defaultLearningRate: 2e-4);
        var ngf = new Option<int>("--ngf") { Description = "ResNet generator base width.", DefaultValueFactory = _ => 16 };
        var ndf = new Option<int>("--ndf") { Description = "PatchGAN base width.", DefaultValueFactory = _ => 32 };
        var blocks = new Option<int>("--blocks") { Description = "Residual blocks per generator.", DefaultValueFactory = _ => TranslationModels.DefaultResidualBlocks };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint folder up to --epochs in total." };
        var schedule = new ScheduleOptions();
        var command = new Command("cyclegan", "CycleGAN grey digits <-> ink-on-paper digits (ResNet generators, PatchGAN, LSGAN, cycle 10, identity 0.5).");
        common.AddTo(command);
        command.Options.Add(ngf);
        command.Options.Add(ndf);
        command.Options.Add(blocks);
        command.Options.Add(resume);
        schedule.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var logger = loggers.CreateLogger("train");
            var options = common.Build(parse, commandLine, new GanArchitecture
            {
                Kind = ModelKind.CycleGan,
                GeneratorWidth = parse.GetValue(ngf),
                DiscriminatorWidth = parse.GetValue(ndf),
                ResidualBlocks = parse.GetValue(blocks),
            }) with { ResumeFrom = parse.GetValue(resume) };
            var result = await ProgressDisplay.RunAsync("cyclegan", logger, progress => new CycleGanTrainer(options, schedule.Build(parse)).RunAsync(progress, cancellationToken)).ConfigureAwait(false);
            Log.TrainingFinished(logger, result.Steps, result.TrainingSeconds, result.LastCheckpoint);
            return 0;
        });
        return command;
    }
}
