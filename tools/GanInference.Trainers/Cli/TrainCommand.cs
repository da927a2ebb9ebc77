using System.CommandLine;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using Microsoft.Extensions.Logging;

namespace GanInference.Trainers.Cli;

/// <summary><c>train dcgan|cdcgan|classifier</c>.</summary>
internal static partial class TrainCommand
{
    public static Command Create(ILoggerFactory loggers, string commandLine)
    {
        var train = new Command("train", "Train a network on MNIST IDX files.");
        train.Subcommands.Add(CreateGan(ModelKind.Dcgan, "dcgan", "Unconditional DCGAN.", loggers, commandLine));
        train.Subcommands.Add(CreateGan(ModelKind.Cdcgan, "cdcgan", "Class-conditional DCGAN (label embedding in G, projection discriminator).", loggers, commandLine));
        train.Subcommands.Add(CreateClassifier(loggers, commandLine));
        train.Subcommands.Add(CreatePix2Pix(loggers, commandLine)); // image-to-image: TrainCommand.ImageToImage.cs
        train.Subcommands.Add(CreateCycleGan(loggers, commandLine));
        train.Subcommands.Add(CreateStackGan(loggers, commandLine));
        return train;
    }

    private static Command CreateGan(ModelKind kind, string name, string description, ILoggerFactory loggers, string commandLine)
    {
        var common = new CommonOptions(name, defaultEpochs: 20, defaultBatchSize: 64, defaultLearningRate: 2e-4);
        var latent = new Option<int>("--latent") { Description = "Latent dimension.", DefaultValueFactory = _ => 100 };
        var ngf = new Option<int>("--ngf") { Description = "Generator base width.", DefaultValueFactory = _ => 48 };
        var ndf = new Option<int>("--ndf") { Description = "Discriminator base width.", DefaultValueFactory = _ => 48 };
        var beta1 = new Option<double>("--beta1") { Description = "Adam beta1.", DefaultValueFactory = _ => 0.5 };
        var embedding = new Option<int>("--label-embedding") { Description = "Generator label embedding length (cdcgan).", DefaultValueFactory = _ => 32 };
        var head = new Option<DiscriminatorHead>("--d-head") { Description = "Discriminator head (dcgan): conv (the original) or minibatchstd.", DefaultValueFactory = _ => DiscriminatorHead.Conv };
        var resume = new Option<string?>("--resume") { Description = "Continue from a checkpoint folder up to --epochs in total (same run folder; appends to loss.csv)." };
        var ema = new Option<double>("--g-ema") { Description = "Also keep an exponential moving average of the generator's weights with this decay per step (e.g. 0.999; 0 = none), saved in each checkpoint; export --ema exports it.", DefaultValueFactory = _ => 0.0 };

        var latentClasses = new Option<bool>("--latent-classes") { Description = "dcgan: class-conditional inside, with the class read from z (the largest of its first 10 coordinates) and a projection discriminator given the real digits' labels; the model still takes z alone (docs/training.md)." };
        var translate = new Option<double>("--d-translate") { Description = "Shift every image the discriminator sees, real and generated, by a random whole-pixel offset of up to this fraction of its size (DiffAugment's translation, e.g. 0.125; 0 = none).", DefaultValueFactory = _ => 0.0 };

        var command = new Command(name, description);
        common.AddTo(command);
        command.Options.Add(ema);
        command.Options.Add(translate);
        command.Options.Add(latent);
        command.Options.Add(ngf);
        command.Options.Add(ndf);
        command.Options.Add(beta1);
        command.Options.Add(resume);
        if (kind == ModelKind.Cdcgan)
        {
            command.Options.Add(embedding);
        }
        else
        {
            command.Options.Add(head);
            command.Options.Add(latentClasses);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var logger = loggers.CreateLogger("train");
            var options = common.Build(parse, commandLine, new GanArchitecture
            {
                Kind = kind,
                LatentDimension = parse.GetValue(latent),
                GeneratorWidth = parse.GetValue(ngf),
                DiscriminatorWidth = parse.GetValue(ndf),
                LabelEmbeddingDimension = kind == ModelKind.Cdcgan ? parse.GetValue(embedding) : new GanArchitecture().LabelEmbeddingDimension,
                DiscriminatorHead = kind == ModelKind.Dcgan ? parse.GetValue(head) : DiscriminatorHead.Conv,
                LatentClasses = kind == ModelKind.Dcgan && parse.GetValue(latentClasses),
            }) with
            {
                Beta1 = parse.GetValue(beta1),
                GeneratorEmaDecay = parse.GetValue(ema),
                TranslationAugment = parse.GetValue(translate),
                ResumeFrom = parse.GetValue(resume),
                ExplicitOptions = new Option[] { latent, ngf, ndf, embedding, head, latentClasses }
                    .Where(o => parse.GetResult(o) is { Implicit: false })
                    .Select(o => o.Name)
                    .ToHashSet(),
            };
            var result = await ProgressDisplay.RunAsync(name, logger, progress => new GanTrainer(options).RunAsync(progress, cancellationToken)).ConfigureAwait(false);
            Log.TrainingFinished(logger, result.Steps, result.TrainingSeconds, result.LastCheckpoint);
            return 0;
        });
        return command;
    }

    private static Command CreateStackGan(ILoggerFactory loggers, string commandLine)
    {
        var common = new CommonOptions("stackgan", defaultEpochs: 10, defaultBatchSize: 64, defaultLearningRate: 2e-4);
        var stage = new Option<int>("--stage") { Description = "1: pre-train the text encoder, then Stage-I (32×32); 2: Stage-II (64×64) on a frozen Stage-I.", Required = true };
        var stageOne = new Option<string?>("--stage1") { Description = "Stage 2: the Stage-I checkpoint folder (runs/NAME/checkpoints/latest)." };
        var encoderSteps = new Option<int?>("--encoder-steps") { Description = $"Stage 1: caption batches (256 each) of text-encoder pre-training (default {TextToImage.StackGanOptions.DefaultEncoderSteps}; refused with --stage1-init, which pre-trains nothing)." };
        var dLr = new Option<double>("--d-lr-scale") { Description = "Discriminator learning rate as a multiple of --lr.", DefaultValueFactory = _ => 1.0 };
        var ngf1 = new Option<int>("--ngf1") { Description = "Stage-I generator base width (its 4×4 maps have 8×).", DefaultValueFactory = _ => new TextToImage.StackGanArchitecture().StageOneWidth };
        var ngf2 = new Option<int>("--ngf2") { Description = "Stage-II generator base width.", DefaultValueFactory = _ => new TextToImage.StackGanArchitecture().StageTwoWidth };
        var ndf = new Option<int>("--ndf") { Description = "Discriminator base width.", DefaultValueFactory = _ => new TextToImage.StackGanArchitecture().DiscriminatorWidth };
        var instanceNoise = new Option<double>("--instance-noise") { Description = "Std of Gaussian noise added to every image the discriminator sees.", DefaultValueFactory = _ => 0.0 };
        var projection = new Option<bool>("--d-projection") { Description = "Add a projection term (text embedding · pooled image features) to the discriminators' logit." };
        var stageOneInit = new Option<string?>("--stage1-init") { Description = "Stage 1: start from this Stage-I checkpoint's generator and text encoder (a training checkpoint or an import-stage1 folder; its architecture) with a fresh discriminator, instead of random weights and encoder pre-training (a fine-tune)." };
        var average = new Option<int>("--stage1-average") { Description = "Stage 2: use the mean Stage-I weights of this many epoch checkpoints up to --stage1 (1 = that checkpoint alone).", DefaultValueFactory = _ => 1 };
        var stageOneTruncation = new Option<float>("--stage1-truncation") { Description = "Stage 2 with --stage1-average > 1: re-estimate the averaged Stage-I's BatchNorm statistics at this truncation of z and the CA noise; use the truncation the export will ship (export --truncation).", DefaultValueFactory = _ => 0f };
        var paper = new Option<bool>("--stage2-paper") { Description = "Stage 2: the StackGAN paper's Stage-II: nearest-neighbour x2 + 3x3 convolution upsampling, BatchNorm residual blocks, and with --stage2-residual a bilinear Stage-I base." };
        var antiAlias = new Option<bool>("--stage2-antialias") { Description = "Stage 2: pass the refinement through a fixed 3x3 binomial low-pass filter (zero response at the 2-pixel period), so Stage-II cannot paint a pixel checkerboard or column stripe." };
        var residual = new Option<bool>("--stage2-residual") { Description = "Stage 2: add the generator's output to the upsampled Stage-I image (it starts as a copy of Stage-I and learns the refinement)." };
        var noDNorm = new Option<bool>("--d-no-batchnorm") { Description = "Discriminators without BatchNorm." };
        var auxiliaryWeight = new Option<double>("--aux-weight") { Description = "Weight of the auxiliary attribute classifier terms: D reads digit, colour and background of real images, G is rewarded when D reads its caption's (0 = off).", DefaultValueFactory = _ => 0.0 };
        var auxThickness = new Option<bool>("--aux-thickness") { Description = "The auxiliary classifier also reads thickness (thin / regular / thick): D on real images, G on captions that state one; needs --aux-weight > 0. Off in the shipped recipe." };
        var thicknessWeight = new Option<double?>("--aux-thickness-weight") { Description = "With --aux-thickness: weight of the thickness term in place of --aux-weight (default: --aux-weight), e.g. to learn thickness without pulling as hard as the digit does." };
        var warmup = new Option<int>("--d-warmup-steps") { Description = "Discriminator-only steps against the starting generator before training starts, e.g. for the fresh discriminator of a --stage1-init fine-tune (0 = none, the shipped recipes; refused with --resume).", DefaultValueFactory = _ => 0 };
        var thicknessNegatives = new Option<double>("--thickness-negatives") { Description = "Share (0-1) of the wrong-caption negatives that differ from the image only in thickness, stated (0 = none, the shipped recipe).", DefaultValueFactory = _ => 0.0 };
        var klWeight = new Option<double>("--kl-weight") { Description = "Weight of Conditioning Augmentation's KL term.", DefaultValueFactory = _ => new TextToImage.StackGanOptions { Stage = 1 }.KlWeight };
        var classifier = new Option<string>("--classifier") { Description = "Exported MNIST classifier for the per-epoch held-out figures (heldout.csv); skipped, with a warning, when the file is missing.", DefaultValueFactory = _ => Path.Combine("eval", "mnist-classifier", "model.onnx") };
        var resume = new Option<string?>("--resume") { Description = "Continue a run of the same --stage from its checkpoint folder up to --epochs in total (same run folder; appends to loss.csv and heldout.csv)." };
        var consistency = new Option<double>("--stage2-consistency") { Description = "Stage 2: weight of the mean |difference| between the Stage-II image area-downsized to 32×32 and the Stage-I image it refines (0 = off, the shipped recipe).", DefaultValueFactory = _ => 0.0 };
        var gSteps = new Option<int>("--g-steps") { Description = "Generator steps per discriminator step.", DefaultValueFactory = _ => 1 };
        var command = new Command("stackgan", "StackGAN-style text-to-image on captioned colour digits (docs/text-to-image.md).");
        common.AddTo(command);
        command.Options.Add(stage);
        command.Options.Add(stageOne);
        command.Options.Add(stageOneInit);
        command.Options.Add(encoderSteps);
        command.Options.Add(dLr);
        command.Options.Add(gSteps);
        command.Options.Add(resume);
        command.Options.Add(residual);
        command.Options.Add(average);
        command.Options.Add(stageOneTruncation);
        command.Options.Add(paper);
        command.Options.Add(antiAlias);
        command.Options.Add(consistency);
        command.Options.Add(ngf1);
        command.Options.Add(noDNorm);
        command.Options.Add(projection);
        command.Options.Add(auxiliaryWeight);
        command.Options.Add(auxThickness);
        command.Options.Add(thicknessWeight);
        command.Options.Add(thicknessNegatives);
        command.Options.Add(warmup);
        command.Options.Add(klWeight);
        command.Options.Add(classifier);
        command.Options.Add(instanceNoise);
        command.Options.Add(ngf2);
        command.Options.Add(ndf);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var logger = loggers.CreateLogger("train");
            var stageNumber = parse.GetValue(stage);
            var kind = stageNumber == 2 ? ModelKind.StackGanStageTwo : ModelKind.StackGanStageOne;
            var options = common.Build(parse, commandLine, new GanArchitecture { Kind = kind }) with { ResumeFrom = parse.GetValue(resume) };
            var stack = new TextToImage.StackGanOptions { Stage = stageNumber, StageOneCheckpoint = parse.GetValue(stageOne), StageOneInitialization = parse.GetValue(stageOneInit), EncoderSteps = parse.GetValue(encoderSteps), DiscriminatorLearningRateScale = parse.GetValue(dLr), GeneratorSteps = parse.GetValue(gSteps), InstanceNoise = parse.GetValue(instanceNoise), AuxiliaryWeight = parse.GetValue(auxiliaryWeight), ThicknessWeight = parse.GetValue(thicknessWeight), DiscriminatorWarmupSteps = parse.GetValue(warmup), StageOneAverageEpochs = parse.GetValue(average), StageOneTruncation = parse.GetValue(stageOneTruncation), KlWeight = parse.GetValue(klWeight), ClassifierPath = parse.GetValue(classifier), ThicknessNegatives = parse.GetValue(thicknessNegatives), StageTwoConsistency = parse.GetValue(consistency),
                Networks = new TextToImage.StackGanArchitecture { StageOneWidth = parse.GetValue(ngf1), StageTwoWidth = parse.GetValue(ngf2), DiscriminatorWidth = parse.GetValue(ndf), DiscriminatorBatchNorm = !parse.GetValue(noDNorm), DiscriminatorProjection = parse.GetValue(projection), StageTwoResidual = parse.GetValue(residual), StageTwoPaper = parse.GetValue(paper), StageTwoAntiAlias = parse.GetValue(antiAlias), DiscriminatorThickness = parse.GetValue(auxThickness) } };
            if (stack.ClassifierPath is { } classifierPath && !File.Exists(classifierPath))
            {
                Log.NoHeldOutFigures(logger, classifierPath, Environment.CurrentDirectory);
            }

            var result = await ProgressDisplay.RunAsync($"stackgan stage {stageNumber}", logger, progress => new TextToImage.StackGanTrainer(options, stack).RunAsync(progress, cancellationToken)).ConfigureAwait(false);
            Log.TrainingFinished(logger, result.Steps, result.TrainingSeconds, result.LastCheckpoint);
            return 0;
        });
        return command;
    }

    private static Command CreateClassifier(ILoggerFactory loggers, string commandLine)
    {
        var common = new CommonOptions("classifier", defaultEpochs: 6, defaultBatchSize: 128, defaultLearningRate: 1e-3);
        var command = new Command("classifier", "The MNIST CNN that `evaluate` uses as its feature extractor.");
        common.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var logger = loggers.CreateLogger("train");
            var options = common.Build(parse, commandLine, new GanArchitecture { Kind = ModelKind.Classifier });
            var (result, accuracy) = await ProgressDisplay.RunAsync("classifier", logger, progress => new ClassifierTrainer(options).RunAsync(progress, cancellationToken)).ConfigureAwait(false);
            Log.TrainingFinished(logger, result.Steps, result.TrainingSeconds, result.LastCheckpoint);
            Log.ClassifierAccuracy(logger, accuracy);
            return 0;
        });
        return command;
    }

    /// <summary>Options every <c>train</c> command shares.</summary>
    private sealed class CommonOptions(string runName, int defaultEpochs, int defaultBatchSize, double defaultLearningRate)
    {
        private readonly Option<string> data = new("--data") { Description = "Folder of MNIST IDX files (.gz or plain).", Required = true };
        private readonly Option<string> run = new("--run") { Description = "Run folder for checkpoints, loss.csv and sample grids.", DefaultValueFactory = _ => Path.Combine("runs", runName) };
        private readonly Option<int> epochs = new("--epochs") { Description = "Passes over the training set.", DefaultValueFactory = _ => defaultEpochs };
        private readonly Option<int> batchSize = new("--batch-size") { Description = "Images per step.", DefaultValueFactory = _ => defaultBatchSize };
        private readonly Option<double> learningRate = new("--lr") { Description = "Adam learning rate.", DefaultValueFactory = _ => defaultLearningRate };
        private readonly Option<ulong> seed = new("--seed") { Description = "Seed of weights, shuffling and noise (makes a run reproducible).", DefaultValueFactory = _ => 1UL };
        private readonly Option<int> threads = new("--threads") { Description = "libtorch threads (0 = default; use 1 per process when running two at once).", DefaultValueFactory = _ => 0 };
        private readonly Option<long> maxSteps = new("--max-steps") { Description = "Stop after this many steps (0 = all epochs).", DefaultValueFactory = _ => 0L };

        public void AddTo(Command command)
        {
            foreach (var option in new Option[] { data, run, epochs, batchSize, learningRate, seed, threads, maxSteps })
            {
                command.Options.Add(option);
            }
        }

        public TrainingOptions Build(ParseResult parse, string commandLine, GanArchitecture architecture) => new()
        {
            Architecture = architecture,
            DataDirectory = parse.GetValue(data)!,
            RunDirectory = parse.GetValue(run)!,
            Epochs = parse.GetValue(epochs),
            BatchSize = parse.GetValue(batchSize),
            LearningRate = parse.GetValue(learningRate),
            Seed = parse.GetValue(seed),
            Threads = parse.GetValue(threads),
            MaxSteps = parse.GetValue(maxSteps),
            Command = commandLine,
        };
    }
}
