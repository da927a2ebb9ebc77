using System.Collections.Frozen;
using System.Security.Cryptography;
using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Repository;

/// <summary>
/// The loading half of <see cref="ModelRepository"/>: scans the repository folder, compares each sub-folder's
/// fingerprint with the last scan, reads and checks the manifests of new or changed folders, creates their sessions
/// and engines (warmed up), and binds pipelines to the models of the scan. It publishes nothing: the repository
/// swaps in what a scan returns and retires what it replaced. Only called under the repository's reload gate.
/// </summary>
internal sealed partial class ModelFolderLoader
{
    private readonly ModelRepositoryOptions _options;
    private readonly OnnxSessionFactory _sessionFactory;
    private readonly GanTelemetry _telemetry;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly string _rootPath;

    // What each folder held at the last published scan.
    private Dictionary<string, FolderState> _folders = new(StringComparer.Ordinal);
    private bool _reportedMissing;

    /// <summary>A loader for <paramref name="rootPath"/>; it logs through <paramref name="logger"/>, the repository's, so loading keeps the repository's log category.</summary>
    public ModelFolderLoader(
        ModelRepositoryOptions options,
        OnnxSessionFactory sessionFactory,
        GanTelemetry telemetry,
        ILoggerFactory loggerFactory,
        ILogger logger,
        TimeProvider timeProvider,
        string rootPath)
    {
        _options = options;
        _sessionFactory = sessionFactory;
        _telemetry = telemetry;
        _loggerFactory = loggerFactory;
        _logger = logger;
        _timeProvider = timeProvider;
        _rootPath = rootPath;
    }

    /// <summary>
    /// Brings the folders of the last scan in line with the disk: loads new folders, reloads folders whose files
    /// changed, drops folders that are gone, binds pipelines against <paramref name="servedPipelines"/> (the ones
    /// published now). Call <see cref="Accept"/> with the result once it is published.
    /// </summary>
    /// <exception cref="ExecutionProviderUnavailableException">The configured provider cannot run at all (fatal; nothing loaded is kept).</exception>
    public async Task<FolderScan> ScanAsync(FrozenDictionary<string, ServedPipeline> servedPipelines, CancellationToken cancellationToken)
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

        var pipelines = BindPipelines(previous, next, changes, servedPipelines);
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

        var models = next.Values.Where(f => f.Model is not null).Select(f => f.Model!).ToArray();
        var failures = next.Where(f => f.Value.Failure is not null).Select(f => new ModelLoadFailure(f.Key, f.Value.Failure!)).OrderBy(f => f.Folder, StringComparer.Ordinal).ToArray();
        return new FolderScan(next, models, pipelines, failures, changes, retired);
    }

    /// <summary>Makes <paramref name="scan"/> the state the next scan compares against (once it is published).</summary>
    public void Accept(FolderScan scan) => _folders = scan.Folders;

    private IEnumerable<string> ListFolders()
    {
        if (!Directory.Exists(_rootPath))
        {
            // Said once, not at every poll.
            if (!_reportedMissing)
            {
                LogRepositoryMissing(_logger, _rootPath);
                _reportedMissing = true;
            }

            return [];
        }

        _reportedMissing = false;

        return Directory.EnumerateDirectories(_rootPath).Order(StringComparer.Ordinal).ToArray();
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
        catch (Exception ex) when (ex is not (ExecutionProviderUnavailableException or OperationCanceledException or OutOfMemoryException))
        {
            // Whatever else goes wrong with one folder stays with that folder: the server starts with the others.
            return (null, null, $"could not be loaded: {ex.GetType().Name}: {ex.Message}");
        }
    }

    /// <summary>
    /// Binds every pipeline definition of <paramref name="next"/> to the models it will publish, and records what
    /// changed for each pipeline folder: added, replaced (its definition or a step's version changed), failed (a
    /// step is missing or does not fit; reported when that is news, not at every poll).
    /// </summary>
    private List<ServedPipeline> BindPipelines(
        Dictionary<string, FolderState> previous,
        Dictionary<string, FolderState> next,
        List<ModelChange> changes,
        FrozenDictionary<string, ServedPipeline> servedPipelines)
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
            servedPipelines.TryGetValue(folderName, out var served);
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
                translation = TranslationEngine.Start(manifest.Name!, session, signature, batching, _telemetry, _loggerFactory, _timeProvider, _options.Profiling.ToSettings());
            }
            else
            {
                // Generators and text-conditional models (alone or as pipeline steps) share the seed-driven runner.
                runner = new GeneratorRunner(session, signature);
                runner.WarmUp();
                generator = new DynamicBatcher<GenerationItem, float>(
                    manifest.Name!, batching, signature.OutputsPerItem, runner, _telemetry,
                    _loggerFactory.CreateLogger<DynamicBatcher<GenerationItem, float>>(), _timeProvider,
                    new BatchProfiling<GenerationItem>(runner.SampleItem(), _options.Profiling.ToSettings()));
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
        var maxBatch = own.MaxBatchSize ?? global.MaxBatchSize ?? fromFile.MaxBatchSize ?? ModelRepository.DefaultMaxBatchSize;
        var (policyName, policySource) = own.Policy is not null ? (own.Policy, $"{ModelRepositoryOptions.SectionName}:Overrides:{manifest.Name}:Policy")
            : global.Policy is not null ? (global.Policy, $"{ModelRepositoryOptions.SectionName}:Batching:Policy")
            : (fromFile.Policy, "gan.json: batching.policy");
        var policy = BatchingPolicy.Measured;
        if (policyName is not null && !BatchingPolicyNames.TryParse(policyName, out policy))
        {
            throw new ModelLoadException($"{policySource} '{policyName}' is not one of: {BatchingPolicyNames.All}");
        }

        var settings = new BatchingSettings
        {
            MaxBatchSize = maxBatch,
            MaxQueueDelay = TimeSpan.FromMilliseconds(own.MaxQueueDelayMs ?? global.MaxQueueDelayMs ?? fromFile.MaxQueueDelayMs ?? ModelRepository.DefaultMaxQueueDelayMs),
            MaxQueueSize = own.MaxQueueSize ?? global.MaxQueueSize ?? fromFile.MaxQueueSize ?? ModelRepository.DefaultMaxQueueSize,

            // A configured batch size can make the manifest's preferred sizes too large; those are dropped.
            PreferredBatchSizes = (own.PreferredBatchSizes ?? global.PreferredBatchSizes ?? fromFile.PreferredBatchSizes ?? [])
                .Where(size => size >= 1 && size <= maxBatch).Distinct().Order().ToArray(),
            Policy = policy,
            MaxRunsInFlight = own.MaxRunsInFlight ?? global.MaxRunsInFlight ?? fromFile.MaxRunsInFlight ?? ModelRepository.DefaultMaxRunsInFlight,
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

    [LoggerMessage(EventId = 1006, Level = LogLevel.Information, Message = "Serving pipeline {Pipeline}: {Steps}")]
    private static partial void LogPipelineBound(ILogger logger, string pipeline, string steps);

    /// <summary>
    /// What one folder held after a reload: the files' fingerprint, the model served from it or the pipeline it
    /// defines, and why its latest files failed (<paramref name="LoadFailed"/>) or, for a pipeline, why it could
    /// not be bound to its steps.
    /// </summary>
    internal sealed record FolderState(string Fingerprint, ServedModel? Model, string? Failure, PipelineDefinition? Pipeline = null, bool LoadFailed = false);
}

/// <summary>What one scan found: the state of every folder, what to publish, what changed and what to retire.</summary>
/// <param name="Folders">Every folder's state after the scan (see <see cref="ModelFolderLoader.Accept"/>).</param>
/// <param name="Models">The models to serve (in folder order).</param>
/// <param name="Pipelines">The pipelines bound to <paramref name="Models"/>.</param>
/// <param name="Failures">Folders that failed to load or bind, in folder-name order.</param>
/// <param name="Changes">What changed, per folder (not yet sorted).</param>
/// <param name="Retired">Models replaced or removed by this scan, to release once their leases end.</param>
internal sealed record FolderScan(
    Dictionary<string, ModelFolderLoader.FolderState> Folders,
    IReadOnlyList<ServedModel> Models,
    IReadOnlyList<ServedPipeline> Pipelines,
    IReadOnlyList<ModelLoadFailure> Failures,
    List<ModelChange> Changes,
    IReadOnlyList<ServedModel> Retired);
