using GanInference.Core.Repository;
using Grpc.Health.V1;
using Grpc.HealthCheck;

namespace GanInference.Server.Hosting;

/// <summary>
/// Loads the model repository before the server takes traffic and publishes health: the overall
/// service ("") and one entry per model name. When the host begins to stop it marks everything
/// NOT_SERVING, refuses new calls (<see cref="ServingState"/>), and, after Kestrel has drained the
/// running calls, lets each model's queue drain before the sessions are released.
/// </summary>
internal sealed partial class ModelServingService(
    ModelRepository repository,
    HealthServiceImpl health,
    ServingState servingState,
    IHostApplicationLifetime lifetime,
    ILogger<ModelServingService> logger) : IHostedService
{
    private CancellationTokenRegistration _stoppingRegistration;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.NotServing);
        await repository.LoadAsync(cancellationToken).ConfigureAwait(false);
        foreach (var model in repository.Models)
        {
            health.SetStatus(model.Name, HealthCheckResponse.Types.ServingStatus.Serving);
        }

        health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.Serving);
        _stoppingRegistration = lifetime.ApplicationStopping.Register(BeginDrain);
        LogServing(logger, repository.Models.Count, repository.RootPath);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stoppingRegistration.DisposeAsync().ConfigureAwait(false);
        BeginDrain();
        await repository.StopAsync(cancellationToken).ConfigureAwait(false);
    }

    private void BeginDrain()
    {
        if (servingState.IsDraining)
        {
            return;
        }

        servingState.BeginDrain();
        health.SetStatus(string.Empty, HealthCheckResponse.Types.ServingStatus.NotServing);
        foreach (var model in repository.Models)
        {
            health.SetStatus(model.Name, HealthCheckResponse.Types.ServingStatus.NotServing);
        }

        LogDraining(logger);
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Information, Message = "Serving {Count} models from {Path}")]
    private static partial void LogServing(ILogger logger, int count, string path);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Information, Message = "Shutting down: health is NOT_SERVING, new calls get UNAVAILABLE, running calls drain")]
    private static partial void LogDraining(ILogger logger);
}
