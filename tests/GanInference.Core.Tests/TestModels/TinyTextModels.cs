using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Onnx;

namespace GanInference.Tests.TestModels;

/// <summary>
/// Tiny text-conditional models that honour the contract of docs/text-to-image.md, written with the ONNX writer:
/// <list type="bullet">
/// <item>the text encoder: <c>enc = mean over the maxTokens positions of E[tokens]</c> (E[0] = 0), and the switch
/// <c>e = where(any(tokens &gt; 0), enc, embedding)</c>;</item>
/// <item>stage 1: <c>image = tanh(e·We + z·Wz + ca_noise·Wn)</c> reshaped to [3, 4, 4];</item>
/// <item>stage 2: <c>image = 0.5·up2(stage1_image) + 0.5·tanh(ca_noise·Wn2) + 0·(e·We2)</c> at [3, 8, 8] (nearest ×2
/// upsampling), an exact function of its image and noise inputs, so a test can recompute it from stage 1 alone.</item>
/// </list>
/// Weights are fixed functions of their index; <c>variant</c> shifts them (a "retrained" model).
/// </summary>
internal static class TinyTextModels
{
    public const int MaxTokens = 6;
    public const int EmbeddingDim = 4;
    public const int LatentDim = 4;
    public const int NoiseDim = 3;
    public const int Size = 4;
    public const int Channels = 3;

    public static readonly string[] Vocabulary =
        ["<pad>", "a", "red", "green", "blue", "seven", "one", "on", "black", "white", "thick", "thin", "digit", "background"];

    /// <summary>A stage-1 model (no image input); returns its folder.</summary>
    public static string AddStage1(string root, string name, int variant = 0, JsonObject? batching = null, Action<JsonObject>? editManifest = null)
    {
        var pixels = Channels * Size * Size;
        var graph = new OnnxGraphBuilder();
        var e = Encoder(graph, variant);
        var z = graph.Input("z", OnnxType.Float, Dim.Batch, LatentDim);
        var noise = graph.Input("ca_noise", OnnxType.Float, Dim.Batch, NoiseDim);
        var fromText = graph.Node("MatMul", [e, graph.Initializer("we", Weights(EmbeddingDim * pixels, 0.9f + variant), EmbeddingDim, pixels)]);
        var fromZ = graph.Node("MatMul", [z, graph.Initializer("wz", Weights(LatentDim * pixels, 0.5f + variant), LatentDim, pixels)]);
        var fromNoise = graph.Node("MatMul", [noise, graph.Initializer("wn", Weights(NoiseDim * pixels, 0.3f + variant), NoiseDim, pixels)]);
        var sum = graph.Node("Add", [graph.Node("Add", [fromText, fromZ]), fromNoise]);
        var shaped = graph.Node("Reshape", [sum, graph.Initializer("shape", (ReadOnlySpan<long>)[-1, Channels, Size, Size], 4)]);
        graph.Node("Tanh", [shaped], "image");
        graph.Output("image", OnnxType.Float, Dim.Batch, Channels, Size, Size);

        var manifest = Manifest(name, $"tiny stage 1 (variant {variant})",
            [Tensor("tokens", "tokens", "int64", [-1, MaxTokens]), Tensor("embedding", "embedding", "float32", [-1, EmbeddingDim]),
             Tensor("z", "latent", "float32", [-1, LatentDim]), Tensor("ca_noise", "noise", "float32", [-1, NoiseDim])],
            Size, batching);
        return Write(root, name, graph.ToBytes(), manifest, editManifest);
    }

    /// <summary>A stage-2 model: an image input of <paramref name="inputSize"/>² in, twice that size out; returns its folder.</summary>
    public static string AddStage2(string root, string name, int inputSize = Size, Action<JsonObject>? editManifest = null)
    {
        var outSize = 2 * inputSize;
        var pixels = Channels * outSize * outSize;
        var graph = new OnnxGraphBuilder();
        var e = Encoder(graph, variant: 3);
        var image = graph.Input("stage1_image", OnnxType.Float, Dim.Batch, Channels, inputSize, inputSize);
        var noise = graph.Input("ca_noise", OnnxType.Float, Dim.Batch, NoiseDim);
        var up = graph.Node("Resize", [image, string.Empty, graph.Initializer("scales", (ReadOnlySpan<float>)[1, 1, 2, 2], 4)],
            OnnxAttribute.String("mode", "nearest"),
            OnnxAttribute.String("coordinate_transformation_mode", "asymmetric"),
            OnnxAttribute.String("nearest_mode", "floor"));
        var half = graph.Initializer("half", (ReadOnlySpan<float>)[0.5f]);
        var noiseImage = graph.Node("Tanh", [graph.Node("Reshape", [
            graph.Node("MatMul", [noise, graph.Initializer("wn2", Stage2NoiseWeights(inputSize), NoiseDim, pixels)]),
            graph.Initializer("shape", (ReadOnlySpan<long>)[-1, Channels, outSize, outSize], 4)])]);

        // The text reaches the output only multiplied by 0: the graph reads its inputs as the contract says, and
        // the output stays an exact function of the image and the noise.
        var textTerm = graph.Node("Mul", [graph.Node("MatMul", [e, graph.Initializer("we2", Weights(EmbeddingDim, 0.7f), EmbeddingDim, 1)]),
            graph.Initializer("zero", (ReadOnlySpan<float>)[0f])]);
        var textTerm4 = graph.Node("Reshape", [textTerm, graph.Initializer("shape4", (ReadOnlySpan<long>)[-1, 1, 1, 1], 4)]);
        var mixed = graph.Node("Add", [graph.Node("Mul", [up, half]), graph.Node("Mul", [noiseImage, half])]);
        graph.Node("Add", [mixed, textTerm4], "image");
        graph.Output("image", OnnxType.Float, Dim.Batch, Channels, outSize, outSize);

        var imageInput = Tensor("stage1_image", "image", "float32", [-1, Channels, inputSize, inputSize]);
        imageInput["range"] = new JsonArray(-1, 1);
        var manifest = Manifest(name, "tiny stage 2",
            [Tensor("tokens", "tokens", "int64", [-1, MaxTokens]), Tensor("embedding", "embedding", "float32", [-1, EmbeddingDim]),
             imageInput, Tensor("ca_noise", "noise", "float32", [-1, NoiseDim])],
            outSize, batching: null);
        return Write(root, name, graph.ToBytes(), manifest, editManifest);
    }

    /// <summary>A pipeline folder (gan.json only); returns its folder.</summary>
    public static string AddPipeline(string root, string name, string[] steps, Action<JsonObject>? editManifest = null)
    {
        var manifest = new JsonObject
        {
            ["name"] = name,
            ["kind"] = "text-conditional",
            ["description"] = "tiny text-to-image pipeline",
            ["pipeline"] = new JsonObject { ["steps"] = new JsonArray(steps.Select(s => (JsonNode)new JsonObject { ["model"] = s }).ToArray()) },
            ["provenance"] = new JsonObject { ["dataset"] = "none (fixed weights)" },
        };
        editManifest?.Invoke(manifest);
        var folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "gan.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return folder;
    }

    /// <summary>The encoder's vocabulary table of a variant: row 0 (padding) is zero.</summary>
    public static float[] EmbeddingTable(int variant)
    {
        var table = Weights(Vocabulary.Length * EmbeddingDim, 1.1f + variant);
        Array.Clear(table, 0, EmbeddingDim);
        return table;
    }

    /// <summary>What the stage-1 graph of <paramref name="variant"/> computes from a token row (mean over every position).</summary>
    public static float[] Encode(ReadOnlySpan<long> tokens, int variant = 0)
    {
        var table = EmbeddingTable(variant);
        var sum = new float[EmbeddingDim];
        foreach (var id in tokens)
        {
            for (var d = 0; d < EmbeddingDim; d++)
            {
                sum[d] += table[(id * EmbeddingDim) + d];
            }
        }

        var positions = tokens.Length;
        return sum.Select(v => v / positions).ToArray();
    }

    /// <summary>Token ids of words, padded to <see cref="MaxTokens"/>.</summary>
    public static long[] Tokens(params string[] words)
    {
        var row = new long[MaxTokens];
        for (var i = 0; i < words.Length; i++)
        {
            row[i] = Array.IndexOf(Vocabulary, words[i]);
        }

        return row;
    }

    /// <summary>Stage 2's noise weights, [NoiseDim, 3·(2s)²].</summary>
    public static float[] Stage2NoiseWeights(int inputSize = Size) => Weights(NoiseDim * Channels * 4 * inputSize * inputSize, 0.45f);

    /// <summary>What the stage-2 graph computes from a stage-1 image [3, s, s] and its noise row.</summary>
    public static float[] Stage2(ReadOnlySpan<float> stage1Image, ReadOnlySpan<float> noise, int inputSize = Size)
    {
        var outSize = 2 * inputSize;
        var pixels = Channels * outSize * outSize;
        var weights = Stage2NoiseWeights(inputSize);
        var result = new float[pixels];
        for (var p = 0; p < pixels; p++)
        {
            var (c, y, x) = (p / (outSize * outSize), p / outSize % outSize, p % outSize);
            var projected = 0f;
            for (var k = 0; k < NoiseDim; k++)
            {
                projected += noise[k] * weights[(k * pixels) + p];
            }

            var up = stage1Image[(c * inputSize * inputSize) + (y / 2 * inputSize) + (x / 2)];
            result[p] = (0.5f * up) + (0.5f * MathF.Tanh(projected));
        }

        return result;
    }

    /// <summary>
    /// tokens [B, T] and embedding [B, E] → e [B, E]: the mean of the vocabulary rows of the tokens, or the embedding
    /// input for rows whose tokens are all padding.
    /// </summary>
    private static string Encoder(OnnxGraphBuilder graph, int variant)
    {
        var tokens = graph.Input("tokens", OnnxType.Int64, Dim.Batch, MaxTokens);
        var embedding = graph.Input("embedding", OnnxType.Float, Dim.Batch, EmbeddingDim);
        var table = graph.Initializer("vocab_embedding", EmbeddingTable(variant), Vocabulary.Length, EmbeddingDim);
        var gathered = graph.Node("Gather", [table, tokens], OnnxAttribute.Int("axis", 0));
        var encoded = graph.Node("ReduceMean", [gathered], OnnxAttribute.Ints("axes", 1), OnnxAttribute.Int("keepdims", 0));
        var isWord = graph.Node("Greater", [tokens, graph.Initializer("pad", (ReadOnlySpan<long>)[0])]);
        var anyWord = graph.Node("ReduceMax", [graph.Node("Cast", [isWord], OnnxAttribute.Int("to", (long)OnnxType.Int64))],
            OnnxAttribute.Ints("axes", 1), OnnxAttribute.Int("keepdims", 1));
        var condition = graph.Node("Cast", [anyWord], OnnxAttribute.Int("to", (long)OnnxType.Bool));
        return graph.Node("Where", [condition, encoded, embedding]);
    }

    private static JsonObject Manifest(string name, string description, JsonObject[] inputs, int outSize, JsonObject? batching)
    {
        var output = Tensor("image", "image", "float32", [-1, Channels, outSize, outSize]);
        output["range"] = new JsonArray(-1, 1);
        return new JsonObject
        {
            ["name"] = name,
            ["kind"] = "text-conditional",
            ["description"] = description,
            ["inputs"] = new JsonArray(inputs.Select(i => (JsonNode)i).ToArray()),
            ["outputs"] = new JsonArray(output),
            ["text"] = new JsonObject
            {
                ["vocabulary"] = new JsonArray(Vocabulary.Select(w => (JsonNode)JsonValue.Create(w)).ToArray()),
                ["maxTokens"] = MaxTokens,
                ["embeddingDim"] = EmbeddingDim,
            },
            ["batching"] = batching ?? new JsonObject { ["maxBatchSize"] = 8, ["maxQueueDelayMs"] = 2, ["maxQueueSize"] = 256 },
            ["defaults"] = new JsonObject { ["truncation"] = 0 },
            ["provenance"] = new JsonObject { ["dataset"] = "none (fixed weights)" },
        };
    }

    private static JsonObject Tensor(string name, string role, string dtype, long[] shape) => new()
    {
        ["name"] = name,
        ["role"] = role,
        ["dtype"] = dtype,
        ["shape"] = new JsonArray(shape.Select(d => (JsonNode)JsonValue.Create(d)).ToArray()),
    };

    private static string Write(string root, string name, byte[] model, JsonObject manifest, Action<JsonObject>? edit)
    {
        edit?.Invoke(manifest);
        var folder = Path.Combine(root, name);
        Directory.CreateDirectory(folder);
        File.WriteAllBytes(Path.Combine(folder, "model.onnx"), model);
        File.WriteAllText(Path.Combine(folder, "gan.json"), manifest.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
        return folder;
    }

    /// <summary>Fixed weights in about [-0.6, 0.6], a function of index and <paramref name="phase"/>.</summary>
    private static float[] Weights(int count, float phase)
    {
        var weights = new float[count];
        for (var i = 0; i < weights.Length; i++)
        {
            weights[i] = 0.6f * MathF.Sin((0.37f * i) + phase);
        }

        return weights;
    }
}
