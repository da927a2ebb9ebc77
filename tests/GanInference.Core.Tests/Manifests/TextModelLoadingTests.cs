using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using GanInference.Core.Errors;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Repository;
using GanInference.Core.TextGeneration;
using GanInference.Tests.TestModels;

namespace GanInference.Core.Tests.Manifests;

/// <summary>Text-conditional models and pipelines: their manifests, their checks against the graph, and binding pipelines to their steps.</summary>
public sealed class TextModelLoadingTests : IDisposable
{
    private readonly TinyGanModels _models = new();

    private string Root => _models.Root;

    public void Dispose() => _models.Dispose();

    [Fact]
    public async Task Text_models_and_a_pipeline_of_them_load_with_their_text_block_image_input_and_steps()
    {
        TinyTextModels.AddStage1(Root, "s1");
        TinyTextModels.AddStage2(Root, "s2");
        TinyTextModels.AddPipeline(Root, "pipe", ["s1", "s2"]);

        await using var repository = await RepositoryFactory.LoadAsync(Root);

        Assert.Empty(repository.Failures);
        Assert.Equal(["s1", "s2"], repository.Models.Select(m => m.Name));
        Assert.Equal(["pipe", "s1", "s2"], repository.Names);
        var s1 = repository.Get("s1").Signature;
        Assert.Equal(ModelKind.TextConditional, s1.Kind);
        Assert.Equal(("tokens", "embedding", "z"), (s1.TokensInput, s1.EmbeddingInput, s1.LatentInput));
        Assert.Null(s1.ImageInput);
        Assert.Equal(TinyTextModels.Vocabulary, s1.Text!.Vocabulary);
        Assert.Equal((TinyTextModels.MaxTokens, TinyTextModels.EmbeddingDim), (s1.Text.MaxTokens, s1.Text.EmbeddingDim));
        Assert.Equal(TinyTextModels.LatentDim + TinyTextModels.NoiseDim, s1.SeedStreamLength);
        var s2 = repository.Get("s2").Signature;
        Assert.Equal("stage1_image", s2.ImageInput!.Name);
        Assert.Equal((3, 4, 4, -1f, 1f), (s2.ImageInput.Geometry.Channels, s2.ImageInput.Geometry.Height, s2.ImageInput.Geometry.Width, s2.ImageInput.Geometry.Min, s2.ImageInput.Geometry.Max));
        Assert.Equal(0, s2.LatentDim);
        Assert.Equal(TinyTextModels.NoiseDim, s2.SeedStreamLength);

        Assert.True(repository.TryGetPipeline("pipe", out var pipeline));
        Assert.Equal(["s1", "s2"], pipeline.Steps.Select(s => s.Name));
        Assert.Same(repository.Get("s1"), pipeline.Steps[0]);
        Assert.Equal((3, 8, 8), (pipeline.Geometry.Channels, pipeline.Geometry.Height, pipeline.Geometry.Width));
        var lines = $"s1 {repository.Get("s1").ContentHash}\ns2 {repository.Get("s2").ContentHash}";
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(lines))), pipeline.ContentHash);

        // A pipeline is not a model: Generate and Translate are told what it is instead of NOT_FOUND.
        var error = Assert.Throws<ModelKindMismatchException>(() => repository.Get("pipe"));
        Assert.Equal("model 'pipe' is a text-conditional pipeline of [s1, s2]; GenerateFromText serves it", error.Message);
    }

    [Theory]
    [InlineData("no-text", "text: a text-conditional model needs a text block")]
    [InlineData("pad-missing", "text.vocabulary[0]: must be \"<pad>\" (token id 0 is padding), got 'a'")]
    [InlineData("upper-case", "text.vocabulary[3]: 'Green' is not a lower-case word of [a-z0-9]")]
    [InlineData("two-words", "text.vocabulary[2]: 'dark red' is not a lower-case word of [a-z0-9]")]
    [InlineData("duplicate", "text.vocabulary[4]: 'red' is listed twice (also at 2)")]
    [InlineData("only-pad", "text.vocabulary: must list \"<pad>\" and at least one word")]
    [InlineData("max-tokens", "inputs[0]: a tokens input must be int64 [-1, 7] (text.maxTokens)")]
    [InlineData("embedding-dim", "inputs[1]: an embedding input must be float32 [-1, 5] (text.embeddingDim)")]
    [InlineData("max-tokens-missing", "text.maxTokens: (missing) is outside 1..1024")]
    [InlineData("no-tokens-input", "a text-conditional model needs a 'tokens' input")]
    [InlineData("text-on-unconditional", "text: only text-conditional models have a text block; this one is 'unconditional'")]
    public async Task A_bad_text_block_is_skipped_with_a_reason_naming_the_field(string folder, string expectedReason)
    {
        void Vocabulary(JsonObject m, Action<JsonArray> edit) => edit(m["text"]!["vocabulary"]!.AsArray());
        switch (folder)
        {
            case "no-text": TinyTextModels.AddStage1(Root, folder, editManifest: m => m.Remove("text")); break;
            case "pad-missing": TinyTextModels.AddStage1(Root, folder, editManifest: m => Vocabulary(m, v => v.RemoveAt(0))); break;
            case "upper-case": TinyTextModels.AddStage1(Root, folder, editManifest: m => Vocabulary(m, v => v[3] = "Green")); break;
            case "two-words": TinyTextModels.AddStage1(Root, folder, editManifest: m => Vocabulary(m, v => v[2] = "dark red")); break;
            case "duplicate": TinyTextModels.AddStage1(Root, folder, editManifest: m => Vocabulary(m, v => v[4] = "red")); break;
            case "only-pad": TinyTextModels.AddStage1(Root, folder, editManifest: m => m["text"]!["vocabulary"] = new JsonArray("<pad>")); break;
            case "max-tokens": TinyTextModels.AddStage1(Root, folder, editManifest: m => m["text"]!["maxTokens"] = 7); break;
            case "embedding-dim": TinyTextModels.AddStage1(Root, folder, editManifest: m => m["text"]!["embeddingDim"] = 5); break;
            case "max-tokens-missing": TinyTextModels.AddStage1(Root, folder, editManifest: m => m["text"]!.AsObject().Remove("maxTokens")); break;
            case "no-tokens-input": TinyTextModels.AddStage1(Root, folder, editManifest: m => m["inputs"]![0]!["role"] = "embedding"); break;
            case "text-on-unconditional": _models.AddUnconditional(folder, editManifest: m => m["text"] = new JsonObject { ["vocabulary"] = new JsonArray("<pad>", "a"), ["maxTokens"] = 4, ["embeddingDim"] = 4 }); break;
        }

        TinyTextModels.AddStage1(Root, "healthy");

        await using var repository = await RepositoryFactory.LoadAsync(Root);

        Assert.Equal(["healthy"], repository.Models.Select(m => m.Name));
        var failure = Assert.Single(repository.Failures);
        Assert.Equal(folder, failure.Folder);
        Assert.Contains(expectedReason, failure.Reason);
    }

    [Theory]
    [InlineData("missing-step", "pipeline.steps[1].model: 'nowhere' is not a loaded model (no model folder of that name)")]
    [InlineData("broken-step", "pipeline.steps[1].model: 'broken' is not a loaded model (its folder was skipped: gan.json: text.maxTokens")]
    [InlineData("image-first", "pipeline.steps[0].model: 's2' takes an image input ('stage1_image'); the first step has no previous step to take it from")]
    [InlineData("no-image-later", "pipeline.steps[1].model: 's1' has no 'image' input to take step 0's output; every later step needs exactly one")]
    [InlineData("shape-mismatch", "pipeline.steps[1].model: 's2-big' input 'stage1_image' is [-1, 3, 5, 5] in [-1, 1], but step 0 ('s1') outputs [-1, 3, 4, 4] in [-1, 1]")]
    [InlineData("range-mismatch", "pipeline.steps[1].model: 's2-unit' input 'stage1_image' is [-1, 3, 4, 4] in [0, 1], but step 0 ('s1') outputs [-1, 3, 4, 4] in [-1, 1]")]
    [InlineData("other-text", "pipeline.steps[1].model: 's2-words' has another text block than step 0 ('s1')")]
    [InlineData("not-text", "pipeline.steps[0].model: 'plain' is unconditional; pipeline steps must be text-conditional models")]
    [InlineData("no-steps", "pipeline.steps: must list at least one step")]
    [InlineData("has-model", "model: a pipeline has none of its own")]
    [InlineData("wrong-kind", "kind: 'unconditional': a pipeline must be text-conditional")]
    [InlineData("self", "pipeline.steps[0].model: a pipeline cannot be a step of itself")]
    public async Task A_pipeline_whose_steps_are_missing_or_do_not_fit_is_skipped_with_the_reason_and_the_rest_is_served(string pipeline, string expectedReason)
    {
        TinyTextModels.AddStage1(Root, "s1");
        TinyTextModels.AddStage2(Root, "s2");
        TinyTextModels.AddStage2(Root, "s2-big", inputSize: 5);
        TinyTextModels.AddStage2(Root, "s2-unit", editManifest: m => m["inputs"]![2]!["range"] = new JsonArray(0, 1));
        TinyTextModels.AddStage2(Root, "s2-words", editManifest: m => m["text"]!["vocabulary"]!.AsArray().Add("purple"));
        TinyTextModels.AddStage1(Root, "broken", editManifest: m => m["text"]!["maxTokens"] = 0);
        _models.AddUnconditional("plain");
        TinyTextModels.AddPipeline(Root, "good", ["s1", "s2"]);
        switch (pipeline)
        {
            case "missing-step": TinyTextModels.AddPipeline(Root, pipeline, ["s1", "nowhere"]); break;
            case "broken-step": TinyTextModels.AddPipeline(Root, pipeline, ["s1", "broken"]); break;
            case "image-first": TinyTextModels.AddPipeline(Root, pipeline, ["s2"]); break;
            case "no-image-later": TinyTextModels.AddPipeline(Root, pipeline, ["s1", "s1"]); break;
            case "shape-mismatch": TinyTextModels.AddPipeline(Root, pipeline, ["s1", "s2-big"]); break;
            case "range-mismatch": TinyTextModels.AddPipeline(Root, pipeline, ["s1", "s2-unit"]); break;
            case "other-text": TinyTextModels.AddPipeline(Root, pipeline, ["s1", "s2-words"]); break;
            case "not-text": TinyTextModels.AddPipeline(Root, pipeline, ["plain"]); break;
            case "no-steps": TinyTextModels.AddPipeline(Root, pipeline, []); break;
            case "has-model": TinyTextModels.AddPipeline(Root, pipeline, ["s1"], m => m["model"] = "model.onnx"); break;
            case "wrong-kind": TinyTextModels.AddPipeline(Root, pipeline, ["s1"], m => m["kind"] = "unconditional"); break;
            case "self": TinyTextModels.AddPipeline(Root, pipeline, [pipeline]); break;
        }

        await using var repository = await RepositoryFactory.LoadAsync(Root);

        Assert.Equal(["good"], repository.Pipelines.Select(p => p.Name));
        var failure = Assert.Single(repository.Failures, f => f.Folder == pipeline);
        Assert.Contains(expectedReason, failure.Reason);
        Assert.Throws<ModelNotFoundException>(() => repository.AcquireText(pipeline));
    }

    [Fact]
    public async Task Reloading_a_step_rebinds_its_pipelines_removing_it_skips_them_and_restoring_it_serves_them_again()
    {
        TinyTextModels.AddStage1(Root, "s1");
        TinyTextModels.AddStage2(Root, "s2");
        TinyTextModels.AddPipeline(Root, "pipe", ["s1", "s2"]);
        await using var repository = await RepositoryFactory.LoadAsync(Root);
        Assert.True(repository.TryGetPipeline("pipe", out var before));
        var oldStage1 = repository.Get("s1");

        TinyTextModels.AddStage1(Root, "s1", variant: 1);
        var replaced = await repository.ReloadAsync(CancellationToken.None);

        Assert.Equal([("pipe", ModelChangeKind.Replaced), ("s1", ModelChangeKind.Replaced)], replaced.Changes.Select(c => (c.Folder, c.Kind)));
        Assert.True(repository.TryGetPipeline("pipe", out var after));
        Assert.Same(repository.Get("s1"), after.Steps[0]);
        Assert.NotSame(oldStage1, after.Steps[0]);
        Assert.NotEqual(before.ContentHash, after.ContentHash);
        Assert.Same(before.Steps[1], after.Steps[1]);
        Assert.Empty((await repository.ReloadAsync(CancellationToken.None)).Changes);

        var stage2 = Path.Combine(Root, "s2");
        var parked = Path.Combine(Path.GetTempPath(), "parked-" + Guid.NewGuid().ToString("N"));
        Directory.Move(stage2, parked);
        var removed = await repository.ReloadAsync(CancellationToken.None);

        Assert.Equal([("pipe", ModelChangeKind.Failed), ("s2", ModelChangeKind.Removed)], removed.Changes.Select(c => (c.Folder, c.Kind)));
        Assert.Contains("pipeline.steps[1].model: 's2' is not a loaded model", removed.Changes[0].Reason);
        Assert.False(removed.Changes[0].StillServing);
        Assert.Empty(repository.Pipelines);
        Assert.Equal(["s1"], removed.Models);
        Assert.Equal("pipe", Assert.Single(repository.Failures).Folder);

        // Nothing changed: the failure is not reported again at every poll.
        Assert.Empty((await repository.ReloadAsync(CancellationToken.None)).Changes);

        Directory.Move(parked, stage2);
        var restored = await repository.ReloadAsync(CancellationToken.None);

        Assert.Equal([("pipe", ModelChangeKind.Added), ("s2", ModelChangeKind.Added)], restored.Changes.Select(c => (c.Folder, c.Kind)));
        Assert.Empty(repository.Failures);
        using var target = repository.AcquireText("pipe");
        Assert.Equal(["s1", "s2"], target.Steps.Select(s => s.Name));
    }

    [Fact]
    public async Task A_lease_on_a_pipeline_holds_every_step_so_a_replaced_step_finishes_its_calls_before_it_is_released()
    {
        TinyTextModels.AddStage1(Root, "s1");
        TinyTextModels.AddStage2(Root, "s2");
        TinyTextModels.AddPipeline(Root, "pipe", ["s1", "s2"]);
        await using var repository = await RepositoryFactory.LoadAsync(Root);
        var oldStage1 = repository.Get("s1");

        var held = repository.AcquireText("pipe");
        TinyTextModels.AddStage1(Root, "s1", variant: 1);
        await repository.ReloadAsync(CancellationToken.None);

        Assert.Same(oldStage1, held.Steps[0]);
        Assert.Equal(1, oldStage1.ActiveLeases);
        await Task.Delay(200);
        Assert.False(oldStage1.IsDisposed);

        held.Dispose();
        await repository.WhenRetiredAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.True(oldStage1.IsDisposed);
        using var fresh = repository.AcquireText("pipe");
        Assert.NotSame(oldStage1, fresh.Steps[0]);
    }

    [Fact]
    public async Task GenerateFromText_targets_are_text_models_without_an_image_input_and_pipelines()
    {
        TinyTextModels.AddStage1(Root, "s1");
        TinyTextModels.AddStage2(Root, "s2");
        TinyTextModels.AddPipeline(Root, "pipe", ["s1", "s2"]);
        _models.AddUnconditional("plain");
        await using var repository = await RepositoryFactory.LoadAsync(Root);

        using (var single = repository.AcquireText("s1"))
        {
            Assert.Equal(["s1"], single.Steps.Select(s => s.Name));
            Assert.Equal(repository.Get("s1").ContentHash, single.ContentHash);
        }

        var stepOnly = Assert.Throws<ModelKindMismatchException>(() => repository.AcquireText("s2"));
        Assert.Equal("model 's2' takes an image from a previous step (input 'stage1_image'), so it runs only as a pipeline step; call GenerateFromText with the pipeline [pipe]", stepOnly.Message);
        var plain = Assert.Throws<ModelKindMismatchException>(() => repository.AcquireText("plain"));
        Assert.Equal("model 'plain' is unconditional; GenerateFromText serves text-conditional models and pipelines", plain.Message);
        var unknown = Assert.Throws<ModelNotFoundException>(() => repository.AcquireText("nope"));
        Assert.Equal("model 'nope' is not loaded; loaded models: [pipe, plain, s1, s2]", unknown.Message);
        Assert.All(repository.Models, m => Assert.Equal(0, m.ActiveLeases));
    }
}
