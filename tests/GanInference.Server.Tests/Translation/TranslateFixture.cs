using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using GanInference.Onnx;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;

namespace GanInference.Server.Tests.Translation;

/// <summary>
/// A real server over tiny image-to-image models built with the ONNX writer, all 8×8 with range [-1, 1]:
/// identity 1→1 and 3→3 (so conversions and resizing can be checked exactly), a 1→3 model whose
/// channels are (x, −x, x/2), a model that waits long for batches, and a generator for the wrong-kind case.
/// </summary>
public sealed class TranslateFixture : IAsyncLifetime
{
    public const int Size = 8;
    public const string Grey = "t-grey";          // 1 → 1, identity
    public const string Rgb = "t-rgb";            // 3 → 3, identity
    public const string GreyToRgb = "t-grey2rgb"; // 1 → 3: (x, -x, x / 2)
    public const string Batched = "t-batched";    // 1 → 1 identity, max batch 8 (policy fixed), waits up to 2 s for a full batch
    public const string Generator = "t-gen";
    public const int MaxImagesPerTranslate = 16;
    public const int MaxInputImagePixels = 1024;
    public const int StreamWindow = 4;

    private RunningServer? _server;
    private BatchSizeRecorder? _batchSizes;

    internal RunningServer Server => _server ?? throw new InvalidOperationException("not started");

    public Api.V1.GanInference.GanInferenceClient Client => Server.Client;

    /// <summary>Every <c>gan.batch.size</c> recorded for <see cref="Batched"/>.</summary>
    public ConcurrentQueue<long> BatchedSizes => _batchSizes?.Sizes ?? throw new InvalidOperationException("not started");

    public async Task InitializeAsync()
    {
        _batchSizes = new BatchSizeRecorder(Batched);

        var models = new TinyGanModels();
        AddTranslator(models, Grey, 1, 1, graph => graph.Node("Identity", ["input"], "image"));
        AddTranslator(models, Rgb, 3, 3, graph => graph.Node("Identity", ["input"], "image"));
        AddTranslator(models, GreyToRgb, 1, 3, graph =>
        {
            var negative = graph.Node("Neg", ["input"]);
            var half = graph.Node("Mul", ["input", graph.Initializer("half", (ReadOnlySpan<float>)[0.5f])]);
            graph.Node("Concat", ["input", negative, half], "image", OnnxAttribute.Int("axis", 1));
        });
        AddTranslator(models, Batched, 1, 1, graph => graph.Node("Identity", ["input"], "image"),
            new JsonObject { ["maxBatchSize"] = 8, ["maxQueueDelayMs"] = 2000, ["maxQueueSize"] = 64, ["policy"] = "fixed" });
        models.AddUnconditional(Generator);
        _server = await RunningServer.StartAsync(
            models,
            $"--Limits:MaxImagesPerTranslate={MaxImagesPerTranslate}",
            $"--Limits:MaxInputImagePixels={MaxInputImagePixels}",
            $"--Translation:StreamWindow={StreamWindow}");
    }

    public async Task DisposeAsync()
    {
        _batchSizes?.Dispose();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }

    private static void AddTranslator(TinyGanModels models, string name, int inChannels, int outChannels, Action<OnnxGraphBuilder> body, JsonObject? batching = null)
    {
        var graph = new OnnxGraphBuilder();
        graph.Input("input", OnnxType.Float, Dim.Batch, inChannels, Size, Size);
        body(graph);
        graph.Output("image", OnnxType.Float, Dim.Batch, outChannels, Size, Size);
        var manifest = new JsonObject
        {
            ["name"] = name,
            ["kind"] = "image-to-image",
            ["inputs"] = new JsonArray(Tensor("input", inChannels)),
            ["outputs"] = new JsonArray(Tensor("image", outChannels)),
            ["batching"] = batching ?? new JsonObject { ["maxBatchSize"] = 16, ["maxQueueDelayMs"] = 1, ["maxQueueSize"] = 256 },
        };
        models.AddRaw(name, graph.ToBytes(), manifest.ToJsonString());
    }

    private static JsonObject Tensor(string name, int channels) => new()
    {
        ["name"] = name,
        ["role"] = "image",
        ["dtype"] = "float32",
        ["shape"] = new JsonArray(-1, channels, Size, Size),
        ["range"] = new JsonArray(-1, 1),
    };
}

/// <summary>
/// The translate test classes share one server, and run one after another: the batching tests read the
/// process-wide <c>gan.batch.size</c> of <see cref="TranslateFixture.Batched"/>, which parallel tests would blur.
/// </summary>
[CollectionDefinition(Name)]
public sealed class TranslateCollection : ICollectionFixture<TranslateFixture>
{
    public const string Name = "translate";
}
