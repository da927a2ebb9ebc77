using GanInference.Api.V1;
using GanInference.Client;

namespace GanInference.Cli.Bench;

/// <summary>
/// One benchmark request against a model: the RPC its kind is served by, with fresh seeds each time so
/// the server cannot answer from a cache. Requests take the clients (each its own channel, so its own
/// connections) in turn. Returns the number of images received.
/// </summary>
internal sealed class BenchTarget
{
    private readonly IReadOnlyList<GanClient> _clients;
    private readonly ModelInfo _model;
    private readonly int _count;
    private readonly ImageFormat _format;
    private readonly TimeSpan _deadline;
    private long _nextSeed;

    private long _nextClient;

    public BenchTarget(IReadOnlyList<GanClient> clients, ModelInfo model, int count, ImageFormat format, TimeSpan deadline, ulong firstSeed)
    {
        ModelLookup.RequireSeedDriven(model, "bench");
        _clients = clients;
        _model = model;
        _count = count;
        _format = format;
        _deadline = deadline;
        _nextSeed = unchecked((long)firstSeed);
    }

    public string Rpc => "gan.v1.GanInference/Generate";

    public async Task<int> SendAsync(CancellationToken cancellationToken)
    {
        var seed = unchecked((ulong)Interlocked.Add(ref _nextSeed, _count) - (ulong)_count);
        var request = new GenerateRequest { Model = _model.Name, Count = (uint)_count, Seed = seed, Format = _format };
        var client = _clients[(int)((ulong)Interlocked.Increment(ref _nextClient) % (ulong)_clients.Count)];
        var response = await client.GenerateAsync(request, _deadline, cancellationToken).ConfigureAwait(false);
        return response.Images.Count;
    }
}
