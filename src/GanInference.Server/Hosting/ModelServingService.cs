using GanInference.Core.Repository;
using GanInference.Server.Options;
using Grpc.Health.V1;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Hosting;

/// <summary>
/// Loads the model repository before the server takes traffic and publishes health: the overall
/// service ("") and one entry per model and pipeline name. When the host begins to stop (SIGTERM, Ctrl+C,
/// <see cref="IHostApplicationLifetime.StopApplication"/>) it marks everything NOT_SERVING, ends health watches and
/// starts the drain clock, keeps serving calls for <see cref="ShutdownOptions.NotServingDelaySeconds"/> (the time
/// load balancers need to see NOT_SERVING), then refuses new calls (<see cref="ServingState"/>); Kestrel stops
/// listening and lets the running calls finish within <see cref="ShutdownOptions.DrainTimeoutSeconds"/>, and
/// finally each model's queue drains before the sessions are released.
/// </summary>
internal sealed partial class ModelServingService(
    ModelRepository repository,
    ServingHealthService health,
    ServingState servingState,
    IOptions<ShutdownOptions> shutdown,
    IHostApplicationLifetime lifetime,
    ILogger<ModelServingService> logger) : IHostedLifecycleService
{
    private CancellationTokenRegistration _stoppingRegistration;

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.NotServing);
        await repository.LoadAsync(cancellationToken).ConfigureAwait(false);
        foreach (var name in repository.Names)
        {
            health.SetStatus(name, HealthCheckResponse.Types.ServingStatus.Serving);
        }

        health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.Serving);

        // StopApplication (SIGTERM's first step) fires this before the host starts stopping services.
        _stoppingRegistration = lifetime.ApplicationStopping.Register(() => BeginStopping());
        LogServing(logger, repository.Models.Count, repository.Pipelines.Count, repository.RootPath);
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs before Kestrel stops listening (hosted services stop after every lifecycle service's StoppingAsync).</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        BeginStopping();
        try
        {
            if (shutdown.Value.NotServingDelaySeconds > 0)
            {
                // Calls are still served here: the delay exists so load balancers stop sending before calls are refused.
                await Task.Delay(TimeSpan.FromSeconds(shutdown.Value.NotServingDelaySeconds), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            servingState.RefuseNewCalls();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stoppingRegistration.DisposeAsync().ConfigureAwait(false);
        BeginStopping();
        servingState.RefuseNewCalls();
        await repository.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private void BeginStopping()
    {
        if (servingState.BeginStopping(TimeSpan.FromSeconds(shutdown.Value.NotServingDelaySeconds), TimeSpan.FromSeconds(shutdown.Value.DrainTimeoutSeconds)))
        {
            // Every status turns NOT_SERVING, and Watch calls end so they do not hold the drain open.
            health.EndWatches();
            LogDraining(logger, shutdown.Value.NotServingDelaySeconds, shutdown.Value.DrainTimeoutSeconds);
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Serving {Count} models and {Pipelines} pipelines from {Path}")]
    private static partial void LogServing(ILogger logger, int count, int pipelines, string path);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Shutting down: health is NOT_SERVING, calls are served for {DelaySeconds} s more, then refused; running calls have {DrainSeconds} s after that to finish")]
    private static partial void LogDraining(ILogger logger, double delaySeconds, double drainSeconds);
}
