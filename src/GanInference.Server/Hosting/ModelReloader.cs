using System.Threading.Channels;
using GanInference.Core.Errors;
using GanInference.Core.Repository;
using Grpc.Health.V1;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Hosting;

/// <summary>
/// Hot reload: rescans the model repository when its files change (file watching, debounced), every
/// <see cref="ModelRepositoryOptions.PollIntervalSeconds"/> (file events are lost on some mounts), and when an
/// operator calls <c>GanAdmin.ReloadModels</c>; then publishes the new models' health. The repository does the
/// swapping: see <see cref="ModelRepository.ReloadAsync"/>.
/// </summary>
internal sealed partial class ModelReloader(
    ModelRepository repository,
    ServingHealthService health,
    ServingState servingState,
    IOptions<ModelRepositoryOptions> options,
    ILogger<ModelReloader> logger) : BackgroundService
{
    // At most one pending "something changed": events that arrive while one is pending add nothing.
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });
    private readonly ModelRepositoryOptions _options = options.Value;

    /// <summary>Delay of the confirming scan after an event-driven one.</summary>
    private TimeSpan ConfirmDelay => TimeSpan.FromMilliseconds(Math.Max(1000, 4 * _options.ReloadDebounceMilliseconds));

    /// <summary>Poll interval used when watching was asked for, is impossible, and no poll interval is configured.</summary>
    private static TimeSpan FallbackPollInterval => TimeSpan.FromSeconds(10);

    /// <summary>Rescans now and publishes health; the admin RPC's implementation.</summary>
    /// <exception cref="ServiceUnavailableException">The server is shutting down.</exception>
    public async Task<ModelReloadReport> ReloadNowAsync(CancellationToken cancellationToken)
    {
        if (servingState.IsStopping)
        {
            throw new ServiceUnavailableException("the server is shutting down; models are not reloaded");
        }

        var report = await repository.ReloadAsync(cancellationToken).ConfigureAwait(false);
        PublishHealth(report);
        foreach (var change in report.Changes)
        {
            LogChange(logger, change.Folder, change.Kind, change.Reason ?? string.Empty);
        }

        return report;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var poll = _options.PollIntervalSeconds > 0 ? TimeSpan.FromSeconds(_options.PollIntervalSeconds) : Timeout.InfiniteTimeSpan;
        if (!_options.Watch && poll == Timeout.InfiniteTimeSpan)
        {
            return;
        }

        using var watcher = _options.Watch ? CreateWatcher() : null;
        if (_options.Watch && watcher is null && poll == Timeout.InfiniteTimeSpan)
        {
            // Watching was asked for but is impossible here: poll instead, so changes are still picked up.
            poll = FallbackPollInterval;
        }

        // ExecuteAsync runs after the host has started (and after the first load), so a folder added in between
        // raised no event: confirm with one scan shortly after the watch begins.
        var confirm = watcher is not null;
        while (!stoppingToken.IsCancellationRequested && !servingState.IsStopping)
        {
            try
            {
                var changed = await WaitForChangeAsync(confirm ? ConfirmDelay : poll, stoppingToken).ConfigureAwait(false);
                if (changed)
                {
                    await DebounceAsync(stoppingToken).ConfigureAwait(false);
                }

                if (servingState.IsStopping)
                {
                    break;
                }

                await ReloadNowAsync(stoppingToken).ConfigureAwait(false);

                // One more scan shortly after every event-driven one: inotify misses files written into a brand-new
                // folder before its watch is added, so a folder copied in can look incomplete at the first scan.
                confirm = changed;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // The models already served keep serving; the next change or poll tries again.
                LogReloadFailed(logger, ex, repository.RootPath);
            }
        }
    }

    private FileSystemWatcher? CreateWatcher()
    {
        if (!Directory.Exists(repository.RootPath))
        {
            LogNotWatching(logger, repository.RootPath, "the folder does not exist");
            return null;
        }

        var watcher = new FileSystemWatcher(repository.RootPath)
        {
            IncludeSubdirectories = true,
            NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size,
        };
        watcher.Created += (_, _) => _changed.Writer.TryWrite(true);
        watcher.Changed += (_, _) => _changed.Writer.TryWrite(true);
        watcher.Deleted += (_, _) => _changed.Writer.TryWrite(true);
        watcher.Renamed += (_, _) => _changed.Writer.TryWrite(true);

        // A lost event (buffer overflow) means "anything may have changed": rescan.
        watcher.Error += (_, _) => _changed.Writer.TryWrite(true);
        try
        {
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or PlatformNotSupportedException)
        {
            // E.g. Linux's inotify instance limit (fs.inotify.max_user_instances) is reached. Not fatal: polling takes over.
            watcher.Dispose();
            LogNotWatching(logger, repository.RootPath, ex.Message);
            return null;
        }
    }

    /// <summary>True when a file event arrived; false when the poll interval passed first.</summary>
    private async Task<bool> WaitForChangeAsync(TimeSpan poll, CancellationToken stoppingToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        timeout.CancelAfter(poll);
        try
        {
            await _changed.Reader.ReadAsync(timeout.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return false;
        }
    }

    /// <summary>Waits until the files have been quiet for the debounce time, so a folder being copied is read whole.</summary>
    private async Task DebounceAsync(CancellationToken stoppingToken)
    {
        var quiet = TimeSpan.FromMilliseconds(Math.Max(0, _options.ReloadDebounceMilliseconds));
        do
        {
            await Task.Delay(quiet, stoppingToken).ConfigureAwait(false);
        }
        while (_changed.Reader.TryRead(out _));
    }

    private void PublishHealth(ModelReloadReport report)
    {
        if (servingState.IsStopping)
        {
            return;
        }

        foreach (var change in report.Changes)
        {
            switch (change.Kind)
            {
                case ModelChangeKind.Added:
                case ModelChangeKind.Replaced:
                    health.SetStatus(change.Folder, HealthCheckResponse.Types.ServingStatus.Serving);
                    break;
                case ModelChangeKind.Removed:
                    health.ClearStatus(change.Folder);
                    break;
                case ModelChangeKind.Failed when !change.StillServing:
                    // Nothing serves this name now (e.g. a pipeline whose step was removed); a name that never served has no entry.
                    health.ClearStatus(change.Folder);
                    break;
                case ModelChangeKind.Failed:
                default:
                    // A failed folder that keeps its previous version stays SERVING.
                    break;
            }
        }
    }

    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Model folder {Folder}: {Kind} {Reason}")]
    private static partial void LogChange(ILogger logger, string folder, ModelChangeKind kind, string reason);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Error, Message = "Reloading the model repository {Path} failed; the loaded models keep serving")]
    private static partial void LogReloadFailed(ILogger logger, Exception exception, string path);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Warning, Message = "Model repository {Path} is not watched ({Reason}); polling and GanAdmin.ReloadModels still pick up changes")]
    private static partial void LogNotWatching(ILogger logger, string path, string reason);
}
