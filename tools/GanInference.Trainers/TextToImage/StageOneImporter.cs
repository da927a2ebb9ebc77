using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Onnx.Proto;
using GanInference.Trainers.Models;
using GanInference.Trainers.Training;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// Reads an exported Stage-I ONNX file (<see cref="StackGanExporter.ExportStageOne"/>) back into a
/// <see cref="StageOneGenerator"/>: its initializers carry every weight under the module paths of the state dict, so
/// each state-dict entry is taken from the initializer of its name, undoing what the exporter did to it:
/// <list type="bullet">
/// <item>Linear: <c>X.weight_t</c> holds Wᵀ (MatMul + Add); files written before that held <c>X.weight</c> as W (Gemm, transB = 1).</item>
/// <item>Text encoder GRU: <c>encoder.W</c> [1, 3H, in], <c>encoder.R</c> [1, 3H, H] and <c>encoder.B</c> [1, 6H] are
/// the input and hidden gate maps in ONNX's gate order (z, r, h), biases of both concatenated; the state dict has
/// <c>encoder.inputGates</c> and <c>encoder.hiddenGates</c> in PyTorch's (r, z, n).</item>
/// <item>Everything else (embedding, convolutions, BatchNorm weights and running statistics) as stored.</item>
/// </list>
/// A file that does not fit the architecture is refused naming the initializer and both shapes; so is a float
/// initializer the architecture has no place for. BatchNorm's <c>num_batches_tracked</c> is not exported and stays 0
/// (the trainers use the default momentum, for which it is unused).
/// </summary>
public static class StageOneImporter
{
    /// <summary>Fills <paramref name="generator"/> from <paramref name="model"/>; <paramref name="source"/> names the file in errors.</summary>
    public static void Load(ModelProto model, StageOneGenerator generator, string source) =>
        LoadWeights(model, generator, generator.Architecture.EmbeddingDimension, source, $"a Stage-I generator of this architecture (stageOneWidth {generator.Architecture.StageOneWidth})", _ => false);

    /// <summary>
    /// Fills <paramref name="module"/>'s state dict (a generator with a text encoder of <paramref name="hidden"/> units)
    /// from <paramref name="model"/>'s initializers as the class summary describes. A float initializer with no place in
    /// the state dict is refused unless <paramref name="isConstant"/> says the exporter writes it as a fixed constant of
    /// the graph (a resize's scales, a fixed filter); <paramref name="what"/> names the expected network in that error.
    /// </summary>
    internal static void LoadWeights(ModelProto model, nn.Module module, int hidden, string source, string what, Func<string, bool> isConstant)
    {
        var initializers = new Dictionary<string, TensorProto>(StringComparer.Ordinal);
        foreach (var initializer in model.Graph.Initializer)
        {
            initializers[initializer.Name] = initializer;
        }

        CheckGru(model, hidden, source);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var state = module.state_dict();
        using var _ = no_grad();
        foreach (var (name, target) in state)
        {
            if (name.EndsWith(".num_batches_tracked", StringComparison.Ordinal))
            {
                continue;
            }

            var shape = target.shape;
            var values = name switch
            {
                "encoder.inputGates.weight" => Gru(initializers, used, source, "encoder.W", [1, 3 * hidden, shape[1]], 0, shape),
                "encoder.hiddenGates.weight" => Gru(initializers, used, source, "encoder.R", [1, 3 * hidden, hidden], 0, shape),
                "encoder.inputGates.bias" => Gru(initializers, used, source, "encoder.B", [1, 6 * hidden], 0, shape),
                "encoder.hiddenGates.bias" => Gru(initializers, used, source, "encoder.B", [1, 6 * hidden], 3 * hidden, shape),
                _ => Direct(initializers, used, source, name, shape),
            };
            using var loaded = tensor(values, shape);
            target.copy_(loaded);
        }

        var unused = initializers.Values
            .Where(t => t.DataType == (int)TensorProto.Types.DataType.Float && t.Dims.Count > 0 && !used.Contains(t.Name) && !isConstant(t.Name))
            .Select(t => $"{t.Name} [{string.Join(", ", t.Dims)}]")
            .ToList();
        if (unused.Count > 0)
        {
            throw new InvalidDataException($"{source}: initializer(s) {string.Join("; ", unused)} have no place in {what}; is it a file exported with these options?");
        }
    }

    /// <summary>
    /// The architecture stored in a shipped manifest (<c>provenance.architecture</c> of gan.json, as the export writes it);
    /// only the Stage-I and text-encoder sizes are used.
    /// </summary>
    public static StackGanArchitecture ReadArchitecture(string manifestPath)
    {
        var root = JsonNode.Parse(File.ReadAllText(manifestPath));
        var node = root?["provenance"]?["architecture"]
            ?? throw new InvalidDataException($"{manifestPath}: no provenance.architecture (the Stage-I sizes: stageOneWidth, embeddingDimension, ...).");
        return node.Deserialize<StackGanArchitecture>(Checkpoint.JsonOptions)
            ?? throw new InvalidDataException($"{manifestPath}: provenance.architecture is empty.");
    }

    /// <summary>
    /// Writes a Stage-I checkpoint folder (<c>stage1-generator.dat</c> and <c>checkpoint.json</c>) that
    /// <c>train stackgan --stage 2 --stage1</c> reads: the weights of <paramref name="onnxPath"/>, the Stage-I options
    /// of <paramref name="manifestPath"/>'s provenance, its Stage-I commands as the earlier commands, its text encoder
    /// accuracy, and <paramref name="stageOneSeconds"/> as the training time.
    /// </summary>
    public static async Task<CheckpointInfo> ImportAsync(string onnxPath, string manifestPath, string outputDirectory, double stageOneSeconds, string command, CancellationToken cancellationToken)
    {
        RequireInputs(onnxPath, manifestPath, "the Stage-I sizes", "--stage1-seconds", stageOneSeconds);

        var networks = ReadArchitecture(manifestPath);
        var provenance = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath, cancellationToken).ConfigureAwait(false))!["provenance"]!;
        var model = ModelProto.Parser.ParseFrom(await File.ReadAllBytesAsync(onnxPath, cancellationToken).ConfigureAwait(false));
        using var generator = new StageOneGenerator(networks);
        Load(model, generator, onnxPath);
        generator.eval();
        var earlier = provenance["commands"]?.AsArray().Select(c => c!.GetValue<string>()).Where(c => c.Contains("--stage 1", StringComparison.Ordinal)).ToList() ?? [];
        var info = new CheckpointInfo
        {
            Architecture = new GanArchitecture { Kind = ModelKind.StackGanStageOne, LatentDimension = networks.LatentDimension, StackGan = networks },
            Epoch = 0,
            Step = 0,
            Seed = 0,
            TrainingSeconds = stageOneSeconds,
            Command = command,
            EarlierCommands = earlier,
            DataDirectory = string.Empty,
            TrainingImages = 0,
            BatchSize = 0,
            TestAccuracy = provenance["textEncoderAccuracy"]?.GetValue<double>(),
        };
        await Checkpoint.SaveAsync(outputDirectory, info, new Dictionary<string, nn.Module> { [StackGanTrainer.StageOneFileName] = generator }, cancellationToken).ConfigureAwait(false);
        return info;
    }

    /// <summary>
    /// The checks both imports start with: the ONNX file and its manifest exist (<paramref name="sizes"/> says what the
    /// manifest is read for), and <paramref name="seconds"/>, the training time given as <paramref name="secondsOption"/>, is 0 or more.
    /// </summary>
    internal static void RequireInputs(string onnxPath, string manifestPath, string sizes, string secondsOption, double seconds)
    {
        if (!File.Exists(onnxPath))
        {
            throw new FileNotFoundException($"--onnx: {onnxPath} not found.", onnxPath);
        }

        if (!File.Exists(manifestPath))
        {
            throw new FileNotFoundException($"--manifest: {manifestPath} not found (the gan.json whose provenance.architecture gives {sizes}).", manifestPath);
        }

        if (seconds < 0 || double.IsNaN(seconds))
        {
            throw new ArgumentException($"{secondsOption} must be 0 or more, got {seconds}.");
        }
    }

    /// <summary>The exporter's GRU node: one forward GRU with hidden_size H and linear_before_reset = 1.</summary>
    private static void CheckGru(ModelProto model, int hidden, string source)
    {
        var grus = model.Graph.Node.Where(n => n.OpType == "GRU").ToList();
        if (grus.Count != 1)
        {
            throw new InvalidDataException($"{source}: expected one GRU node (the text encoder), found {grus.Count}.");
        }

        long Attribute(string name, long fallback) => grus[0].Attribute.FirstOrDefault(a => a.Name == name)?.I ?? fallback;
        var direction = grus[0].Attribute.FirstOrDefault(a => a.Name == "direction")?.S.ToStringUtf8() ?? "forward";
        if (Attribute("hidden_size", -1) != hidden || Attribute("linear_before_reset", 0) != 1 || direction != "forward")
        {
            throw new InvalidDataException($"{source}: GRU node has hidden_size {Attribute("hidden_size", -1)}, linear_before_reset {Attribute("linear_before_reset", 0)}, direction {direction}; the text encoder needs {hidden}, 1, forward.");
        }
    }

    /// <summary>The state-dict entry <paramref name="name"/> from the initializer of that name, or a Linear's from <c>weight_t</c>.</summary>
    private static float[] Direct(Dictionary<string, TensorProto> initializers, HashSet<string> used, string source, string name, long[] shape)
    {
        if (initializers.TryGetValue(name, out var stored))
        {
            return Take(stored, used, source, shape);
        }

        const string weight = ".weight";
        if (shape.Length == 2 && name.EndsWith(weight, StringComparison.Ordinal)
            && initializers.TryGetValue(name[..^weight.Length] + ".weight_t", out var transposed))
        {
            var values = Take(transposed, used, source, [shape[1], shape[0]]);
            var result = new float[values.Length];
            for (var i = 0; i < shape[1]; i++)
            {
                for (var o = 0; o < shape[0]; o++)
                {
                    result[(o * shape[1]) + i] = values[(i * shape[0]) + o];
                }
            }

            return result;
        }

        throw new InvalidDataException($"{source}: no initializer {name} [{string.Join(", ", shape)}]{(shape.Length == 2 && name.EndsWith(weight, StringComparison.Ordinal) ? $" (nor {name}_t)" : string.Empty)}; is it a file exported with these options?");
    }

    /// <summary>
    /// One of the encoder's gate maps from the GRU initializer <paramref name="initializer"/>: the <paramref name="shape"/>
    /// values from element <paramref name="offset"/> on, with the first two gate blocks swapped ((z, r, h) → (r, z, n)).
    /// </summary>
    private static float[] Gru(Dictionary<string, TensorProto> initializers, HashSet<string> used, string source, string initializer, long[] stored, int offset, long[] shape)
    {
        if (!initializers.TryGetValue(initializer, out var proto))
        {
            throw new InvalidDataException($"{source}: no initializer {initializer} [{string.Join(", ", stored)}] (the text encoder's GRU).");
        }

        var all = Take(proto, used, source, stored);
        var count = (int)shape.Aggregate(1L, (a, b) => a * b);
        var block = count / 3;
        var ordered = all.AsSpan(offset, count);
        var result = new float[count];
        ordered.Slice(block, block).CopyTo(result.AsSpan(0, block));
        ordered[..block].CopyTo(result.AsSpan(block, block));
        ordered.Slice(2 * block, block).CopyTo(result.AsSpan(2 * block, block));
        return result;
    }

    private static float[] Take(TensorProto proto, HashSet<string> used, string source, long[] shape)
    {
        if (proto.DataType != (int)TensorProto.Types.DataType.Float || !proto.Dims.SequenceEqual(shape))
        {
            throw new InvalidDataException($"{source}: initializer {proto.Name} is {(TensorProto.Types.DataType)proto.DataType} [{string.Join(", ", proto.Dims)}], but this architecture needs float [{string.Join(", ", shape)}]; is it a file exported with these options?");
        }

        used.Add(proto.Name);
        var count = (int)shape.Aggregate(1L, (a, b) => a * b);
        if (proto.RawData.Length > 0)
        {
            if (proto.RawData.Length != count * sizeof(float))
            {
                throw new InvalidDataException($"{source}: initializer {proto.Name} holds {proto.RawData.Length} bytes, not {count * sizeof(float)}.");
            }

            return MemoryMarshal.Cast<byte, float>(proto.RawData.Span).ToArray();
        }

        return proto.FloatData.Count == count
            ? [.. proto.FloatData]
            : throw new InvalidDataException($"{source}: initializer {proto.Name} holds {proto.FloatData.Count} values, not {count}.");
    }
}
