using System.Diagnostics;
using GanInference.Trainers.Training;
using Microsoft.Extensions.Logging;
using Spectre.Console;

namespace GanInference.Trainers.Cli;

/// <summary>
/// Shows training progress: a live Spectre.Console bar on a terminal; log lines every few
/// seconds when output is redirected (a live display would print nothing useful to a log file).
/// </summary>
internal static class ProgressDisplay
{
    private static readonly TimeSpan LogInterval = TimeSpan.FromSeconds(15);

    public static async Task<T> RunAsync<T>(string title, ILogger logger, Func<IProgress<TrainingProgress>, Task<T>> work)
    {
        if (!AnsiConsole.Profile.Capabilities.Interactive)
        {
            return await work(new LogLineProgress(title, logger)).ConfigureAwait(false);
        }

        T result = default!;
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(
                new TaskDescriptionColumn { Alignment = Justify.Left },
                new ProgressBarColumn { Width = 16 },
                new RemainingTimeColumn())
            .StartAsync(async context =>
            {
                var task = context.AddTask(Markup.Escape(title), maxValue: 1);
                result = await work(new SpectreProgress(title, task)).ConfigureAwait(false);
                task.StopTask();
            }).ConfigureAwait(false);
        return result;
    }

    /// <summary>Reports synchronously on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
    private sealed class SpectreProgress(string title, ProgressTask task) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            task.MaxValue = value.TotalSteps;
            task.Value = value.Step;
            task.Description = Markup.Escape(FormattableString.Invariant(
                $"{title} {value.Epoch}/{value.Epochs} {value.Step}/{value.TotalSteps} {value.MetricsText} {value.ImagesPerSecond:F0}/s"));
        }
    }

    private sealed class LogLineProgress(string title, ILogger logger) : IProgress<TrainingProgress>
    {
        private readonly Stopwatch sinceLastLine = Stopwatch.StartNew();
        private int lastEpoch;

        public void Report(TrainingProgress value)
        {
            var epochEnded = value.Epoch != lastEpoch && lastEpoch != 0;
            if (sinceLastLine.Elapsed < LogInterval && value.Step != value.TotalSteps && !epochEnded && value.Step != 1)
            {
                return;
            }

            lastEpoch = value.Epoch;
            sinceLastLine.Restart();
            Log.TrainingProgress(logger, title, value.Epoch, value.Epochs, value.Step, value.TotalSteps, value.MetricsText, value.ImagesPerSecond, value.Eta.ToString(@"hh\:mm\:ss", System.Globalization.CultureInfo.InvariantCulture));
        }
    }
}
