using GanInference.Core.Batching;
using GanInference.Core.Models;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>
/// The serving half of an image-to-image model: its <see cref="TranslationSignature"/> and the dynamic batcher
/// (over a <see cref="TranslationRunner"/>) that every Translate and TranslateStream call of the model shares.
/// Owned by its <c>ServedModel</c> (in the repository); the session is not (the model disposes it after this).
/// </summary>
public sealed class TranslationEngine : IAsyncDisposable
{
    private readonly TranslationRunner _runner;

    private TranslationEngine(TranslationSignature signature, TranslationRunner runner, DynamicBatcher<TranslationItem, float> batcher)
    {
        Signature = signature;
        _runner = runner;
        Batcher = batcher;
    }

    /// <summary>What the model takes and gives.</summary>
    public TranslationSignature Signature { get; }

    /// <summary>The model's batcher: items are prepared images, outputs the model's float CHW images.</summary>
    public DynamicBatcher<TranslationItem, float> Batcher { get; }

    /// <summary>
    /// Checks the model's inputs, warms the session up through the pooled path (one mid-grey image) and starts
    /// the batch loop. Throws <see cref="Errors.ModelLoadException"/> for a model Translate cannot feed.
    /// </summary>
    internal static TranslationEngine Start(
        string model,
        InferenceSession session,
        ModelSignature signature,
        BatchingSettings batching,
        GanTelemetry telemetry,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        BatchProfilingSettings? profiling = null)
    {
        var translation = TranslationSignature.Create(signature);
        var runner = new TranslationRunner(session, translation);
        try
        {
            runner.WarmUp();
            var batcher = new DynamicBatcher<TranslationItem, float>(
                model, batching, signature.OutputsPerItem, runner, telemetry,
                loggerFactory.CreateLogger<DynamicBatcher<TranslationItem, float>>(), timeProvider,
                profiling is null ? null : new BatchProfiling<TranslationItem>(runner.SampleItem(), profiling));
            return new TranslationEngine(translation, runner, batcher);
        }
        catch
        {
            runner.Dispose();
            throw;
        }
    }

    /// <summary>Stops taking new work and lets queued images finish.</summary>
    public Task StopAsync(CancellationToken cancellationToken) => Batcher.StopAsync(cancellationToken);

    /// <summary>Stops the batcher (failing what is still queued) and releases the runner.</summary>
    public async ValueTask DisposeAsync()
    {
        await Batcher.DisposeAsync().ConfigureAwait(false);
        _runner.Dispose();
    }
}
