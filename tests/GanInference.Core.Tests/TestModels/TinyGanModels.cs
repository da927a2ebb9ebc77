using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Onnx;

namespace GanInference.Tests.TestModels;

/// <summary>
/// Writes tiny but real generator models (ONNX graph + gan.json) into a temporary model repository:
/// <c>image = tanh(reshape(z · W [+ E[label]]))</c>, so every image depends only on its own latent
/// and label, as a real generator's does. Weights are fixed functions of their index.
/// </summary>
internal sealed class TinyGanModels : IDisposable
{
    public const int LatentDim = 8;

    public TinyGanModels()
    {
        Root = Path.Combine(Path.GetTempPath(), "gan-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    /// <summary>The repository folder.</summary>
    public string Root { get; }

    /// <summary>An unconditional generator; returns its folder.</summary>
    public string AddUnconditional(string name, int channels = 1, int size = 8, Action<JsonObject>? editManifest = null) =>
        Add(name, BuildGenerator(LatentDim, channels, size, classes: 0), Manifest(name, "unconditional", channels, size, classes: 0), editManifest);

    /// <summary>A class-conditional generator; returns its folder.</summary>
    public string AddConditional(string name, int classes = 3, int channels = 3, int size = 8, Action<JsonObject>? editManifest = null) =>
        Add(name, BuildGenerator(LatentDim, channels, size, classes), Manifest(name, "class-conditional", channels, size, classes), editManifest);

    /// <summary>
    /// A class-conditional generator whose manifest lists <paramref name="classes"/> classes while its embedding
    /// table holds one row fewer: it loads and warms up (label 0), and every run that includes the last label
    /// fails inside ONNX Runtime (Gather index out of range), as a real model with a latent bug would.
    /// </summary>
    public string AddFaultyConditional(string name, int classes = 3, int size = 8)
    {
        return Add(name, BuildGenerator(LatentDim, 1, size, classes - 1), Manifest(name, "class-conditional", 1, size, classes), edit: null);
    }

    /// <summary>An image-to-image model (image → tanh(image)); Generate must refuse it.</summary>
    public string AddImageToImage(string name, int size = 8)
    {
        var graph = new OnnxGraphBuilder();
        var input = graph.Input("source", OnnxType.Float, Dim.Batch, 1, size, size);
        graph.Node("Tanh", [input], "image");
        graph.Output("image", OnnxType.Float, Dim.Batch, 1, size, size);
        var manifest = new JsonObject
        {
            ["name"] = name,
            ["kind"] = "image-to-image",
            ["inputs"] = new JsonArray(Tensor("source", "image", "float32", [-1, 1, size, size], range: true)),
            ["outputs"] = new JsonArray(Tensor("image", "image", "float32", [-1, 1, size, size], range: true)),
        };
        return Add(name, graph.ToBytes(), manifest, edit: null);
    }

    /// <summary>A folder with arbitrary files (for broken-folder cases).</summary>
    public string AddRaw(string name, byte[]? model, string? manifestJson)
    {
        var folder = Path.Combine(Root, name);
        Directory.CreateDirectory(folder);
        if (model is not null)
        {
            File.WriteAllBytes(Path.Combine(folder, "model.onnx"), model);
        }

        if (manifestJson is not null)
        {
            File.WriteAllText(Path.Combine(folder, "gan.json"), manifestJson);
        }

        return folder;
    }

    /// <summary>The generator graph: z [batch, D] (and label [batch]) → image [batch, C, S, S].</summary>
    public static byte[] BuildGenerator(int latentDim, int channels, int size, int classes)
    {
        var pixels = channels * size * size;
        var graph = new OnnxGraphBuilder();
        var z = graph.Input("z", OnnxType.Float, Dim.Batch, latentDim);
        var weights = new float[latentDim * pixels];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = 0.6f * MathF.Sin(0.37f * i);
        }

        var hidden = graph.Node("MatMul", [z, graph.Initializer("w", weights, latentDim, pixels)]);
        if (classes > 0)
        {
            var label = graph.Input("label", OnnxType.Int64, Dim.Batch);
            var embedding = new float[classes * pixels];
            for (var k = 0; k < classes; k++)
            {
                for (var j = 0; j < pixels; j++)
                {
                    embedding[(k * pixels) + j] = 1.5f * MathF.Cos((1.3f * k) + (0.1f * j));
                }
            }

            var gathered = graph.Node("Gather", [graph.Initializer("embedding", embedding, classes, pixels), label], OnnxAttribute.Int("axis", 0));
            hidden = graph.Node("Add", [hidden, gathered]);
        }

        var shaped = graph.Node("Reshape", [hidden, graph.Initializer("shape", (ReadOnlySpan<long>)[-1, channels, size, size], 4)]);
        graph.Node("Tanh", [shaped], "image");
        graph.Output("image", OnnxType.Float, Dim.Batch, channels, size, size);
        return graph.ToBytes();
    }

    /// <summary>A valid manifest for <see cref="BuildGenerator"/>.</summary>
    public static JsonObject Manifest(string name, string kind, int channels, int size, int classes)
    {
        var inputs = new JsonArray(Tensor("z", "latent", "float32", [-1, LatentDim]));
        if (classes > 0)
        {
            inputs.Add(Tensor("label", "label", "int64", [-1]));
        }

        var manifest = new JsonObject
        {
            ["name"] = name,
            ["kind"] = kind,
            ["description"] = $"tiny test {kind} generator",
            ["inputs"] = inputs,
            ["outputs"] = new JsonArray(Tensor("image", "image", "float32", [-1, channels, size, size], range: true)),
            ["batching"] = new JsonObject { ["maxBatchSize"] = 64, ["maxQueueDelayMs"] = 2, ["maxQueueSize"] = 1024 },
            ["defaults"] = new JsonObject { ["truncation"] = 0 },
            ["provenance"] = new JsonObject { ["dataset"] = "none (fixed weights)", ["steps"] = 0, ["metrics"] = new JsonObject { ["score"] = 1.5 } },
        };
        if (classes > 0)
        {
            manifest["classes"] = new JsonArray(Enumerable.Range(0, classes).Select(k => (JsonNode)JsonValue.Create($"class-{k}")).ToArray());
        }

        return manifest;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A session may still hold a file open on some platforms; the temp folder is left behind.
        }
    }

    private static JsonObject Tensor(string name, string role, string dtype, long[] shape, bool range = false)
    {
        var tensor = new JsonObject
        {
            ["name"] = name,
            ["role"] = role,
            ["dtype"] = dtype,
            ["shape"] = new JsonArray(shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
        };
        if (range)
        {
            tensor["range"] = new JsonArray(-1, 1);
        }

        return tensor;
    }

    private string Add(string name, byte[] model, JsonObject manifest, Action<JsonObject>? edit)
    {
        edit?.Invoke(manifest);
        return AddRaw(name, model, manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    }
}
