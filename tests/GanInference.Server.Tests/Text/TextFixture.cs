using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;

namespace GanInference.Server.Tests.Text;

/// <summary>
/// A real server over the tiny text-conditional models (<see cref="TinyTextModels"/>): stage 1 (3×4×4), stage 2
/// (image input, 3×8×8), the pipeline of both, a stage-1 copy that waits up to 2 s for a batch of 4 and a pipeline
/// over it, a stage 2 that no pipeline can use (wrong image size), pipelines that must be skipped, and an
/// unconditional generator for the wrong-kind cases.
/// </summary>
public sealed class TextFixture : IAsyncLifetime
{
    public const string Stage1 = "t-stage1";
    public const string Stage2 = "t-stage2";
    public const string Pipeline = "t-pipe";
    public const string SlowStage1 = "t-slow1";          // stage 1 weights, max batch 4 (policy fixed), waits 2 s for a full batch
    public const string SlowPipeline = "t-slow-pipe";    // t-slow1 -> t-stage2
    public const string BigStage2 = "t-stage2-big";      // takes 5×5 images: no pipeline can feed it
    public const string MissingStepPipeline = "t-missing-pipe";
    public const string MismatchedPipeline = "t-mismatched-pipe";
    public const string Unconditional = "t-uncond";
    public const int MaxTextsPerRequest = 8;
    public const int MaxTextLength = 64;
    public const int MaxImagesPerRequest = 32;

    private RunningServer? _server;
    private BatchSizeRecorder? _batchSizes;

    internal RunningServer Server => _server ?? throw new InvalidOperationException("not started");

    public Api.V1.GanInference.GanInferenceClient Client => Server.Client;

    /// <summary>Every <c>gan.batch.size</c> recorded for <see cref="SlowStage1"/>.</summary>
    public ConcurrentQueue<long> SlowBatchSizes => _batchSizes?.Sizes ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _batchSizes = new BatchSizeRecorder(SlowStage1);

        var models = new TinyGanModels();
        TinyTextModels.AddStage1(models.Root, Stage1);
        TinyTextModels.AddStage2(models.Root, Stage2);
        TinyTextModels.AddPipeline(models.Root, Pipeline, [Stage1, Stage2]);
        TinyTextModels.AddStage1(models.Root, SlowStage1, batching: new JsonObject { ["maxBatchSize"] = 4, ["maxQueueDelayMs"] = 2000, ["maxQueueSize"] = 64, ["policy"] = "fixed" });
        TinyTextModels.AddPipeline(models.Root, SlowPipeline, [SlowStage1, Stage2]);
        TinyTextModels.AddStage2(models.Root, BigStage2, inputSize: 5);
        TinyTextModels.AddPipeline(models.Root, MissingStepPipeline, [Stage1, "t-nowhere"]);
        TinyTextModels.AddPipeline(models.Root, MismatchedPipeline, [Stage1, BigStage2]);
        models.AddUnconditional(Unconditional);
        _server = await RunningServer.StartAsync(
            models,
            $"--Limits:MaxTextsPerRequest={MaxTextsPerRequest}",
            $"--Limits:MaxTextLength={MaxTextLength}",
            $"--Limits:MaxImagesPerRequest={MaxImagesPerRequest}");
    }

    public async Task DisposeAsync()
    {
        _batchSizes?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>The text-to-image test classes share one server and run one after another (the batching test reads process-wide metrics).</summary>
[CollectionDefinition(Name)]
public sealed class TextCollection : ICollectionFixture<TextFixture>
{
    public const string Name = "text";
}
