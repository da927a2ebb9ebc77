using GanInference.Api.V1;
using GanInference.Core.Repository;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;

namespace GanInference.Server.Tests.Text;

/// <summary>Pipelines while their steps are replaced, removed and restored on a running server.</summary>
public sealed class TextHotReloadTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task Replacing_a_step_rebinds_the_pipeline_a_running_stream_finishes_on_the_old_step_and_new_calls_use_the_new_one()
    {
        var models = new TinyGanModels();
        TinyTextModels.AddStage1(models.Root, "s1");
        TinyTextModels.AddStage2(models.Root, "s2");
        TinyTextModels.AddPipeline(models.Root, "pipe", ["s1", "s2"]);
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=false", "--Models:PollIntervalSeconds=0", "--Generation:ChunkSize=4");
        var admin = new GanAdmin.GanAdminClient(server.Channel);
        var request = new GenerateFromTextRequest { Model = "pipe", Texts = { "red seven" }, Seeds = { 21 }, Format = ImageFormat.RawF32 };
        var before = await server.Client.GenerateFromTextAsync(request);
        var oldStage1 = server.App.Services.GetRequiredService<ModelRepository>().Get("s1");

        using var running = server.Client.GenerateFromTextStream(new GenerateFromTextRequest { Model = "pipe", Texts = { "red seven" }, Count = 200, Seed = 21, Format = ImageFormat.RawF32 });
        Assert.True(await running.ResponseStream.MoveNext(CancellationToken.None));
        var first = running.ResponseStream.Current;

        TinyTextModels.AddStage1(models.Root, "s1", variant: 1);
        var reload = await admin.ReloadModelsAsync(new ReloadModelsRequest());

        Assert.Equal([("pipe", Api.V1.ModelChangeKind.ModelReplaced), ("s1", Api.V1.ModelChangeKind.ModelReplaced)], reload.Changes.Select(c => (c.Folder, c.Kind)));
        var after = await server.Client.GenerateFromTextAsync(request);
        Assert.NotEqual(before.ContentHash, after.ContentHash);
        Assert.NotEqual(before.Images[0].Data, after.Images[0].Data);
        Assert.Equal((await server.Client.GetModelAsync(new GetModelRequest { Model = "pipe" })).ContentHash, after.ContentHash);

        // The stream that started on the old stage 1 finishes on it: its first image is the old one, and all 200 arrive.
        Images.AssertClose(Images.Floats(before.Images[0]), Images.Floats(first));
        var received = 1;
        while (await running.ResponseStream.MoveNext(CancellationToken.None))
        {
            received++;
        }

        Assert.Equal(200, received);
        await server.App.Services.GetRequiredService<ModelRepository>().WhenRetiredAsync().WaitAsync(Patience);
        Assert.True(oldStage1.IsDisposed);
    }

    [Fact]
    public async Task Removing_a_step_takes_the_pipeline_out_of_service_with_the_reason_and_restoring_it_brings_it_back()
    {
        var models = new TinyGanModels();
        TinyTextModels.AddStage1(models.Root, "s1");
        TinyTextModels.AddStage2(models.Root, "s2");
        TinyTextModels.AddPipeline(models.Root, "pipe", ["s1", "s2"]);
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=false", "--Models:PollIntervalSeconds=0");
        var admin = new GanAdmin.GanAdminClient(server.Channel);
        var health = new Health.HealthClient(server.Channel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "pipe" })).Status);

        var stage2 = Path.Combine(models.Root, "s2");
        var parked = Path.Combine(models.Root, "..", Path.GetFileName(models.Root) + "-parked-s2");
        Directory.Move(stage2, parked);
        try
        {
            var removed = await admin.ReloadModelsAsync(new ReloadModelsRequest());

            Assert.Equal([("pipe", Api.V1.ModelChangeKind.ModelFailed), ("s2", Api.V1.ModelChangeKind.ModelRemoved)], removed.Changes.Select(c => (c.Folder, c.Kind)));
            Assert.Contains("pipeline.steps[1].model: 's2' is not a loaded model", removed.Changes[0].Reason);
            Assert.False(removed.Changes[0].StillServing);
            Assert.Equal(["s1"], removed.Models);
            var notFound = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateFromTextAsync(new GenerateFromTextRequest { Model = "pipe", Texts = { "red" } }).ResponseAsync);
            Assert.Equal(StatusCode.NotFound, notFound.StatusCode);
            var unknown = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "pipe" }).ResponseAsync);
            Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
            Assert.Single((await server.Client.GenerateFromTextAsync(new GenerateFromTextRequest { Model = "s1", Texts = { "red" } })).Images);
        }
        finally
        {
            Directory.Move(parked, stage2);
        }

        var restored = await admin.ReloadModelsAsync(new ReloadModelsRequest());

        Assert.Equal([("pipe", Api.V1.ModelChangeKind.ModelAdded), ("s2", Api.V1.ModelChangeKind.ModelAdded)], restored.Changes.Select(c => (c.Folder, c.Kind)));
        Assert.Empty(restored.Failures);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "pipe" })).Status);
        Assert.Single((await server.Client.GenerateFromTextAsync(new GenerateFromTextRequest { Model = "pipe", Texts = { "red" } })).Images);
    }
}
