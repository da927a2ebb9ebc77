using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;

namespace GanInference.Server.Tests;

/// <summary>The batch size profile over a real server: GetModel, the admin API's ProfileBatching, the metrics.</summary>
public sealed class BatchProfilingTests
{
    [Fact]
    public async Task ProfileBatching_measures_every_size_and_GetModel_and_the_metrics_show_it()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        models.AddUnconditional("pinned", editManifest: m => m["batching"]!["policy"] = "fixed");
        await using var server = await RunningServer.StartAsync(
            models, "--Models:Overrides:m:MaxBatchSize=8", "--Models:Overrides:pinned:MaxBatchSize=4");
        var admin = new GanAdmin.GanAdminClient(server.Channel);

        var before = await server.Client.GetModelAsync(new GetModelRequest { Model = "m" });
        Assert.Equal("measured", before.Batching.Policy);
        Assert.Null(before.Batching.Profile); // no load yet, so not measured yet
        Assert.Equal(8u, before.Batching.EffectiveMaxBatchSize);

        var first = await admin.ProfileBatchingAsync(new ProfileBatchingRequest { Model = "m" });
        var second = await admin.ProfileBatchingAsync(new ProfileBatchingRequest { Model = "m" });

        Assert.Equal("m", second.Model);
        Assert.Equal([1u, 2u, 4u, 8u], second.Profile.Sizes.Select(s => s.BatchSize));
        Assert.All(second.Profile.Sizes, s => Assert.True(s.Runs >= 1 && s.ImagesPerSecond > 0, s.ToString()));
        Assert.Equal(second.Profile.ChosenBatchSize, second.EffectiveMaxBatchSize);
        Assert.True(second.Profile.MeasuredAt.ToDateTimeOffset() >= first.Profile.MeasuredAt.ToDateTimeOffset());
        var after = await server.Client.GetModelAsync(new GetModelRequest { Model = "m" });
        Assert.Equal(second.Profile, after.Batching.Profile); // the latest profile is the one served
        Assert.Equal(second.Profile.ChosenBatchSize, after.Batching.EffectiveMaxBatchSize);
        Assert.Equal(0.10, after.Batching.Profile.Tolerance);

        // Pinned to fixed: measured and shown, but batches still grow to the maximum.
        var pinned = await admin.ProfileBatchingAsync(new ProfileBatchingRequest { Model = "pinned" });
        Assert.Equal(("fixed", 4u), (pinned.Policy, pinned.EffectiveMaxBatchSize));
        Assert.Equal([1u, 2u, 4u], pinned.Profile.Sizes.Select(s => s.BatchSize));

        using var http = new HttpClient();
        var metrics = await http.GetStringAsync(server.HttpAddress + "/metrics");
        foreach (var size in new[] { 1, 2, 4, 8 })
        {
            Assert.Contains($"batch_size=\"{size}\"", metrics);
        }

        Assert.Contains("gan_batch_profile_throughput", metrics);
        Assert.Contains("gan_batch_chosen_size", metrics);
    }

    [Fact]
    public async Task Load_arriving_profiles_the_model_once_and_its_images_come_back_whole()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, "--Models:Overrides:m:MaxBatchSize=4");

        var reply = await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = 6, Seed = 3, Format = ImageFormat.RawU8 });

        Assert.Equal(6, reply.Images.Count);
        var info = await server.Client.GetModelAsync(new GetModelRequest { Model = "m" });
        Assert.Equal([1u, 2u, 4u], info.Batching.Profile.Sizes.Select(s => s.BatchSize));
    }

    [Fact]
    public async Task ProfileBatching_refuses_an_unknown_model_a_pipeline_and_a_missing_name()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        TinyTextModels.AddStage1(models.Root, "s1");
        TinyTextModels.AddStage2(models.Root, "s2");
        TinyTextModels.AddPipeline(models.Root, "pipe", ["s1", "s2"]);
        await using var server = await RunningServer.StartAsync(models);
        var admin = new GanAdmin.GanAdminClient(server.Channel);

        var unknown = await Assert.ThrowsAsync<RpcException>(() => admin.ProfileBatchingAsync(new ProfileBatchingRequest { Model = "nope" }).ResponseAsync);
        var pipeline = await Assert.ThrowsAsync<RpcException>(() => admin.ProfileBatchingAsync(new ProfileBatchingRequest { Model = "pipe" }).ResponseAsync);
        var missing = await Assert.ThrowsAsync<RpcException>(() => admin.ProfileBatchingAsync(new ProfileBatchingRequest()).ResponseAsync);

        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(StatusCode.FailedPrecondition, pipeline.StatusCode);
        Assert.Contains("profile its steps (s1, s2)", pipeline.Status.Detail);
        Assert.Equal(StatusCode.InvalidArgument, missing.StatusCode);

        // A step is a model of its own and can be profiled.
        var step = await admin.ProfileBatchingAsync(new ProfileBatchingRequest { Model = "s1" });
        Assert.NotEmpty(step.Profile.Sizes);
    }
}
