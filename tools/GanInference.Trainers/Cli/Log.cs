using Microsoft.Extensions.Logging;

namespace GanInference.Trainers.Cli;

/// <summary>The tool's log messages (source-generated).</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "{Title}: epoch {Epoch}/{Epochs} step {Step}/{TotalSteps}  {Metrics}  {ImagesPerSecond:F0} img/s  ETA {Eta}")]
    public static partial void TrainingProgress(ILogger logger, string title, int epoch, int epochs, long step, long totalSteps, string metrics, double imagesPerSecond, string eta);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Training finished: {Steps} steps in {Seconds:F0} s; last checkpoint {Checkpoint}")]
    public static partial void TrainingFinished(ILogger logger, long steps, double seconds, string checkpoint);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Classifier test accuracy {Accuracy:P2}")]
    public static partial void ClassifierAccuracy(ILogger logger, double accuracy);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "Exported {Kind} to {Directory}")]
    public static partial void Exported(ILogger logger, string kind, string directory);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "Evaluation of {Model}: {Summary}")]
    public static partial void Evaluated(ILogger logger, string model, string summary);

    [LoggerMessage(EventId = 6, Level = LogLevel.Error, Message = "{Message}")]
    public static partial void CommandFailed(ILogger logger, string message);

    [LoggerMessage(EventId = 7, Level = LogLevel.Warning, Message = "No heldout.csv: --classifier {Path} does not exist (relative paths start at {WorkingDirectory}); pass the exported classifier's path for per-epoch held-out figures")]
    public static partial void NoHeldOutFigures(ILogger logger, string path, string workingDirectory);
}
