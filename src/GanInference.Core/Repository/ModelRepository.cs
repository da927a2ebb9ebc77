using System.Collections.Frozen;
using System.Security.Cryptography;
using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Repository;

/// <summary>
/// The models being served. <see cref="ReloadAsync"/> scans the repository folder: each new or changed
/// sub-folder's manifest is read, checked against its ONNX graph, given a session and a batcher, and
/// warmed up with one run; then the set of models is swapped as a whole. A bad folder is logged with its
/// reason and skipped (a model it held before keeps serving); the rest are served. Replaced and removed
/// models are retired: new requests go to the new snapshot, requests holding a <see cref="ModelLease"/>
/// finish on the old session, which is then released.
/// </summary>
public sealed partial class ModelRepository : IAsyncDisposable
{
    /// <summary>Batch size used when neither manifest nor configuration gives one.</summary>
    public const int DefaultMaxBatchSize = 64;

    /// <summary>Queue delay used when neither manifest nor configuration gives one.</summary>
    public const double DefaultMaxQueueDelayMs = 2;

    /// <summary>Queue size used when neither manifest nor configuration gives one.</summary>
    public const int DefaultMaxQueueSize = 1024;

    private readonly ModelRepositoryOptions _options;
    private readonly OnnxSessionFactory _sessionFactory;
    private readonly GanTelemetry _telemetry;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;

    // One reload at a time (file watcher, poll timer and the admin RPC all come through here).
    private readonly SemaphoreSlim _reloadGate = new(1, 1);
    private readonly Lock _retiringGate = new();
    private readonly List<Task> _retiring = [];

    // Cancelled when the repository is disposed: the only thing that cuts a retiring model's remaining calls.
    private readonly CancellationTokenSource _disposing = new();

    // What each folder held at the last reload; only touched under _reloadGate.
    private Dictionary<string, FolderState> _folders = new(StringComparer.Ordinal);
    private bool _reportedMissing;
    private bool _scannedOnce;

    // Swapped as a whole, so readers never see a half-loaded set.
    private volatile FrozenDictionary<string, ServedModel> _models = FrozenDictionary<string, ServedModel>.Empty;
    private volatile IReadOnlyList<ServedModel> _ordered = [];
    private volatile IReadOnlyList<ModelLoadFailure> _failures = [];
    private volatile FrozenDictionary<string, ServedPipeline> _pipelines = FrozenDictionary<string, ServedPipeline>.Empty;
    private volatile IReadOnlyList<ServedPipeline> _orderedPipelines = [];

    /// <summary>Creates an empty repository; call <see cref="ReloadAsync"/> to fill it.</summary>
    public ModelRepository(
        IOptions<ModelRepositoryOptions> options,
        OnnxSessionFactory sessionFactory,
        GanTelemetry telemetry,
        ILoggerFactory loggerFactory,
        TimeProvider? timeProvider = null)
    {
        _options = options.Value;
        _sessionFactory = sessionFactory;
        _telemetry = telemetry;
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger<ModelRepository>();
        _timeProvider = timeProvider ?? TimeProvider.System;
        RootPath = System.IO.Path.GetFullPath(_options.Path);
    }

    /// <summary>The repository folder, resolved against the current directory.</summary>
    public string RootPath { get; }

    /// <summary>Loaded models, by name (ordinal order).</summary>
    public IReadOnlyList<ServedModel> Models => _ordered;

    /// <summary>Pipelines whose steps are all loaded and fit together, by name (ordinal order).</summary>
    public IReadOnlyList<ServedPipeline> Pipelines => _orderedPipelines;

    /// <summary>Folders that could not be loaded at the last reload (pipelines: or bound to their steps), with the reason.</summary>
    public IReadOnlyList<ModelLoadFailure> Failures => _failures;

    /// <summary>Every name the API serves: models and pipelines, in ordinal order.</summary>
    public IReadOnlyList<string> Names => _ordered.Select(m => m.Name).Concat(_orderedPipelines.Select(p => p.Name)).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Finds a loaded model.</summary>
    public bool TryGet(string name, out ServedModel model) => _models.TryGetValue(name, out model!);

    /// <summary>Finds a served pipeline.</summary>
    public bool TryGetPipeline(string name, out ServedPipeline pipeline) => _pipelines.TryGetValue(name, out pipeline!);

    /// <summary>True when <paramref name="name"/> is a loaded model or a served pipeline.</summary>
    public bool Contains(string name) => _models.ContainsKey(name) || _pipelines.ContainsKey(name);

    /// <summary>Finds a loaded model. The name is only ever a dictionary key, never part of a path.</summary>
    /// <exception cref="ModelNotFoundException">No model of that name is loaded; the message lists the loaded models and pipelines.</exception>
    /// <exception cref="ModelKindMismatchException">The name is a pipeline, which only GenerateFromText serves.</exception>
    public ServedModel Get(string name)
    {
        if (_models.TryGetValue(name, out var model))
        {
            return model;
        }

        if (_pipelines.TryGetValue(name, out var pipeline))
        {
            throw new ModelKindMismatchException(
                $"model '{name}' is a text-conditional pipeline of [{string.Join(", ", pipeline.Steps.Select(s => s.Name))}]; GenerateFromText serves it");
        }

        throw new ModelNotFoundException(name, Names);
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
            var previous = _folders;
            var next = new Dictionary<string, FolderState>(StringComparer.Ordinal);
            var changes = new List<ModelChange>();
            var retired = new List<ServedModel>();
            var loaded = new List<ServedModel>();
            try
            {
                foreach (var folder in ListFolders())
                {
                    var folderName = System.IO.Path.GetFileName(folder);
                    var fingerprint = Fingerprint(folder);
                    previous.TryGetValue(folderName, out var before);
                    if (before is not null && before.Fingerprint == fingerprint)
                    {
                        next.Add(folderName, before);
                        continue;
                    }

                    var (model, pipeline, reason) = await TryLoadFolderAsync(folder, cancellationToken).ConfigureAwait(false);
                    if (pipeline is not null || (model is null && before?.Pipeline is not null))
                    {
                        // Pipelines are bound to their steps once every folder is scanned; a broken replacement keeps
                        // the previous definition. The changes of pipeline folders are decided there.
                        next.Add(folderName, new FolderState(fingerprint, Model: null, reason, pipeline ?? before!.Pipeline, LoadFailed: reason is not null));
                        if (before?.Model is { } replaced)
                        {
                            retired.Add(replaced);
                        }
                    }
                    else if (model is not null)
                    {
                        loaded.Add(model);
                        next.Add(folderName, new FolderState(fingerprint, model, Failure: null));
                        changes.Add(new ModelChange(folderName, before?.Model is null ? ModelChangeKind.Added : ModelChangeKind.Replaced));
                        if (before?.Model is { } old)
                        {
                            retired.Add(old);
                        }

                        LogModelLoaded(_logger, model.Name, model.Signature.Kind.ToManifestName(), model.ExecutionProvider, model.Batching.MaxBatchSize, model.ContentHash);
                    }
                    else
                    {
                        // A broken replacement leaves the model it would have replaced serving.
                        next.Add(folderName, new FolderState(fingerprint, before?.Model, reason));
                        changes.Add(new ModelChange(folderName, ModelChangeKind.Failed, reason, StillServing: before?.Model is not null));
                        LogModelSkipped(_logger, folderName, reason!, before?.Model is not null);
                    }
                }
            }
            catch
            {
                // A fatal error (e.g. the execution provider) mid-scan: nothing is published, so release what this scan loaded.
                foreach (var model in loaded)
                {
                    await model.DisposeAsync().ConfigureAwait(false);
                }

                throw;
            }

            var pipelines = BindPipelines(previous, next, changes);
            foreach (var (folderName, before) in previous)
            {
                if (!next.ContainsKey(folderName))
                {
                    changes.Add(new ModelChange(folderName, ModelChangeKind.Removed));
                    if (before.Model is { } old)
                    {
                        retired.Add(old);
                    }
                }
            }

            Publish(next, pipelines);
            foreach (var model in retired)
            {
                Retire(model);
            }

            changes.Sort((a, b) => string.CompareOrdinal(a.Folder, b.Folder));
            if (changes.Count > 0 || !_scannedOnce)
            {
                // Polls that find nothing new stay quiet.
                LogRepositoryLoaded(_logger, _ordered.Count, _orderedPipelines.Count, _failures.Count, RootPath);
            }

            _scannedOnce = true;
            return new ModelReloadReport(changes, Names);
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
        Task.WhenAll(_models.Values.Select(m => m.StopAsync(cancellationToken)));

    /// <summary>Releases every model.</summary>
    public async ValueTask DisposeAsync()
    {
        var models = _models;
        _models = FrozenDictionary<string, ServedModel>.Empty;
        _ordered = [];
        foreach (var model in models.Values)
        {
            await model.DisposeAsync().ConfigureAwait(false);
        }

        // Calls still holding a retired version are cut now (shutdown is the only thing that cuts them).
        await _disposing.CancelAsync().ConfigureAwait(false);
        await WhenRetiredAsync().ConfigureAwait(false);
        _disposing.Dispose();
        _reloadGate.Dispose();
    }

    private IEnumerable<string> ListFolders()
    {
        if (!Directory.Exists(RootPath))
        {
            // Said once, not at every poll.
            if (!_reportedMissing)
            {
                LogRepositoryMissing(_logger, RootPath);
                _reportedMissing = true;
            }

            return [];
        }

        _reportedMissing = false;

        return Directory.EnumerateDirectories(RootPath).Order(StringComparer.Ordinal).ToArray();
    }

    /// <summary>Name, size and modification time of every file in the folder: a cheap "did anything change".</summary>
    private static string Fingerprint(string folder)
    {
        var parts = new List<string>();
        try
        {
            foreach (var file in new DirectoryInfo(folder).EnumerateFiles().OrderBy(f => f.Name, StringComparer.Ordinal))
            {
                parts.Add($"{file.Name}:{file.Length}:{file.LastWriteTimeUtc.Ticks}");
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Vanishing or unreadable while scanned: a value that never matches, so the next scan looks again.
            return "unreadable:" + Guid.NewGuid().ToString("N");
        }

        return string.Join('|', parts);
    }

    private async Task<(ServedModel? Model, PipelineDefinition? Pipeline, string? Reason)> TryLoadFolderAsync(string folder, CancellationToken cancellationToken)
    {
        try
        {
            var manifest = await ManifestReader.ParseAsync(folder, cancellationToken).ConfigureAwait(false);
            if (manifest.Pipeline is not null)
            {
                return (null, ManifestReader.ForPipeline(manifest, System.IO.Path.GetFileName(folder)), null);
            }

            return (await LoadModelAsync(ManifestReader.ForModel(manifest, folder), cancellationToken).ConfigureAwait(false), null, null);
        }
        catch (ModelLoadException ex)
        {
            return (null, null, ex.Message);
        }
        catch (OnnxRuntimeException ex)
        {
            return (null, null, $"model.onnx: ONNX Runtime refused it: {ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A file removed or locked while it was read (e.g. mid-copy); the next change is picked up again.
            return (null, null, $"could not read the folder: {ex.Message}");
        }
    }

    /// <summary>
    /// Binds every pipeline definition of <paramref name="next"/> to the models it will publish, and records what
    /// changed for each pipeline folder: added, replaced (its definition or a step's version changed), failed (a
    /// step is missing or does not fit; reported when that is news, not at every poll).
    /// </summary>
    private List<ServedPipeline> BindPipelines(Dictionary<string, FolderState> previous, Dictionary<string, FolderState> next, List<ModelChange> changes)
    {
        var models = next.Values.Where(f => f.Model is not null).ToDictionary(f => f.Model!.Name, f => f.Model!, StringComparer.Ordinal);
        var failures = next.Where(f => f.Value.Failure is not null && f.Value.Pipeline is null).ToDictionary(f => f.Key, f => f.Value.Failure!, StringComparer.Ordinal);
        var bound = new List<ServedPipeline>();
        foreach (var (folderName, state) in next.ToArray())
        {
            if (state.Pipeline is not { } definition)
            {
                continue;
            }

            previous.TryGetValue(folderName, out var before);
            _pipelines.TryGetValue(folderName, out var served);
            var changed = !ReferenceEquals(before, state);
            ServedPipeline? pipeline = null;
            string? bindFailure = null;
            try
            {
                pipeline = ServedPipeline.Bind(definition, models, failures, served);
            }
            catch (ModelLoadException ex)
            {
                bindFailure = ex.Message;
            }

            if (pipeline is not null)
            {
                bound.Add(pipeline);
                if (state.LoadFailed)
                {
                    // New files that failed: the previous definition keeps serving, as a model's previous version does.
                    if (changed)
                    {
                        changes.Add(new ModelChange(folderName, ModelChangeKind.Failed, state.Failure, StillServing: true));
                        LogModelSkipped(_logger, folderName, state.Failure!, true);
                    }
                }
                else
                {
                    next[folderName] = state with { Failure = null };
                }

                if (served is null || !ReferenceEquals(served, pipeline))
                {
                    changes.Add(new ModelChange(folderName, served is null && before?.Model is null ? ModelChangeKind.Added : ModelChangeKind.Replaced));
                    LogPipelineBound(_logger, pipeline.Name, string.Join(" -> ", pipeline.Steps.Select(s => $"{s.Name} ({s.ContentHash})")));
                }

                continue;
            }

            var reason = state.LoadFailed ? state.Failure! : bindFailure!;
            next[folderName] = state with { Failure = reason };
            if (served is not null || changed || before?.Failure != reason)
            {
                changes.Add(new ModelChange(folderName, ModelChangeKind.Failed, reason, StillServing: false));
                LogModelSkipped(_logger, folderName, reason, false);
            }
        }

        return bound;
    }

    private void Publish(Dictionary<string, FolderState> folders, List<ServedPipeline> pipelines)
    {
        _folders = folders;
        var served = folders.Values.Where(f => f.Model is not null).Select(f => f.Model!).ToArray();
        _ordered = served.OrderBy(m => m.Name, StringComparer.Ordinal).ToArray();
        _models = served.ToFrozenDictionary(m => m.Name, StringComparer.Ordinal);
        _orderedPipelines = pipelines.OrderBy(p => p.Name, StringComparer.Ordinal).ToArray();
        _pipelines = pipelines.ToFrozenDictionary(p => p.Name, StringComparer.Ordinal);
        _failures = folders.Where(f => f.Value.Failure is not null).Select(f => new ModelLoadFailure(f.Key, f.Value.Failure!)).OrderBy(f => f.Folder, StringComparer.Ordinal).ToArray();
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

    private async Task<ServedModel> LoadModelAsync(ManifestReadResult read, CancellationToken cancellationToken)
    {
        var (manifest, kind, modelPath) = read;
        var batching = ResolveBatching(manifest);
        var contentHash = await HashFileAsync(modelPath, cancellationToken).ConfigureAwait(false);
        var (session, provider) = _sessionFactory.Create(manifest.Name!, modelPath);
        GeneratorRunner? runner = null;
        TranslationEngine? translation = null;
        try
        {
            var signature = ModelSignature.Create(manifest, kind, session.InputMetadata, session.OutputMetadata);
            DynamicBatcher<GenerationItem, float>? generator = null;
            if (signature.Kind == ModelKind.ImageToImage)
            {
                translation = TranslationEngine.Start(manifest.Name!, session, signature, batching, _telemetry, _loggerFactory, _timeProvider);
            }
            else
            {
                // Generators and text-conditional models (alone or as pipeline steps) share the seed-driven runner.
                runner = new GeneratorRunner(session, signature);
                runner.WarmUp();
                generator = new DynamicBatcher<GenerationItem, float>(
                    manifest.Name!, batching, signature.OutputsPerItem, runner, _telemetry,
                    _loggerFactory.CreateLogger<DynamicBatcher<GenerationItem, float>>(), _timeProvider);
            }

            return new ServedModel(manifest, signature, modelPath, contentHash, provider, batching, session, runner, generator, translation);
        }
        catch
        {
            if (translation is not null)
            {
                await translation.DisposeAsync().ConfigureAwait(false);
            }

            runner?.Dispose();
            session.Dispose();
            throw;
        }
    }

    private BatchingSettings ResolveBatching(ModelManifest manifest)
    {
        var global = _options.Batching;
        var own = _options.Overrides.GetValueOrDefault(manifest.Name!) ?? new BatchingOverrides();
        var fromFile = manifest.Batching ?? new BatchingManifest();
        var maxBatch = own.MaxBatchSize ?? global.MaxBatchSize ?? fromFile.MaxBatchSize ?? DefaultMaxBatchSize;
        var settings = new BatchingSettings
        {
            MaxBatchSize = maxBatch,
            MaxQueueDelay = TimeSpan.FromMilliseconds(own.MaxQueueDelayMs ?? global.MaxQueueDelayMs ?? fromFile.MaxQueueDelayMs ?? DefaultMaxQueueDelayMs),
            MaxQueueSize = own.MaxQueueSize ?? global.MaxQueueSize ?? fromFile.MaxQueueSize ?? DefaultMaxQueueSize,

            // A configured batch size can make the manifest's preferred sizes too large; those are dropped.
            PreferredBatchSizes = (own.PreferredBatchSizes ?? global.PreferredBatchSizes ?? fromFile.PreferredBatchSizes ?? [])
                .Where(size => size >= 1 && size <= maxBatch).Distinct().Order().ToArray(),
        };
        try
        {
            settings.Validate();
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new ModelLoadException($"batching (gan.json with {ModelRepositoryOptions.SectionName} configuration overrides): {ex.ParamName} {ex.ActualValue} is out of range", ex);
        }

        return settings;
    }

    private static async Task<string> HashFileAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1 << 16, useAsync: true);
        var hash = await SHA256.HashDataAsync(stream, cancellationToken).ConfigureAwait(false);
        return "sha256:" + Convert.ToHexStringLower(hash);
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "Loaded model {Model} ({Kind}) on {Provider}, max batch {MaxBatchSize}, {ContentHash}")]
    private static partial void LogModelLoaded(ILogger logger, string model, string kind, string provider, int maxBatchSize, string contentHash);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Skipped model folder {Folder}: {Reason} (previous version still serving: {StillServing})")]
    private static partial void LogModelSkipped(ILogger logger, string folder, string reason, bool stillServing);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Model repository {Path} does not exist; no models are served")]
    private static partial void LogRepositoryMissing(ILogger logger, string path);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Model repository {Path}: {Loaded} models and {Pipelines} pipelines served, {Skipped} folders skipped")]
    private static partial void LogRepositoryLoaded(ILogger logger, int loaded, int pipelines, int skipped, string path);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Serving pipeline {Pipeline}: {Steps}")]
    private static partial void LogPipelineBound(ILogger logger, string pipeline, string steps);

    [LoggerMessage(EventId = 1007, Level = LogLevel.Warning, Message = "Model {Model} ({ContentHash}) was replaced or removed {Seconds} s ago (Models:RetireTimeoutSeconds) and calls still hold it; it stays loaded until they end")]
    private static partial void LogRetireOverdue(ILogger logger, string model, string contentHash, double seconds);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Information, Message = "Released model {Model} ({ContentHash}) after it was replaced or removed; all its requests finished: {Drained}")]
    private static partial void LogModelRetired(ILogger logger, string model, string contentHash, bool drained);

    /// <summary>
    /// What one folder held after a reload: the files' fingerprint, the model served from it or the pipeline it
    /// defines, and why its latest files failed (<paramref name="LoadFailed"/>) or, for a pipeline, why it could
    /// not be bound to its steps.
    /// </summary>
    private sealed record FolderState(string Fingerprint, ServedModel? Model, string? Failure, PipelineDefinition? Pipeline = null, bool LoadFailed = false);
}
