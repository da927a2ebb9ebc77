using System.Collections.Frozen;
using System.Security.Cryptography;
using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Generation;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Repository;

/// <summary>
/// The models being served. <see cref="LoadAsync"/> scans the repository folder: each sub-folder's
/// manifest is read, checked against its ONNX graph, given a session and a batcher, and warmed up with
/// one run. A bad folder is logged with its reason and skipped; the rest are served.
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

    // Swapped as a whole, so readers never see a half-loaded set (and hot reload can slot in later).
    private volatile FrozenDictionary<string, ServedModel> _models = FrozenDictionary<string, ServedModel>.Empty;
    private volatile IReadOnlyList<ServedModel> _ordered = [];
    private volatile IReadOnlyList<ModelLoadFailure> _failures = [];

    /// <summary>Creates an empty repository; call <see cref="LoadAsync"/> to fill it.</summary>
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

    /// <summary>Folders that were skipped, with the reason.</summary>
    public IReadOnlyList<ModelLoadFailure> Failures => _failures;

    /// <summary>Finds a loaded model.</summary>
    public bool TryGet(string name, out ServedModel model) => _models.TryGetValue(name, out model!);

    /// <summary>Finds a loaded model.</summary>
    /// <exception cref="ModelNotFoundException">No model of that name is loaded; the message lists the loaded ones.</exception>
    public ServedModel Get(string name) =>
        _models.TryGetValue(name, out var model) ? model : throw new ModelNotFoundException(name, _ordered.Select(m => m.Name));

    /// <summary>Scans <see cref="RootPath"/> and loads every valid model folder.</summary>
    /// <exception cref="ExecutionProviderUnavailableException">The configured provider cannot run at all (fatal, not per model).</exception>
    public async Task LoadAsync(CancellationToken cancellationToken)
    {
        var loaded = new Dictionary<string, ServedModel>(StringComparer.Ordinal);
        var failures = new List<ModelLoadFailure>();
        if (!Directory.Exists(RootPath))
        {
            LogRepositoryMissing(_logger, RootPath);
        }
        else
        {
            foreach (var folder in Directory.EnumerateDirectories(RootPath).Order(StringComparer.Ordinal))
            {
                var folderName = System.IO.Path.GetFileName(folder);
                try
                {
                    var model = await LoadFolderAsync(folder, cancellationToken).ConfigureAwait(false);
                    loaded.Add(model.Name, model);
                    LogModelLoaded(_logger, model.Name, model.Signature.Kind.ToManifestName(), model.ExecutionProvider, model.Batching.MaxBatchSize, model.ContentHash);
                }
                catch (ModelLoadException ex)
                {
                    failures.Add(new ModelLoadFailure(folderName, ex.Message));
                    LogModelSkipped(_logger, folderName, ex.Message);
                }
                catch (OnnxRuntimeException ex)
                {
                    failures.Add(new ModelLoadFailure(folderName, $"model.onnx: ONNX Runtime refused it: {ex.Message}"));
                    LogModelSkipped(_logger, folderName, $"model.onnx: ONNX Runtime refused it: {ex.Message}");
                }
            }
        }

        var previous = _models;
        _ordered = loaded.Values.OrderBy(m => m.Name, StringComparer.Ordinal).ToArray();
        _models = loaded.ToFrozenDictionary(StringComparer.Ordinal);
        _failures = failures;
        foreach (var model in previous.Values)
        {
            await model.DisposeAsync().ConfigureAwait(false);
        }

        LogRepositoryLoaded(_logger, loaded.Count, failures.Count, RootPath);
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
    }

    private async Task<ServedModel> LoadFolderAsync(string folder, CancellationToken cancellationToken)
    {
        var (manifest, kind, modelPath) = await ManifestReader.ReadAsync(folder, cancellationToken).ConfigureAwait(false);
        var batching = ResolveBatching(manifest);
        var contentHash = await HashFileAsync(modelPath, cancellationToken).ConfigureAwait(false);
        var (session, provider) = _sessionFactory.Create(manifest.Name!, modelPath);
        GeneratorRunner? runner = null;
        try
        {
            var signature = ModelSignature.Create(manifest, kind, session.InputMetadata, session.OutputMetadata);
            DynamicBatcher<GenerationItem, float>? generator = null;
            if (!signature.IsGenerator)
            {
                SessionWarmup.Run(session, signature.Inputs);
            }
            else
            {
                runner = new GeneratorRunner(session, signature);
                runner.WarmUp();
                generator = new DynamicBatcher<GenerationItem, float>(
                    manifest.Name!, batching, signature.OutputsPerItem, runner, _telemetry,
                    _loggerFactory.CreateLogger<DynamicBatcher<GenerationItem, float>>(), _timeProvider);
            }

            return new ServedModel(manifest, signature, modelPath, contentHash, provider, batching, session, runner, generator);
        }
        catch
        {
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

    [LoggerMessage(EventId = 1002, Level = LogLevel.Error, Message = "Skipped model folder {Folder}: {Reason}")]
    private static partial void LogModelSkipped(ILogger logger, string folder, string reason);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "Model repository {Path} does not exist; no models are served")]
    private static partial void LogRepositoryMissing(ILogger logger, string path);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Information, Message = "Model repository {Path}: {Loaded} models loaded, {Skipped} folders skipped")]
    private static partial void LogRepositoryLoaded(ILogger logger, int loaded, int skipped, string path);
}
