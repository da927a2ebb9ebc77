using GanInference.Core.Repository;
using GanInference.Server.Options;
using Grpc.Health.V1;
using Grpc.HealthCheck;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Hosting;

/// <summary>
/// Loads the model repository before the server takes traffic and publishes health: the overall
/// service ("") and one entry per model and pipeline name. When the host begins to stop (SIGTERM, Ctrl+C,
/// <see cref="IHostApplicationLifetime.StopApplication"/>) it marks everything NOT_SERVING, refuses new
/// calls (<see cref="ServingState"/>), starts the drain clock (<see cref="ShutdownOptions.DrainTimeoutSeconds"/>)
/// and waits <see cref="ShutdownOptions.NotServingDelaySeconds"/>; then Kestrel stops listening and lets the
/// running calls finish, and finally each model's queue drains before the sessions are released.
/// </summary>
internal sealed partial class ModelServingService(
    ModelRepository repository,
    HealthServiceImpl health,
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
        _stoppingRegistration = lifetime.ApplicationStopping.Register(() => BeginDrain());
        LogServing(logger, repository.Models.Count, repository.Pipelines.Count, repository.RootPath);
    }

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs before Kestrel stops listening (hosted services stop after every lifecycle service's StoppingAsync).</summary>
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        BeginDrain();
        if (shutdown.Value.NotServingDelaySeconds > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds(shutdown.Value.NotServingDelaySeconds), cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stoppingRegistration.DisposeAsync().ConfigureAwait(false);
        BeginDrain();
        await repository.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private bool BeginDrain()
    {
        if (!servingState.BeginDrain(TimeSpan.FromSeconds(shutdown.Value.NotServingDelaySeconds + shutdown.Value.DrainTimeoutSeconds)))
        {
            return false;
        }

        health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.NotServing);
        foreach (var name in repository.Names)
        {
            health.SetStatus(name, HealthCheckResponse.Types.ServingStatus.NotServing);
        }

        LogDraining(logger, shutdown.Value.DrainTimeoutSeconds);
        return true;
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Serving {Count} models and {Pipelines} pipelines from {Path}")]
    private static partial void LogServing(ILogger logger, int count, int pipelines, string path);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Shutting down: health is NOT_SERVING, new calls get UNAVAILABLE, running calls have {DrainSeconds} s to finish")]
    private static partial void LogDraining(ILogger logger, double drainSeconds);
}
