using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace GanInference.Onnx.Benchmarks;

/// <summary>One benchmark model: its folder name, ONNX bytes and <c>gan.json</c>.</summary>
public sealed record BenchmarkModel(string Name, byte[] Onnx, string ManifestJson, long MultiplyAddsPerImage)
{
    /// <summary>Writes <c>ROOT/NAME/model.onnx</c> and <c>gan.json</c>; returns the folder.</summary>
    public string WriteTo(string root)
    {
        var folder = Path.Combine(root, Name);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), Onnx);
        File.WriteAllText(Path.Combine(folder, "gan.json"), ManifestJson + "\n");
        return folder;
    }
}

/// <summary>
/// Models at the sizes users serve, with random weights (speed does not depend on training), for the
/// benchmarks of docs/performance.md: a DCGAN-style generator (latent → 4×4 → ConvTranspose ×2 per layer
/// with BatchNorm + ReLU → tanh) and a pix2pix-style U-Net (Conv stride 2 + LeakyReLU down, ConvTranspose
/// + ReLU up with skip connections, tanh). Weights come from a seeded generator, so the same arguments
/// always write the same bytes. Their manifests are real: the server serves them like any model.
/// </summary>
public static class BenchmarkModels
{
    /// <summary>The latent size of the DCGAN-style generators.</summary>
    public const int LatentDim = 128;

    /// <summary>The widest layer of either architecture (channels).</summary>
    public const int MaxChannels = 512;

    /// <summary>
    /// The models of <c>tools/bench/make-models.sh</c>: DCGAN-style generators at 256×256×3 and 512×512×3,
    /// and a U-Net image-to-image model at 256×256×3.
    /// </summary>
    public static IReadOnlyList<BenchmarkModel> Standard() =>
    [
        Dcgan("bench-dcgan-256", 256, width: 32),
        Dcgan("bench-dcgan-512", 512, width: 16),
        UNet("bench-unet-256", 256, width: 32, depth: 5),
    ];

    /// <summary>
    /// A DCGAN-style generator: z [N, 128] → reshape [N, 128, 1, 1] → ConvTranspose 4×4 to 4×4 → then
    /// log2(size / 4) − 1 ConvTranspose (kernel 4, stride 2) + BatchNorm + ReLU layers, each doubling the
    /// side, channels <c>min(512, width · 2^k)</c> falling to <paramref name="width"/> → ConvTranspose to 3
    /// channels at <paramref name="size"/> → tanh, in [-1, 1].
    /// </summary>
    public static BenchmarkModel Dcgan(string name, int size, int width, int channels = 3, int seed = 1)
    {
        var doublings = Doublings(size, 4, nameof(size));
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        var random = new Random(seed);
        var graph = new OnnxGraphBuilder(name);
        var z = graph.Input("z", OnnxType.Float, Dim.Batch, LatentDim);
        var x = graph.Node("Reshape", [z, graph.Initializer("z_shape", (ReadOnlySpan<long>)[-1, LatentDim, 1, 1], 4)]);

        long macs = 0;
        var inChannels = LatentDim;
        var side = 1;
        for (var layer = 0; layer <= doublings; layer++)
        {
            var last = layer == doublings;
            // The first layer makes 4×4 from 1×1 (stride 1, no padding); the others double the side.
            var outChannels = last ? channels : Math.Min(MaxChannels, width << (doublings - 1 - layer));
            var first = layer == 0;
            var weight = graph.Initializer($"g{layer}.weight", RandomWeights(random, inChannels * outChannels * 16, inChannels * 16 / (first ? 16 : 4)), inChannels, outChannels, 4, 4);
            string[] inputs = last ? [x, weight, graph.Initializer($"g{layer}.bias", new float[outChannels], outChannels)] : [x, weight];
            x = graph.Node(
                "ConvTranspose",
                inputs,
                OnnxAttribute.Ints("kernel_shape", 4, 4),
                OnnxAttribute.Ints("strides", first ? [1, 1] : [2, 2]),
                OnnxAttribute.Ints("pads", first ? [0, 0, 0, 0] : [1, 1, 1, 1]));
            macs += (long)side * side * inChannels * outChannels * 16;
            side = first ? 4 : side * 2;
            if (!last)
            {
                x = BatchNorm(graph, random, x, outChannels, $"g{layer}.bn");
                x = graph.Node("Relu", [x]);
            }

            inChannels = outChannels;
        }

        graph.Node("Tanh", [x], "image");
        graph.Output("image", OnnxType.Float, Dim.Batch, channels, size, size);
        var manifest = new JsonObject
        {
            ["name"] = name,
            ["kind"] = "unconditional",
            ["description"] = string.Create(CultureInfo.InvariantCulture, $"Benchmark model: DCGAN-style generator at {size}×{size}×{channels} with random weights (not trained; its images are noise)"),
            ["model"] = "model.onnx",
            ["inputs"] = new JsonArray(Tensor("z", "latent", [-1, LatentDim], range: false)),
            ["outputs"] = new JsonArray(Tensor("image", "image", [-1, channels, size, size], range: true)),
            ["batching"] = Batching(size),
            ["defaults"] = new JsonObject { ["truncation"] = 0 },
            ["provenance"] = Provenance(seed, macs, $"DCGAN-style: latent {LatentDim}, width {width}, {doublings + 1} ConvTranspose layers"),
        };
        return new BenchmarkModel(name, graph.ToBytes(), manifest.ToJsonString(Indented), macs);
    }

    /// <summary>
    /// A pix2pix-style U-Net: image [N, C, S, S] in [-1, 1] → <paramref name="depth"/> Conv (kernel 4, stride 2)
    /// + LeakyReLU 0.2 layers, channels <c>min(512, width · 2^k)</c> → as many ConvTranspose (kernel 4, stride 2)
    /// + ReLU layers, each but the first reading the concatenation with the encoder layer of its size → tanh.
    /// </summary>
    public static BenchmarkModel UNet(string name, int size, int width, int depth, int channels = 3, int seed = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(depth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 1);
        if (size >> depth < 1 || (size >> depth) << depth != size)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"the side must be a multiple of 2^depth ({1 << depth}).");
        }

        var random = new Random(seed);
        var graph = new OnnxGraphBuilder(name);
        var x = graph.Input("input", OnnxType.Float, Dim.Batch, channels, size, size);
        var skips = new List<(string Value, int Channels)>();
        long macs = 0;
        var inChannels = channels;
        var side = size;
        for (var level = 0; level < depth; level++)
        {
            var outChannels = Math.Min(MaxChannels, width << level);
            var weight = graph.Initializer($"down{level}.weight", RandomWeights(random, outChannels * inChannels * 16, inChannels * 16), outChannels, inChannels, 4, 4);
            x = graph.Node("Conv", [x, weight], OnnxAttribute.Ints("kernel_shape", 4, 4), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Ints("pads", 1, 1, 1, 1));
            side /= 2;
            macs += (long)side * side * inChannels * outChannels * 16;
            x = graph.Node("LeakyRelu", [x], OnnxAttribute.Float("alpha", 0.2f));
            skips.Add((x, outChannels));
            inChannels = outChannels;
        }

        for (var level = depth - 1; level >= 0; level--)
        {
            if (level < depth - 1)
            {
                var skip = skips[level];
                x = graph.Node("Concat", [x, skip.Value], OnnxAttribute.Int("axis", 1));
                inChannels += skip.Channels;
            }

            var last = level == 0;
            var outChannels = last ? channels : Math.Min(MaxChannels, width << (level - 1));
            var weight = graph.Initializer($"up{level}.weight", RandomWeights(random, inChannels * outChannels * 16, inChannels * 4), inChannels, outChannels, 4, 4);
            string[] inputs = last ? [x, weight, graph.Initializer($"up{level}.bias", new float[outChannels], outChannels)] : [x, weight];
            x = graph.Node("ConvTranspose", inputs, OnnxAttribute.Ints("kernel_shape", 4, 4), OnnxAttribute.Ints("strides", 2, 2), OnnxAttribute.Ints("pads", 1, 1, 1, 1));
            macs += (long)side * side * inChannels * outChannels * 16;
            side *= 2;
            if (!last)
            {
                x = graph.Node("Relu", [x]);
            }

            inChannels = outChannels;
        }

        graph.Node("Tanh", [x], "image");
        graph.Output("image", OnnxType.Float, Dim.Batch, channels, size, size);
        var manifest = new JsonObject
        {
            ["name"] = name,
            ["kind"] = "image-to-image",
            ["description"] = string.Create(CultureInfo.InvariantCulture, $"Benchmark model: U-Net image-to-image at {size}×{size}×{channels} with random weights (not trained; its images are noise)"),
            ["model"] = "model.onnx",
            ["inputs"] = new JsonArray(Tensor("input", "image", [-1, channels, size, size], range: true)),
            ["outputs"] = new JsonArray(Tensor("image", "image", [-1, channels, size, size], range: true)),
            ["batching"] = Batching(size),
            ["provenance"] = Provenance(seed, macs, $"pix2pix-style U-Net: width {width}, depth {depth}, skip connections by Concat"),
        };
        return new BenchmarkModel(name, graph.ToBytes(), manifest.ToJsonString(Indented), macs);
    }

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    private static int Doublings(int size, int start, string parameter)
    {
        var doublings = 0;
        var side = start;
        while (side < size)
        {
            side *= 2;
            doublings++;
        }

        if (side != size || doublings < 1)
        {
            throw new ArgumentOutOfRangeException(parameter, size, $"the side must be {start} times a power of two, at least {start * 2}.");
        }

        return doublings;
    }

    /// <summary>BatchNormalization in eval mode with random statistics near the identity (ONNX Runtime folds it into the convolution, as for a trained model).</summary>
    private static string BatchNorm(OnnxGraphBuilder graph, Random random, string input, int channels, string prefix)
    {
        float[] Values(float centre, float spread)
        {
            var values = new float[channels];
            for (var i = 0; i < values.Length; i++)
            {
                values[i] = centre + (spread * (float)((random.NextDouble() * 2) - 1));
            }

            return values;
        }

        return graph.Node(
            "BatchNormalization",
            [
                input,
                graph.Initializer($"{prefix}.weight", Values(1f, 0.1f), channels),
                graph.Initializer($"{prefix}.bias", Values(0f, 0.1f), channels),
                graph.Initializer($"{prefix}.running_mean", Values(0f, 0.05f), channels),
                graph.Initializer($"{prefix}.running_var", Values(1f, 0.1f), channels),
            ],
            OnnxAttribute.Float("epsilon", 1e-5f));
    }

    /// <summary>Uniform weights with He's variance for <paramref name="fanIn"/> inputs, so activations keep their scale through the layers.</summary>
    private static float[] RandomWeights(Random random, int count, int fanIn)
    {
        var bound = MathF.Sqrt(6f / fanIn);
        var weights = new float[count];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = bound * (float)((random.NextDouble() * 2) - 1);
        }

        return weights;
    }

    private static JsonObject Batching(int size) => new()
    {
        // A 512² float32 batch of 16 is 50 MB of output; bigger batches buy nothing on a CPU (docs/performance.md).
        ["maxBatchSize"] = size >= 512 ? 8 : 16,
        ["maxQueueDelayMs"] = 2,
        ["maxQueueSize"] = 256,
    };

    private static JsonObject Provenance(int seed, long macs, string architecture) => new()
    {
        ["dataset"] = "none: random weights, for benchmarks only (speed does not depend on training)",
        ["command"] = "tools/bench/make-models.sh",
        ["seed"] = seed,
        ["architecture"] = architecture,
        ["multiplyAddsPerImage"] = macs,
    };

    private static JsonObject Tensor(string name, string role, long[] shape, bool range)
    {
        var tensor = new JsonObject
        {
            ["name"] = name,
            ["role"] = role,
            ["dtype"] = "float32",
            ["shape"] = new JsonArray(shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
        };
        if (range)
        {
            tensor["range"] = new JsonArray(-1, 1);
        }

        return tensor;
    }
}
