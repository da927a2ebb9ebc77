using GanInference.Api.V1;
using GanInference.Core.Repository;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;

namespace GanInference.Server.Tests;

/// <summary>Models added, replaced, broken and removed while the server runs.</summary>
public sealed class HotReloadTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_model_folder_added_while_serving_is_picked_up_by_the_file_watcher()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("first");
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=true", "--Models:PollIntervalSeconds=0", "--Models:ReloadDebounceMilliseconds=100");

        models.AddConditional("second");

        await WaitForModelsAsync(server, ["first", "second"]);
        var health = new Health.HealthClient(server.Channel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = "second" })).Status);
        Assert.Equal(2, (await server.Client.GenerateAsync(new GenerateRequest { Model = "second", Count = 2, Seed = 4 })).Images.Count);
    }

    [Fact]
    public async Task Without_file_events_the_poll_still_picks_up_changes()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("first");
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=false", "--Models:PollIntervalSeconds=0.3");

        models.AddUnconditional("polled");
        Directory.Delete(Path.Combine(models.Root, "first"), recursive: true);

        await WaitForModelsAsync(server, ["polled"]);
    }

    [Fact]
    public async Task A_replaced_model_swaps_atomically_running_calls_finish_on_the_old_version_and_new_calls_get_the_new_one()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", size: 8);
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=false", "--Models:PollIntervalSeconds=0", "--Generation:ChunkSize=8");
        var admin = new GanAdmin.GanAdminClient(server.Channel);
        var before = await server.Client.GetModelAsync(new GetModelRequest { Model = "m" });
        var old = server.App.Services.GetRequiredService<ModelRepository>().Get("m");

        using var running = server.Client.GenerateStream(new GenerateRequest { Model = "m", Count = 400, Seed = 1, Format = ImageFormat.RawU8 });
        Assert.True(await running.ResponseStream.MoveNext(CancellationToken.None));

        models.AddUnconditional("m", size: 16);
        var reload = await admin.ReloadModelsAsync(new ReloadModelsRequest());

        var change = Assert.Single(reload.Changes);
        Assert.Equal(("m", Api.V1.ModelChangeKind.ModelReplaced), (change.Folder, change.Kind));
        var after = await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = 2, Seed = 1, Format = ImageFormat.RawU8 });
        Assert.NotEqual(before.ContentHash, after.ContentHash);
        Assert.All(after.Images, image => Assert.Equal(16u, image.Width));

        // The stream that started on the old version finishes on it: every image, all 8x8.
        var received = 1;
        while (await running.ResponseStream.MoveNext(CancellationToken.None))
        {
            Assert.Equal(8u, running.ResponseStream.Current.Width);
            Assert.Equal(64, running.ResponseStream.Current.Data.Length);
            received++;
        }

        Assert.Equal(400, received);
        await server.App.Services.GetRequiredService<ModelRepository>().WhenRetiredAsync().WaitAsync(Patience);
        Assert.True(old.IsDisposed);
    }

    [Fact]
    public async Task A_stream_that_outlives_RetireTimeoutSeconds_is_not_cut_by_a_reload()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", size: 32);
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=false", "--Models:PollIntervalSeconds=0", "--Models:RetireTimeoutSeconds=0.2", "--Generation:ChunkSize=8");
        var old = server.App.Services.GetRequiredService<ModelRepository>().Get("m");

        // 3,000 float images of 32×32 (12 MB): more than HTTP/2 flow control lets the server run ahead of the reader.
        using var running = server.Client.GenerateStream(new GenerateRequest { Model = "m", Count = 3000, Seed = 1, Format = ImageFormat.RawF32 });
        Assert.True(await running.ResponseStream.MoveNext(CancellationToken.None));

        models.AddUnconditional("m", size: 16);
        await new GanAdmin.GanAdminClient(server.Channel).ReloadModelsAsync(new ReloadModelsRequest());

        // A slow reader: the stream runs well past the retire timeout, on the old version to the end.
        var received = 1;
        while (await running.ResponseStream.MoveNext(CancellationToken.None))
        {
            Assert.Equal(32u, running.ResponseStream.Current.Width);
            received++;
            if (received % 200 == 0)
            {
                await Task.Delay(100);
            }
        }

        Assert.Equal(3000, received);
        Assert.Equal(StatusCode.OK, running.GetStatus().StatusCode);
        await server.App.Services.GetRequiredService<ModelRepository>().WhenRetiredAsync().WaitAsync(Patience);
        Assert.True(old.IsDisposed);
    }

    [Fact]
    public async Task A_model_corrupted_during_reload_keeps_the_old_version_serving_and_the_reload_says_why()
    {
        var models = new TinyGanModels();
        var folder = models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=false", "--Models:PollIntervalSeconds=0");
        var admin = new GanAdmin.GanAdminClient(server.Channel);
        var before = await server.Client.GetModelAsync(new GetModelRequest { Model = "m" });

        var bytes = await File.ReadAllBytesAsync(Path.Combine(folder, "model.onnx"));
        for (var i = bytes.Length / 3; i < bytes.Length; i += 7)
        {
            bytes[i] ^= 0x5A;
        }

        await File.WriteAllBytesAsync(Path.Combine(folder, "model.onnx"), bytes);
        var reload = await admin.ReloadModelsAsync(new ReloadModelsRequest());

        var change = Assert.Single(reload.Changes);
        Assert.Equal(Api.V1.ModelChangeKind.ModelFailed, change.Kind);
        Assert.True(change.StillServing);
        Assert.Contains("model.onnx", change.Reason);
        Assert.Equal("m", Assert.Single(reload.Failures).Folder);
        Assert.Equal(["m"], reload.Models);
        var response = await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = 3, Seed = 2 });
        Assert.Equal(before.ContentHash, response.ContentHash);
        Assert.Equal(3, response.Images.Count);
    }

    [Fact]
    public async Task A_removed_model_is_unloaded_its_health_entry_cleared_and_its_session_released()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("keep");
        models.AddUnconditional("drop");
        await using var server = await RunningServer.StartAsync(models, "--Models:Watch=false", "--Models:PollIntervalSeconds=0");
        var admin = new GanAdmin.GanAdminClient(server.Channel);
        var repository = server.App.Services.GetRequiredService<ModelRepository>();
        var dropped = repository.Get("drop");

        Directory.Delete(Path.Combine(models.Root, "drop"), recursive: true);
        var reload = await admin.ReloadModelsAsync(new ReloadModelsRequest());

        Assert.Equal(("drop", Api.V1.ModelChangeKind.ModelRemoved), (Assert.Single(reload.Changes).Folder, reload.Changes[0].Kind));
        var error = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(new GenerateRequest { Model = "drop" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
        var health = new Health.HealthClient(server.Channel);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "drop" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
        await repository.WhenRetiredAsync().WaitAsync(Patience);
        Assert.True(dropped.IsDisposed);
        Assert.Single((await server.Client.GenerateAsync(new GenerateRequest { Model = "keep" })).Images);
    }

    private static async Task WaitForModelsAsync(RunningServer server, string[] expected)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var names = (await server.Client.ListModelsAsync(new ListModelsRequest())).Models.Select(m => m.Name).ToArray();
            if (names.SequenceEqual(expected))
            {
                return;
            }

            Assert.True(DateTime.UtcNow < deadline, $"models are [{string.Join(", ", names)}], expected [{string.Join(", ", expected)}]");
            await Task.Delay(50);
        }
    }
}
