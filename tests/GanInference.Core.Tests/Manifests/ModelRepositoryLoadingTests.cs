using System.Security.Cryptography;
using System.Text.Json.Nodes;
using GanInference.Core.Errors;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Repository;
using GanInference.Tests.TestModels;

namespace GanInference.Core.Tests.Manifests;

public sealed class ModelRepositoryLoadingTests : IDisposable
{
    private readonly TinyGanModels _models = new();

    [Fact]
    public async Task Valid_models_load_with_their_signature_hash_and_batching()
    {
        var folder = _models.AddUnconditional("plain", channels: 1, size: 8);
        _models.AddConditional("cond", classes: 4, channels: 3, size: 6);

        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);

        Assert.Empty(repository.Failures);
        Assert.Equal(["cond", "plain"], repository.Models.Select(m => m.Name));
        var plain = repository.Get("plain");
        Assert.Equal(ModelKind.Unconditional, plain.Signature.Kind);
        Assert.Equal(TinyGanModels.LatentDim, plain.Signature.LatentDim);
        Assert.Equal((1, 8, 8), (plain.Signature.Channels, plain.Signature.Height, plain.Signature.Width));
        Assert.Equal("cpu", plain.ExecutionProvider);
        var expectedHash = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(folder, "model.onnx"))));
        Assert.Equal(expectedHash, plain.ContentHash);
        Assert.Equal(64, plain.Batching.MaxBatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(2), plain.Batching.MaxQueueDelay);
        var cond = repository.Get("cond");
        Assert.Equal("label", cond.Signature.LabelInput);
        Assert.Equal(4, cond.Signature.Classes.Count);
    }

    [Theory]
    [InlineData("missing-tensor", "inputs[0]: 'zz' is not an input of model.onnx")]
    [InlineData("wrong-dtype", "inputs[0].dtype: 'int64' but model.onnx declares 'float32'")]
    [InlineData("wrong-shape", "inputs[0].shape: [-1, 16] but model.onnx declares [-1, 8]")]
    [InlineData("wrong-output-shape", "outputs[0].shape: [-1, 1, 9, 9] but model.onnx declares [-1, 1, 8, 8]")]
    [InlineData("unknown-kind", "kind: 'diffusion' is not one of: unconditional, class-conditional, text-conditional, image-to-image")]
    [InlineData("undescribed-input", "model.onnx input 'label' is not described")]
    [InlineData("name-mismatch", "name: 'other' must equal its folder name 'name-mismatch'")]
    [InlineData("no-range", "outputs[0].range: must be [min, max]")]
    [InlineData("bad-batching", "batching.maxBatchSize: 0 is outside 1..4096")]
    [InlineData("classes-missing", "classes: a class-conditional model must list its class names")]
    [InlineData("bad-policy", "batching.policy: 'greedy' is not one of: measured, fixed")]
    public async Task A_mismatched_manifest_is_skipped_with_a_reason_naming_the_field(string folder, string expectedReason)
    {
        switch (folder)
        {
            case "missing-tensor": _models.AddUnconditional(folder, editManifest: m => Input(m)["name"] = "zz"); break;
            case "wrong-dtype": _models.AddUnconditional(folder, editManifest: m => Input(m)["dtype"] = "int64"); break;
            case "wrong-shape": _models.AddUnconditional(folder, editManifest: m => Input(m)["shape"] = new JsonArray(-1, 16)); break;
            case "wrong-output-shape": _models.AddUnconditional(folder, editManifest: m => m["outputs"]![0]!["shape"] = new JsonArray(-1, 1, 9, 9)); break;
            case "unknown-kind": _models.AddUnconditional(folder, editManifest: m => m["kind"] = "diffusion"); break;
            case "undescribed-input": _models.AddConditional(folder, editManifest: m => m["inputs"]!.AsArray().RemoveAt(1)); break;
            case "name-mismatch": _models.AddUnconditional(folder, editManifest: m => m["name"] = "other"); break;
            case "no-range": _models.AddUnconditional(folder, editManifest: m => m["outputs"]![0]!.AsObject().Remove("range")); break;
            case "bad-batching": _models.AddUnconditional(folder, editManifest: m => m["batching"]!["maxBatchSize"] = 0); break;
            case "classes-missing": _models.AddConditional(folder, editManifest: m => m.Remove("classes")); break;
            case "bad-policy": _models.AddUnconditional(folder, editManifest: m => m["batching"]!["policy"] = "greedy"); break;
        }

        _models.AddUnconditional("healthy");

        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);

        Assert.Equal(["healthy"], repository.Models.Select(m => m.Name));
        var failure = Assert.Single(repository.Failures);
        Assert.Equal(folder, failure.Folder);
        Assert.Contains(expectedReason, failure.Reason);
    }

    [Fact]
    public async Task Bad_json_missing_files_and_broken_onnx_are_skipped_while_the_rest_load()
    {
        var model = TinyGanModels.BuildGenerator(TinyGanModels.LatentDim, 1, 8, 0);
        _models.AddRaw("bad-json", model, "{ \"name\": \"bad-json\", \"kind\": ");
        _models.AddRaw("wrong-json-type", model, "{ \"name\": \"wrong-json-type\", \"inputs\": \"z\" }");
        _models.AddRaw("no-manifest", model, manifestJson: null);
        _models.AddRaw("no-model", model: null, TinyGanModels.Manifest("no-model", "unconditional", 1, 8, 0).ToJsonString());
        _models.AddRaw("garbage-onnx", [1, 2, 3, 4], TinyGanModels.Manifest("garbage-onnx", "unconditional", 1, 8, 0).ToJsonString());
        _models.AddUnconditional("good-one");
        _models.AddConditional("good-two");

        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);

        Assert.Equal(["good-one", "good-two"], repository.Models.Select(m => m.Name));
        var reasons = repository.Failures.ToDictionary(f => f.Folder, f => f.Reason);
        Assert.Contains("gan.json: invalid JSON", reasons["bad-json"]);
        Assert.Contains("$.inputs", reasons["wrong-json-type"]);
        Assert.Contains("gan.json not found", reasons["no-manifest"]);
        Assert.Contains("model.onnx not found", reasons["no-model"]);
        Assert.Contains("model.onnx: ONNX Runtime refused it", reasons["garbage-onnx"]);
    }

    [Fact]
    public async Task A_graph_whose_computed_output_shape_differs_from_its_declaration_is_skipped()
    {
        // Declares image [batch, 1, 8, 8] but reshapes to [batch, 1, 4, 16]; ONNX Runtime's shape inference
        // (or, failing that, the pre-bound warm-up run) exposes it.
        var graph = new GanInference.Onnx.OnnxGraphBuilder();
        var z = graph.Input("z", GanInference.Onnx.OnnxType.Float, GanInference.Onnx.Dim.Batch, TinyGanModels.LatentDim);
        var hidden = graph.Node("MatMul", [z, graph.Initializer("w", new float[TinyGanModels.LatentDim * 64], TinyGanModels.LatentDim, 64)]);
        var shaped = graph.Node("Reshape", [hidden, graph.Initializer("shape", (ReadOnlySpan<long>)[-1, 1, 4, 16], 4)]);
        graph.Node("Tanh", [shaped], "image");
        graph.Output("image", GanInference.Onnx.OnnxType.Float, GanInference.Onnx.Dim.Batch, 1, 8, 8);
        _models.AddRaw("liar", graph.ToBytes(), TinyGanModels.Manifest("liar", "unconditional", 1, 8, 0).ToJsonString());
        _models.AddUnconditional("honest");

        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);

        Assert.Equal(["honest"], repository.Models.Select(m => m.Name));
        var reason = Assert.Single(repository.Failures).Reason;
        Assert.True(reason.Contains("outputs[0].shape", StringComparison.Ordinal) || reason.Contains("ONNX Runtime refused it", StringComparison.Ordinal), reason);
    }

    [Fact]
    public async Task Axes_the_graph_leaves_symbolic_are_fixed_by_the_manifest_and_checked_by_the_warm_up()
    {
        // Same graph twice, output declared [batch, 1, h, w]: the manifest that matches the real size
        // loads; the one claiming 9x9 is caught by the warm-up run, not by the metadata check.
        byte[] Graph()
        {
            var graph = new GanInference.Onnx.OnnxGraphBuilder();
            var z = graph.Input("z", GanInference.Onnx.OnnxType.Float, GanInference.Onnx.Dim.Batch, TinyGanModels.LatentDim);
            var hidden = graph.Node("MatMul", [z, graph.Initializer("w", new float[TinyGanModels.LatentDim * 64], TinyGanModels.LatentDim, 64)]);
            // The target shape depends on z's values (it adds 0 * max(z)), so shape inference cannot know h and w.
            var zero = graph.Node("Cast", [graph.Node("Mul", [graph.Node("ReduceMax", [z], GanInference.Onnx.OnnxAttribute.Int("keepdims", 0)), graph.Initializer("nought", (ReadOnlySpan<float>)[0f])])], GanInference.Onnx.OnnxAttribute.Int("to", 7));
            var shape = graph.Node("Add", [graph.Initializer("target", (ReadOnlySpan<long>)[-1, 1, 8, 8], 4), zero]);
            graph.Node("Tanh", [graph.Node("Reshape", [hidden, shape])], "image");
            graph.Output("image", GanInference.Onnx.OnnxType.Float, GanInference.Onnx.Dim.Batch, 1, GanInference.Onnx.Dim.Symbolic("h"), GanInference.Onnx.Dim.Symbolic("w"));
            return graph.ToBytes();
        }

        _models.AddRaw("open-axes", Graph(), TinyGanModels.Manifest("open-axes", "unconditional", 1, 8, 0).ToJsonString());
        _models.AddRaw("open-axes-wrong", Graph(), TinyGanModels.Manifest("open-axes-wrong", "unconditional", 1, 9, 0).ToJsonString());

        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);

        Assert.Equal(["open-axes"], repository.Models.Select(m => m.Name));
        var failure = Assert.Single(repository.Failures);
        Assert.Equal("open-axes-wrong", failure.Folder);
        Assert.Contains("ONNX Runtime refused it", failure.Reason);
    }

    [Fact]
    public async Task Configuration_overrides_the_manifest_batching_per_model_and_globally()
    {
        _models.AddUnconditional("a");
        _models.AddUnconditional("b");
        var options = new ModelRepositoryOptions
        {
            Batching = new BatchingOverrides { MaxQueueSize = 7 },
            Overrides = { ["b"] = new BatchingOverrides { MaxBatchSize = 3, MaxQueueDelayMs = 0.5 } },
        };

        await using var repository = await RepositoryFactory.LoadAsync(_models.Root, options);

        Assert.Equal((64, 7), (repository.Get("a").Batching.MaxBatchSize, repository.Get("a").Batching.MaxQueueSize));
        Assert.Equal(3, repository.Get("b").Batching.MaxBatchSize);
        Assert.Equal(TimeSpan.FromMilliseconds(0.5), repository.Get("b").Batching.MaxQueueDelay);
        Assert.Equal(7, repository.Get("b").Batching.MaxQueueSize);
    }

    [Fact]
    public async Task An_unknown_model_name_lists_the_loaded_models()
    {
        _models.AddUnconditional("alpha");
        _models.AddUnconditional("beta");
        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);

        var error = Assert.Throws<ModelNotFoundException>(() => repository.Get("gamma"));

        Assert.Equal(GanErrorKind.NotFound, error.Kind);
        Assert.Contains("'gamma'", error.Message);
        Assert.Contains("[alpha, beta]", error.Message);
    }

    [Fact]
    public async Task A_missing_repository_folder_serves_no_models()
    {
        await using var repository = await RepositoryFactory.LoadAsync(Path.Combine(_models.Root, "does-not-exist"));
        Assert.Empty(repository.Models);
    }

    public void Dispose() => _models.Dispose();

    private static JsonNode Input(JsonObject manifest) => manifest["inputs"]![0]!;
}
