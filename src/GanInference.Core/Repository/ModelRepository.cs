using System.Collections.Frozen;
using GanInference.Core.Errors;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace GanInference.Core.Repository;

/// <summary>
/// The models being served. <see cref="ReloadAsync"/> scans the repository folder: each new or changed
/// sub-folder's manifest is read, checked against its ONNX graph, given a session and a batcher, and
/// warmed up with one run; then the set of models is swapped as a whole. A bad folder is logged with its
/// reason and skipped (a model it held before keeps serving); the rest are served. Replaced and removed
/// models are retired: new requests go to the new snapshot, requests holding a <see cref="ModelLease"/>
/// finish on the old session, which is then released.
/// </summary>
/// <remarks>
/// The repository itself is the hot path: one immutable <see cref="Snapshot"/> read by <see cref="Get"/>, <see cref="TryGet"/> and
/// <see cref="Acquire"/>, and the retiring of replaced models. Reading folders, creating sessions and engines and
/// binding pipelines is <see cref="ModelFolderLoader"/>'s.
/// </remarks>
public sealed partial class ModelRepository : IAsyncDisposable
{
    /// <summary>Batch size used when neither manifest nor configuration gives one.</summary>
    public const int DefaultMaxBatchSize = 64;

    /// <summary>Queue delay used when neither manifest nor configuration gives one.</summary>
    public const double DefaultMaxQueueDelayMs = 2;

    /// <summary>
    /// Batches in flight at once when neither manifest nor configuration gives a number: two, so the next batch runs
    /// while the last one finishes; the measured policy keeps one where the second does not pay (see BatchProfile).
    /// </summary>
    public const int DefaultMaxRunsInFlight = 2;

    /// <summary>Queue size used when neither manifest nor configuration gives one.</summary>
    public const int DefaultMaxQueueSize = 1024;

    private readonly ModelRepositoryOptions _options;
    private readonly ILogger _logger;
    private readonly ModelFolderLoader _loader;

    // One reload at a time (file watcher, poll timer and the admin RPC all come through here).
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private readonly Lock _retiringGate = new();
    private readonly List<Task> _retiring = [];

    // Cancelled when the repository is disposed: the only thing that cuts a retiring model's remaining calls.
    private readonly CancellationTokenSource _disposing = new();

    // Only touched under _reloadGate.
    private bool _scannedOnce;

    // Everything served, swapped as one reference, so readers never see a half-loaded set.
    private volatile Snapshot _snapshot = Snapshot.Empty;

    /// <summary>Creates an empty repository; call <see cref="ReloadAsync"/> to fill it.</summary>
    public ModelRepository(
        IOptions<ModelRepositoryOptions> options,
        OnnxSessionFactory sessionFactory,
        GanTelemetry telemetry,
        ILoggerFactory loggerFactory,
        TimeProvider? timeProvider = null)
    {
        _options = options.Value;
        _logger = loggerFactory.CreateLogger<ModelRepository>();
        RootPath = System.IO.Path.GetFullPath(_options.Path);
        _loader = new ModelFolderLoader(_options, sessionFactory, telemetry, loggerFactory, _logger, timeProvider ?? TimeProvider.System, RootPath);
    }

    /// <summary>The repository folder, resolved against the current directory.</summary>
    public string RootPath { get; }

    /// <summary>Loaded models, by name (ordinal order).</summary>
    public IReadOnlyList<ServedModel> Models => _snapshot.Ordered;

    /// <summary>Pipelines whose steps are all loaded and fit together, by name (ordinal order).</summary>
    public IReadOnlyList<ServedPipeline> Pipelines => _snapshot.OrderedPipelines;

    /// <summary>Folders that could not be loaded at the last reload (pipelines: or bound to their steps), with the reason.</summary>
    public IReadOnlyList<ModelLoadFailure> Failures => _snapshot.Failures;

    /// <summary>Every name the API serves: models and pipelines, in ordinal order.</summary>
    public IReadOnlyList<string> Names => _snapshot.Names;

    /// <summary>Finds a loaded model.</summary>
    public bool TryGet(string name, out ServedModel model) => _snapshot.Models.TryGetValue(name, out model!);

    /// <summary>Finds a served pipeline.</summary>
    public bool TryGetPipeline(string name, out ServedPipeline pipeline) => _snapshot.Pipelines.TryGetValue(name, out pipeline!);

    /// <summary>True when <paramref name="name"/> is a loaded model or a served pipeline.</summary>
    public bool Contains(string name)
    {
        var snapshot = _snapshot;
        return snapshot.Models.ContainsKey(name) || snapshot.Pipelines.ContainsKey(name);
    }

    /// <summary>Finds a loaded model. The name is only ever a dictionary key, never part of a path.</summary>
    /// <exception cref="ModelNotFoundException">No model of that name is loaded; the message lists the loaded models and pipelines.</exception>
    /// <exception cref="ModelKindMismatchException">The name is a pipeline, which only GenerateFromText serves.</exception>
    public ServedModel Get(string name)
    {
        var snapshot = _snapshot;
        if (snapshot.Models.TryGetValue(name, out var model))
        {
            return model;
        }

        if (snapshot.Pipelines.TryGetValue(name, out var pipeline))
        {
            throw new ModelKindMismatchException(
                $"model '{name}' is a text-conditional pipeline of [{string.Join(", ", pipeline.Steps.Select(s => s.Name))}]; GenerateFromText serves it");
        }

        throw new ModelNotFoundException(name, snapshot.Names);
    }

    /// <summary>
    /// Finds a loaded model and holds it for one request: a reload that replaces or removes it meanwhile lets
    /// the request finish on this model. Dispose the lease when the request ends.
    /// </summary>
    /// <exception cref="ModelNotFoundException">No model of that name is loaded.</exception>
    public ModelLease Acquire(string name)
    {
        while (true)
        {
            var model = Get(name);
            if (model.TryAcquire())
            {
                return new ModelLease(model);
            }

            // Retired between the lookup and the lease: a reload has already published a newer snapshot, so look again.
        }
    }

    /// <summary>Leases on every step, or null (nothing held) when one was retired meanwhile.</summary>
    internal static ModelLease[]? TryLeaseAll(IReadOnlyList<ServedModel> steps)
    {
        var leases = new ModelLease[steps.Count];
        for (var i = 0; i < steps.Count; i++)
        {
            if (!steps[i].TryAcquire())
            {
                for (var j = 0; j < i; j++)
                {
                    leases[j].Dispose();
                }

                return null;
            }

            leases[i] = new ModelLease(steps[i]);
        }

        return leases;
    }

    /// <summary>Scans <see cref="RootPath"/> and loads every valid model folder (the first <see cref="ReloadAsync"/>).</summary>
    /// <exception cref="ExecutionProviderUnavailableException">The configured provider cannot run at all (fatal, not per model).</exception>
    public Task LoadAsync(CancellationToken cancellationToken) => ReloadAsync(cancellationToken);

    /// <summary>
    /// Brings the served set in line with the folder: loads new folders, reloads folders whose files changed
    /// (by name, size and modification time), drops folders that are gone. Unchanged folders, including ones
    /// that failed and have not changed since, are left alone.
    /// </summary>
    /// <exception cref="ExecutionProviderUnavailableException">The configured provider cannot run at all (fatal, not per model).</exception>
    public async Task<ModelReloadReport> ReloadAsync(CancellationToken cancellationToken)
    {
        await _reloadGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var scan = await _loader.ScanAsync(_snapshot.Pipelines, cancellationToken).ConfigureAwait(false);
            var snapshot = Snapshot.Create(scan.Models, scan.Pipelines, scan.Failures);
            _loader.Accept(scan);
            _snapshot = snapshot;
            foreach (var model in scan.Retired)
            {
                Retire(model);
            }

            var changes = scan.Changes;
            changes.Sort((a, b) => string.CompareOrdinal(a.Folder, b.Folder));
            if (changes.Count > 0 || !_scannedOnce)
            {
                // Polls that find nothing new stay quiet.
                LogRepositoryLoaded(_logger, snapshot.Ordered.Count, snapshot.OrderedPipelines.Count, snapshot.Failures.Count, RootPath);
            }

            _scannedOnce = true;
            return new ModelReloadReport(changes, snapshot.Names);
        }
        finally
        {
            _reloadGate.Release();
        }
    }

    /// <summary>Completes when every model retired so far has released its session.</summary>
    public Task WhenRetiredAsync()
    {
        lock (_retiringGate)
        {
            return Task.WhenAll(_retiring.ToArray());
        }
    }

    /// <summary>Stops every model's batcher after its queue drains (or <paramref name="cancellationToken"/> fires).</summary>
    public Task StopAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(_snapshot.Models.Values.Select(m => m.StopAsync(cancellationToken)));

    /// <summary>Releases every model.</summary>
    public async ValueTask DisposeAsync()
    {
        var snapshot = _snapshot;
        _snapshot = snapshot with { Models = FrozenDictionary<string, ServedModel>.Empty, Ordered = [] };
        foreach (var model in snapshot.Models.Values)
        {
            await model.DisposeAsync().ConfigureAwait(false);
        }

        // Calls still holding a retired version are cut now (shutdown is the only thing that cuts them).
        await _disposing.CancelAsync().ConfigureAwait(false);
        await WhenRetiredAsync().ConfigureAwait(false);
        _disposing.Dispose();
        _reloadGate.Dispose();
    }

    private void Retire(ServedModel model)
    {
        var task = RetireAsync(model);
        lock (_retiringGate)
        {
            _retiring.RemoveAll(t => t.IsCompleted);
            _retiring.Add(task);
        }
    }

    private async Task RetireAsync(ServedModel model)
    {
        // Yield first: the reload (and the admin call waiting on it) should not wait for old requests.
        await Task.Yield();
        var overdue = TimeSpan.FromSeconds(_options.RetireTimeoutSeconds);
        var drained = await model.RetireAsync(overdue, () => LogRetireOverdue(_logger, model.Name, model.ContentHash, overdue.TotalSeconds), _disposing.Token).ConfigureAwait(false);
        LogModelRetired(_logger, model.Name, model.ContentHash, drained);
    }

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Model repository {Path}: {Loaded} models and {Pipelines} pipelines served, {Skipped} folders skipped")]
    private static partial void LogRepositoryLoaded(ILogger logger, int loaded, int pipelines, int skipped, string path);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Model {Model} ({ContentHash}) was replaced or removed {Seconds} s ago (Models:RetireTimeoutSeconds) and calls still hold it; it stays loaded until they end")]
    private static partial void LogRetireOverdue(ILogger logger, string model, string contentHash, double seconds);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Released model {Model} ({ContentHash}) after it was replaced or removed; all its requests finished: {Drained}")]
    private static partial void LogModelRetired(ILogger logger, string model, string contentHash, bool drained);

    /// <summary>
    /// Everything the repository serves at one moment, published as one reference: the models and pipelines by name
    /// and in ordinal order, and the folders that failed.
    /// </summary>
    private sealed record Snapshot(
        FrozenDictionary<string, ServedModel> Models,
        IReadOnlyList<ServedModel> Ordered,
        FrozenDictionary<string, ServedPipeline> Pipelines,
        IReadOnlyList<ServedPipeline> OrderedPipelines,
        IReadOnlyList<ModelLoadFailure> Failures)
    {
        public static Snapshot Empty { get; } = new(
            FrozenDictionary<string, ServedModel>.Empty, [], FrozenDictionary<string, ServedPipeline>.Empty, [], []);

        /// <summary>Every name the API serves: models and pipelines, in ordinal order.</summary>
        public IReadOnlyList<string> Names => Ordered.Select(m => m.Name).Concat(OrderedPipelines.Select(p => p.Name)).Order(StringComparer.Ordinal).ToArray();

        public static Snapshot Create(IReadOnlyList<ServedModel> models, IReadOnlyList<ServedPipeline> pipelines, IReadOnlyList<ModelLoadFailure> failures) => new(
            models.ToFrozenDictionary(m => m.Name, StringComparer.Ordinal),
            models.OrderBy(m => m.Name, StringComparer.Ordinal).ToArray(),
            pipelines.ToFrozenDictionary(p => p.Name, StringComparer.Ordinal),
            pipelines.OrderBy(p => p.Name, StringComparer.Ordinal).ToArray(),
            failures);
    }
}
