using GanInference.Api.Inference;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;

namespace GanInference.Server.Tests.OpenInference;

/// <summary>
/// A real server with one tiny model of every kind, for the Open Inference Protocol tests: unconditional (1×8×8),
/// class-conditional (3 classes, 3×8×8), image-to-image (1×8×8, tanh), and a text-to-image pipeline of the tiny
/// stage 1 and stage 2 (3×8×8).
/// </summary>
public sealed class OipFixture : IAsyncLifetime
{
    public const string Unconditional = "o-uncond";
    public const string Conditional = "o-cond";
    public const string ImageToImage = "o-pix";
    public const string Stage1 = "o-stage1";
    public const string Stage2 = "o-stage2";
    public const string Pipeline = "o-pipe";
    public const int MaxImagesPerRequest = 64;
    public const int MaxReceiveMessageBytes = 1024 * 1024;

    private RunningServer? _server;

    internal RunningServer Server => _server ?? throw new InvalidOperationException("not started");

    public Api.V1.GanInference.GanInferenceClient Gan => Server.Client;

    public GRPCInferenceService.GRPCInferenceServiceClient Oip => new(Server.Channel);

    public async Task InitializeAsync()
    {
        var models = new TinyGanModels();
        models.AddUnconditional(Unconditional, channels: 1, size: 8);
        models.AddConditional(Conditional, classes: 3, channels: 3, size: 8);
        models.AddImageToImage(ImageToImage);
        TinyTextModels.AddStage1(models.Root, Stage1);
        TinyTextModels.AddStage2(models.Root, Stage2);
        TinyTextModels.AddPipeline(models.Root, Pipeline, [Stage1, Stage2]);
        _server = await RunningServer.StartAsync(models, $"--Limits:MaxImagesPerRequest={MaxImagesPerRequest}", $"--Limits:MaxReceiveMessageBytes={MaxReceiveMessageBytes}");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>The OIP test classes share one server.</summary>
[CollectionDefinition(Name)]
public sealed class OipCollection : ICollectionFixture<OipFixture>
{
    public const string Name = "oip";
}
