using GanInference.Tests.TestModels;

namespace GanInference.Server.Tests.Infrastructure;

/// <summary>One server shared by the functional tests of a collection, with every kind of test model.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    public const string Unconditional = "tiny-uncond";
    public const string Conditional = "tiny-cond";
    public const string ImageToImage = "tiny-pix";
    public const string Narrow = "tiny-narrow";
    public const string Wide = "tiny-wide";
    public const int MaxImagesPerRequest = 256;

    private RunningServer? _server;

    internal RunningServer Server => _server ?? throw new InvalidOperationException("not started");

    public Api.V1.GanInference.GanInferenceClient Client => Server.Client;

    public async Task InitializeAsync()
    {
        var models = new TinyGanModels();
        models.AddUnconditional(Unconditional, channels: 1, size: 8);
        models.AddConditional(Conditional, classes: 3, channels: 3, size: 8);
        models.AddImageToImage(ImageToImage);
        models.AddUnconditional(Narrow, channels: 1, size: 32);
        models.AddUnconditional(Wide, channels: 1, size: 48);
        models.AddRaw("broken", TinyGanModels.BuildGenerator(TinyGanModels.LatentDim, 1, 8, 0), "{ not json");
        _server = await RunningServer.StartAsync(
            models,
            $"--Limits:MaxImagesPerRequest={MaxImagesPerRequest}",
            $"--Models:Overrides:{Narrow}:MaxBatchSize=1",
            $"--Models:Overrides:{Narrow}:MaxQueueSize=1",
            $"--Models:Overrides:{Narrow}:MaxQueueDelayMs=0");
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}

/// <summary>
/// Runs alone, after the parallel test classes: one of its tests measures the process's managed memory, which
/// other servers allocating in parallel would blur.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ServerCollection : ICollectionFixture<ServerFixture>
{
    public const string Name = "server";
}
