using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Repository;

/// <summary>
/// A loaded model: its manifest, checked signature, ONNX Runtime session and (for generators) its
/// dynamic batcher. Owns the session and the batcher.
/// </summary>
public sealed class ServedModel : IAsyncDisposable
{
    private readonly InferenceSession _session;
    private readonly IDisposable? _runner;
    private readonly DynamicBatcher<GenerationItem, float>? _generator;

    internal ServedModel(
        ModelManifest manifest,
        ModelSignature signature,
        string modelPath,
        string contentHash,
        string executionProvider,
        BatchingSettings batching,
        InferenceSession session,
        IDisposable? runner,
        DynamicBatcher<GenerationItem, float>? generator)
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

    /// <summary>Truncation used when a request gives none.</summary>
    public float DefaultTruncation => Manifest.Defaults?.Truncation ?? 0;

    /// <summary>Shape and range of the images the model produces.</summary>
    public ImageGeometry Geometry => new(Signature.Channels, Signature.Height, Signature.Width, Signature.OutputMin, Signature.OutputMax);

    /// <summary>The generation batcher.</summary>
    /// <exception cref="ModelKindMismatchException">The model's kind is not served by Generate.</exception>
    public DynamicBatcher<GenerationItem, float> Generator => _generator ?? throw new ModelKindMismatchException(
        $"model '{Name}' is {Signature.Kind.ToManifestName()}; Generate serves unconditional and class-conditional models");

    /// <summary>Stops taking new work and lets queued requests finish, until <paramref name="cancellationToken"/> fires.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => _generator?.StopAsync(cancellationToken) ?? Task.CompletedTask;

    /// <summary>Stops the batcher (failing what is still queued) and releases the session.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_generator is not null)
        {
            await _generator.DisposeAsync().ConfigureAwait(false);
        }

        _runner?.Dispose();
        _session.Dispose();
    }
}
