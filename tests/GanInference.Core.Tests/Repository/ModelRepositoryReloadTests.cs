using GanInference.Core.Errors;
using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Core.Repository;
using GanInference.Tests.TestModels;

namespace GanInference.Core.Tests.Repository;

/// <summary>Hot reload at the repository level: add, replace, break, remove, and leases across a swap.</summary>
public sealed class ModelRepositoryReloadTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly TinyGanModels _models = new();

    public void Dispose() => _models.Dispose();

    [Fact]
    public async Task A_reload_adds_new_folders_replaces_changed_ones_removes_missing_ones_and_releases_their_sessions()
    {
        _models.AddUnconditional("stays");
        _models.AddUnconditional("changes", size: 8);
        _models.AddUnconditional("goes");
        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);
        var oldChanges = repository.Get("changes");
        var oldGoes = repository.Get("goes");
        var stays = repository.Get("stays");

        _models.AddUnconditional("changes", size: 16);
        _models.AddConditional("arrives");
        Directory.Delete(Path.Combine(_models.Root, "goes"), recursive: true);
        var report = await repository.ReloadAsync(CancellationToken.None);

        Assert.Equal(
            [("arrives", ModelChangeKind.Added), ("changes", ModelChangeKind.Replaced), ("goes", ModelChangeKind.Removed)],
            report.Changes.Select(c => (c.Folder, c.Kind)));
        Assert.Equal(["arrives", "changes", "stays"], report.Models);
        Assert.Equal(16, repository.Get("changes").Signature.Width);
        Assert.NotEqual(oldChanges.ContentHash, repository.Get("changes").ContentHash);
        Assert.Same(stays, repository.Get("stays"));
        Assert.Throws<ModelNotFoundException>(() => repository.Get("goes"));

        await repository.WhenRetiredAsync().WaitAsync(Patience);
        Assert.True(oldChanges.IsDisposed);
        Assert.True(oldGoes.IsDisposed);
        Assert.False(stays.IsDisposed);

        var again = await repository.ReloadAsync(CancellationToken.None);
        Assert.Empty(again.Changes);
    }

    [Fact]
    public async Task A_broken_replacement_leaves_the_old_model_serving_reports_why_and_a_fixed_one_is_picked_up()
    {
        var folder = _models.AddUnconditional("m");
        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);
        var original = repository.Get("m");

        // A truncated copy, as a half-finished upload would leave it.
        var bytes = await File.ReadAllBytesAsync(Path.Combine(folder, "model.onnx"));
        await File.WriteAllBytesAsync(Path.Combine(folder, "model.onnx"), bytes[..(bytes.Length / 2)]);
        var broken = await repository.ReloadAsync(CancellationToken.None);

        var change = Assert.Single(broken.Changes);
        Assert.Equal(ModelChangeKind.Failed, change.Kind);
        Assert.True(change.StillServing);
        Assert.Contains("model.onnx", change.Reason);
        Assert.Same(original, repository.Get("m"));
        Assert.Contains("model.onnx", Assert.Single(repository.Failures).Reason);
        Assert.Single(await GenerateAsync(repository, "m", 1));

        // The same broken files are not retried on every scan.
        Assert.Empty((await repository.ReloadAsync(CancellationToken.None)).Changes);

        _models.AddUnconditional("m", size: 12);
        var fixedReport = await repository.ReloadAsync(CancellationToken.None);
        Assert.Equal(ModelChangeKind.Replaced, Assert.Single(fixedReport.Changes).Kind);
        Assert.Empty(repository.Failures);
        Assert.Equal(12, repository.Get("m").Signature.Width);
    }

    [Fact]
    public async Task A_lease_keeps_the_replaced_model_serving_its_request_until_released()
    {
        _models.AddUnconditional("m", size: 8);
        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);
        var lease = repository.Acquire("m");
        var old = lease.Model;

        _models.AddUnconditional("m", size: 16);
        await repository.ReloadAsync(CancellationToken.None);

        // New requests get the new version; the leased request still runs on the old session.
        Assert.Equal(16, repository.Get("m").Signature.Width);
        using (var fresh = repository.Acquire("m"))
        {
            Assert.NotSame(old, fresh.Model);
        }

        await Task.Delay(200);
        Assert.False(old.IsDisposed);
        var images = await GenerateAsync(old, 3);
        Assert.Equal(3, images.Count);
        Assert.All(images, image => Assert.Equal(8 * 8, ImageFiles.Decode(image.Data.Span).Pixels.Length));

        lease.Dispose();
        await repository.WhenRetiredAsync().WaitAsync(Patience);
        Assert.True(old.IsDisposed);
    }

    [Fact]
    public async Task A_retired_model_stays_loaded_past_the_retire_timeout_while_a_request_holds_it_and_only_shutdown_releases_it()
    {
        _models.AddUnconditional("m");
        var repository = await RepositoryFactory.LoadAsync(_models.Root, new ModelRepositoryOptions { RetireTimeoutSeconds = 0.2 });
        using var stuck = repository.Acquire("m");

        Directory.Delete(Path.Combine(_models.Root, "m"), recursive: true);
        var report = await repository.ReloadAsync(CancellationToken.None);

        Assert.Equal(ModelChangeKind.Removed, Assert.Single(report.Changes).Kind);
        await Task.Delay(TimeSpan.FromSeconds(0.6));
        Assert.False(stuck.Model.IsDisposed);
        Assert.Single(await GenerateAsync(stuck.Model, 1));

        // Shutdown is the one thing that cuts it.
        await repository.DisposeAsync();
        Assert.True(stuck.Model.IsDisposed);
        var error = await Assert.ThrowsAsync<ServiceUnavailableException>(() => GenerateAsync(stuck.Model, 1));
        Assert.Contains("shutting down", error.Message);
    }

    [Fact]
    public async Task A_folder_whose_queue_delay_cannot_be_represented_is_skipped_with_its_reason_and_the_others_are_served()
    {
        _models.AddUnconditional("good");

        // A queue delay no TimeSpan can hold.
        _models.AddUnconditional("odd", editManifest: manifest => manifest["batching"] = new System.Text.Json.Nodes.JsonObject { ["maxQueueDelayMs"] = 1e300 });

        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);

        Assert.Equal(["good"], repository.Names);
        var failure = Assert.Single(repository.Failures);
        Assert.Equal("odd", failure.Folder);
        Assert.False(string.IsNullOrWhiteSpace(failure.Reason));
    }

    private static Task<List<EncodedImage>> GenerateAsync(ModelRepository repository, string name, int count) =>
        GenerateAsync(repository.Get(name), count);

    private static async Task<List<EncodedImage>> GenerateAsync(ServedModel model, int count)
    {
        var plan = GenerationPlan.Create(model.Name, model.Signature, 0, new GenerationSpec { Count = count, Seed = 1 }, 100);
        var images = new List<EncodedImage>();
        await foreach (var chunk in RepositoryFactory.Generator().GenerateAsync(model, plan, new ImageEncoding(ImageFormatKind.Png), DateTime.MaxValue, CancellationToken.None))
        {
            images.AddRange(chunk);
        }

        return images;
    }
}
