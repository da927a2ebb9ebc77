using System.Text.Json;
using GanInference.Onnx;

namespace GanInference.Cli.Tests;

/// <summary>
/// Tiny generators written with the ONNX writer, each in a model folder with its gan.json, so the tests
/// need no trained weights: z·W (+ a per-class embedding) → tanh → image.
/// </summary>
internal static class TinyModels
{
    public const string Conditional = "tiny-cond";
    public const string Unconditional = "tiny-uncond";
    public const int LatentDim = 8;
    public const int Size = 8;
    public const int ClassCount = 10;

    public static void WriteRepository(string root)
    {
        WriteConditional(Path.Combine(root, Conditional));
        WriteUnconditional(Path.Combine(root, Unconditional));
    }

    private static void WriteConditional(string folder)
    {
        Directory.CreateDirectory(folder);
        var pixels = Size * Size;
        var g = new OnnxGraphBuilder();
        var z = g.Input("z", OnnxType.Float, Dim.Batch, LatentDim);
        var label = g.Input("label", OnnxType.Int64, Dim.Batch);
        var w = g.Initializer("w", Weights(LatentDim * pixels, 1), LatentDim, pixels);
        var embedding = g.Initializer("embedding", Weights(ClassCount * pixels, 2), ClassCount, pixels);
        var projected = g.Node("MatMul", [z, w]);
        var conditioned = g.Node("Add", [projected, g.Node("Gather", [embedding, label], OnnxAttribute.Int("axis", 0))]);
        var shape = g.Initializer("shape", [-1L, 1, Size, Size], 4);
        g.Node("Reshape", [g.Node("Tanh", [conditioned]), shape], "image");
        g.Output("image", OnnxType.Float, Dim.Batch, 1, Size, Size);
        g.Save(Path.Combine(folder, "model.onnx"));
        WriteManifest(folder, Conditional, "class-conditional", 1,
            [new { name = "z", role = "latent", dtype = "float32", shape = new long[] { -1, LatentDim } },
             new { name = "label", role = "label", dtype = "int64", shape = new long[] { -1 } }],
            Enumerable.Range(0, ClassCount).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray());
    }

    private static void WriteUnconditional(string folder)
    {
        Directory.CreateDirectory(folder);
        var values = 3 * Size * Size;
        var g = new OnnxGraphBuilder();
        var z = g.Input("z", OnnxType.Float, Dim.Batch, LatentDim);
        var w = g.Initializer("w", Weights(LatentDim * values, 3), LatentDim, values);
        var shape = g.Initializer("shape", [-1L, 3, Size, Size], 4);
        g.Node("Reshape", [g.Node("Tanh", [g.Node("MatMul", [z, w])]), shape], "image");
        g.Output("image", OnnxType.Float, Dim.Batch, 3, Size, Size);
        g.Save(Path.Combine(folder, "model.onnx"));
        WriteManifest(folder, Unconditional, "unconditional", 3,
            [new { name = "z", role = "latent", dtype = "float32", shape = new long[] { -1, LatentDim } }],
            null);
    }

    private static void WriteManifest(string folder, string name, string kind, int channels, object[] inputs, string[]? classes)
    {
        var manifest = new Dictionary<string, object?>
        {
            ["name"] = name,
            ["kind"] = kind,
            ["description"] = $"Tiny {kind} test generator",
            ["model"] = "model.onnx",
            ["inputs"] = inputs,
            ["outputs"] = new[] { new { name = "image", role = "image", dtype = "float32", shape = new long[] { -1, channels, Size, Size }, range = new[] { -1f, 1f } } },
            ["batching"] = new { maxBatchSize = 16, maxQueueDelayMs = 2, maxQueueSize = 1024, preferredBatchSizes = new[] { 4, 8, 16 } },
            ["defaults"] = new { truncation = 0 },
        };
        if (classes is not null)
        {
            manifest["classes"] = classes;
        }

        File.WriteAllText(Path.Combine(folder, "gan.json"), JsonSerializer.Serialize(manifest));
    }

    /// <summary>Deterministic weights in [-0.5, 0.5) from a small LCG.</summary>
    private static float[] Weights(int count, uint seed)
    {
        var values = new float[count];
        var state = seed * 2654435761u;
        for (var i = 0; i < count; i++)
        {
            state = (state * 1664525u) + 1013904223u;
            values[i] = ((state >> 8) / (float)(1 << 24)) - 0.5f;
        }

        return values;
    }
}
