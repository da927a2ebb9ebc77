using System.Threading.Channels;
using Grpc.Core;
using Grpc.Health.V1;
using static Grpc.Health.V1.HealthCheckResponse.Types;

namespace GanInference.Server.Hosting;

/// <summary>
/// <c>grpc.health.v1.Health</c>: the overall status (<c>""</c>) and one per model and pipeline name. Unlike
/// Grpc.HealthCheck's implementation, <c>Watch</c> calls end when the server starts stopping (after they have
/// been sent NOT_SERVING), with UNAVAILABLE: an idle watch would otherwise hold the drain open until the host's
/// shutdown timeout and end in a connection reset.
/// </summary>
internal sealed class ServingHealthService : Health.HealthBase
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, ServingStatus> _statuses = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<ChannelWriter<ServingStatus>>> _watchers = new(StringComparer.Ordinal);
    private bool _ended;

    /// <summary>Sets a service's status and tells its watchers.</summary>
    public void SetStatus(string service, ServingStatus status)
    {
        lock (_gate)
        {
            _statuses[service] = status;
            Notify(service, status);
        }
    }

    /// <summary>Forgets a service (a model that was unloaded): Check answers NOT_FOUND, watchers see SERVICE_UNKNOWN.</summary>
    public void ClearStatus(string service)
    {
        lock (_gate)
        {
            _statuses.Remove(service);
            Notify(service, ServingStatus.ServiceUnknown);
        }
    }

    /// <summary>Marks every service NOT_SERVING, then ends every Watch call (and refuses new ones).</summary>
    public void EndWatches()
    {
        lock (_gate)
        {
            foreach (var service in _statuses.Keys.ToArray())
            {
                _statuses[service] = ServingStatus.NotServing;
                Notify(service, ServingStatus.NotServing);
            }

            _ended = true;
            foreach (var writer in _watchers.Values.SelectMany(w => w))
            {
                writer.TryComplete();
            }

            _watchers.Clear();
        }
    }

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        lock (_gate)
        {
            return _statuses.TryGetValue(request.Service, out var status)
                ? Task.FromResult(new HealthCheckResponse { Status = status })
                : throw new RpcException(new Status(StatusCode.NotFound, $"no service named '{request.Service}'"));
        }
    }

    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> responseStream, ServerCallContext context)
    {
        // Only the latest status matters to a watcher, so a slow reader never makes the queue grow.
        var updates = Channel.CreateBounded<ServingStatus>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
        lock (_gate)
        {
            if (_ended)
            {
                throw ShuttingDown();
            }

            updates.Writer.TryWrite(_statuses.TryGetValue(request.Service, out var current) ? current : ServingStatus.ServiceUnknown);
            if (!_watchers.TryGetValue(request.Service, out var list))
            {
                _watchers[request.Service] = list = [];
            }

            list.Add(updates.Writer);
        }

        try
        {
            await foreach (var status in updates.Reader.ReadAllAsync(context.CancellationToken).ConfigureAwait(false))
            {
                await responseStream.WriteAsync(new HealthCheckResponse { Status = status }, context.CancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            lock (_gate)
            {
                if (_watchers.TryGetValue(request.Service, out var list))
                {
                    list.Remove(updates.Writer);
                }
            }
        }

        // The channel was completed by EndWatches: the server is stopping.
        throw ShuttingDown();
    }

    private static RpcException ShuttingDown() =>
        new(new Status(StatusCode.Unavailable, "the server is shutting down; watch another instance"));

    private void Notify(string service, ServingStatus status)
    {
        if (_watchers.TryGetValue(service, out var list))
        {
            foreach (var writer in list)
            {
                writer.TryWrite(status);
            }
        }
    }
}
