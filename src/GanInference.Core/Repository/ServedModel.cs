using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Imaging;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Runtime;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Repository;

/// <summary>
/// A loaded model: its manifest, checked signature, ONNX Runtime session and its dynamic batcher (generators and
/// text-conditional models: <see cref="GeneratorRunner"/>; image-to-image: <see cref="TranslationEngine"/>).
/// Owns the session and the batcher.
/// </summary>
public sealed class ServedModel : IAsyncDisposable
{
    private readonly InferenceSession _session;
    private readonly IDisposable? _runner;
    private readonly DynamicBatcher<GenerationItem, float>? _generator;
    private readonly TranslationEngine? _translation;

    // Leases keep a replaced or removed model alive until the requests that hold it have finished.
    private readonly Lock _leaseGate = new();
    private readonly TaskCompletionSource _idle = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _leases;
    private bool _retiring;
    private int _disposed;

    internal ServedModel(
        ModelManifest manifest,
        ModelSignature signature,
        string modelPath,
        string contentHash,
        string executionProvider,
        BatchingSettings batching,
        InferenceSession session,
        IDisposable? runner,
        DynamicBatcher<GenerationItem, float>? generator,
        TranslationEngine? translation = null)
    {
        Manifest = manifest;
        Signature = signature;
        ModelPath = modelPath;
        ContentHash = contentHash;
        ExecutionProvider = executionProvider;
        Batching = batching;
        _session = session;
        _runner = runner;
        _generator = generator;
        _translation = translation;
    }

    /// <summary>The model's name in the API.</summary>
    public string Name => Manifest.Name!;

    /// <summary>The manifest as read from <c>gan.json</c>.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>What the model takes and produces.</summary>
    public ModelSignature Signature { get; }

    /// <summary>Full path of the ONNX file.</summary>
    public string ModelPath { get; }

    /// <summary><c>sha256:&lt;hex&gt;</c> of the ONNX file.</summary>
    public string ContentHash { get; }

    /// <summary>The provider the session runs on: <c>cpu</c> or <c>cuda:&lt;device&gt;</c>.</summary>
    public string ExecutionProvider { get; }

    /// <summary>Effective batching (manifest plus configuration overrides).</summary>
    public BatchingSettings Batching { get; }

    /// <summary>The latest batch size profile of the model's batcher; null until load first arrived or one was asked for.</summary>
    public BatchProfile? BatchProfile => _generator?.Profile ?? _translation?.Batcher.Profile;

    /// <summary>How many batches the batcher runs at once now (the profile's choice under the measured policy).</summary>
    public int EffectiveRunsInFlight => _generator?.EffectiveRunsInFlight ?? _translation?.Batcher.EffectiveRunsInFlight ?? Batching.MaxRunsInFlight;

    /// <summary>The most items the batcher puts in one batch now (the profile's choice under the measured policy).</summary>
    public int EffectiveMaxBatchSize => _generator?.EffectiveMaxBatchSize ?? _translation?.Batcher.EffectiveMaxBatchSize ?? Batching.MaxBatchSize;

    /// <summary>Measures the batch size profile again now, between two batches (see <see cref="DynamicBatcher{TInput, TOutput}.ProfileAsync"/>).</summary>
    public Task<BatchProfile> ProfileBatchingAsync(CancellationToken cancellationToken) =>
        _generator?.ProfileAsync(cancellationToken) ?? _translation!.Batcher.ProfileAsync(cancellationToken);

    /// <summary>Truncation used when a request gives none.</summary>
    public float DefaultTruncation => Manifest.Defaults?.Truncation ?? 0;

    /// <summary>Shape and range of the images the model produces.</summary>
    public ImageGeometry Geometry => new(Signature.Channels, Signature.Height, Signature.Width, Signature.OutputMin, Signature.OutputMax);

    /// <summary>The generation batcher.</summary>
    /// <exception cref="ModelKindMismatchException">The model's kind is not served by Generate.</exception>
    public DynamicBatcher<GenerationItem, float> Generator => Signature.IsGenerator && _generator is { } generator
        ? generator
        : throw GenerationRules.KindMismatch(Name, Signature.Kind);

    /// <summary>The batcher of a text-conditional model, shared by its GenerateFromText calls and the pipelines it is a step of.</summary>
    /// <exception cref="ModelKindMismatchException">The model is not text-conditional.</exception>
    public DynamicBatcher<GenerationItem, float> TextGenerator => Signature.IsTextConditional && _generator is { } generator
        ? generator
        : throw NotTextConditional();

    /// <summary>The image-to-image batcher and signature.</summary>
    /// <exception cref="ModelKindMismatchException">The model's kind is not served by Translate.</exception>
    public TranslationEngine Translation => _translation ?? throw NotImageToImage();

    /// <summary>Refuses, before anything else of the call is looked at, a model that Translate does not serve.</summary>
    /// <exception cref="ModelKindMismatchException">The model is not image-to-image (FAILED_PRECONDITION naming its kind).</exception>
    public void RequireImageToImage()
    {
        if (_translation is null)
        {
            throw NotImageToImage();
        }
    }

    /// <summary>Refuses a model that GenerateFromText does not serve.</summary>
    /// <exception cref="ModelKindMismatchException">The model is not text-conditional (FAILED_PRECONDITION naming its kind).</exception>
    public void RequireTextConditional()
    {
        if (!Signature.IsTextConditional || _generator is null)
        {
            throw NotTextConditional();
        }
    }

    private ModelKindMismatchException NotTextConditional() =>
        new($"model '{Name}' is {Signature.Kind.ToManifestName()}; GenerateFromText serves text-conditional models and pipelines");

    private ModelKindMismatchException NotImageToImage() =>
        new($"model '{Name}' is {Signature.Kind.ToManifestName()}; Translate serves image-to-image models");

    /// <summary>True once the session has been released.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Requests currently holding this model (see <see cref="ModelRepository.Acquire"/>).</summary>
    public int ActiveLeases
    {
        get
        {
            lock (_leaseGate)
            {
                return _leases;
            }
        }
    }

    /// <summary>Takes a lease for one request; false once the model has been retired (a newer snapshot has replaced or removed it).</summary>
    internal bool TryAcquire()
    {
        lock (_leaseGate)
        {
            if (_retiring)
            {
                return false;
            }

            _leases++;
            return true;
        }
    }

    /// <summary>Gives a lease back.</summary>
    internal void Release()
    {
        lock (_leaseGate)
        {
            _leases--;
            if (_retiring && _leases == 0)
            {
                _idle.TrySetResult();
            }
        }
    }

    /// <summary>
    /// Retires this version after a reload replaced or removed it: waits for its last lease to end (a long stream is
    /// never cut by a reload; <paramref name="onOverdue"/> is called once if that takes longer than
    /// <paramref name="overdueAfter"/>), lets its queue drain, then releases the session. Only
    /// <paramref name="cancellationToken"/> (the repository shutting down) stops the wait early.
    /// </summary>
    /// <returns>True when every lease ended and the queue drained; false when shutdown cut the wait.</returns>
    internal async Task<bool> RetireAsync(TimeSpan overdueAfter, Action onOverdue, CancellationToken cancellationToken)
    {
        lock (_leaseGate)
        {
            _retiring = true;
            if (_leases == 0)
            {
                _idle.TrySetResult();
            }
        }

        var drained = true;
        try
        {
            try
            {
                await _idle.Task.WaitAsync(overdueAfter, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                onOverdue();
                await _idle.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            await StopAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            drained = false;
        }
        finally
        {
            await DisposeAsync().ConfigureAwait(false);
        }

        return drained;
    }

    /// <summary>Stops taking new work and lets queued requests finish, until <paramref name="cancellationToken"/> fires.</summary>
    public Task StopAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(_generator?.StopAsync(cancellationToken) ?? Task.CompletedTask, _translation?.StopAsync(cancellationToken) ?? Task.CompletedTask);

    /// <summary>Stops the batcher (failing what is still queued) and releases the session.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        if (_generator is not null)
        {
            await _generator.DisposeAsync().ConfigureAwait(false);
        }

        if (_translation is not null)
        {
            await _translation.DisposeAsync().ConfigureAwait(false);
        }

        _runner?.Dispose();
        _session.Dispose();
    }
}
