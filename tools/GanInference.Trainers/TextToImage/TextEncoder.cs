using GanInference.Onnx;
using GanInference.Trainers.Export;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.TextToImage;

/// <summary>
/// Token ids [B, T] (left-aligned, 0 = padding) → word embedding → one-layer GRU → the hidden state
/// after each row's last word: the sentence embedding [B, H]. The GRU is written out with two linear
/// maps in PyTorch's gate order (r, z, n) so that the ONNX GRU node (gate order z, r, h,
/// linear_before_reset = 1, <c>sequence_lens</c> = the number of words) computes exactly the same.
/// </summary>
public sealed class TextEncoder : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Embedding words;
    private readonly Linear inputGates;
    private readonly Linear hiddenGates;

    public TextEncoder(int vocabularySize, int wordDimension, int hiddenDimension)
        : base(nameof(TextEncoder))
    {
        HiddenDimension = hiddenDimension;
        words = nn.Embedding(vocabularySize, wordDimension);
        inputGates = nn.Linear(wordDimension, 3 * hiddenDimension);
        hiddenGates = nn.Linear(hiddenDimension, 3 * hiddenDimension);
        RegisterComponents();
    }

    public int HiddenDimension { get; }

    /// <summary>Words per row (at least 1, so an all-padding row still has a defined, unused, output).</summary>
    public static Tensor Lengths(Tensor tokens)
    {
        // Written without scalar operands (see the loop below); ids are ≥ 0, so sign() marks the words.
        using var words = tokens.sign().sum(1);
        using var one = ones_like(words);
        return maximum(words, one);
    }

    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var embedded = words.forward(tokens);
        var lengths = Lengths(tokens);
        var batch = tokens.shape[0];
        var steps = (int)lengths.max().item<long>();
        var h = zeros(batch, HiddenDimension);
        // active[b, t] = 1 while t < length[b]: positions compared as tensors, not scalars.
        var active = lengths.unsqueeze(1).gt(arange(tokens.shape[1], dtype: ScalarType.Int64).unsqueeze(0)).to_type(ScalarType.Float32);
        for (var t = 0; t < steps; t++)
        {
            var gi = inputGates.forward(embedded.select(1, t)).chunk(3, 1);
            var gh = hiddenGates.forward(h).chunk(3, 1);
            var r = (gi[0] + gh[0]).sigmoid();
            var z = (gi[1] + gh[1]).sigmoid();
            var n = (gi[2] + (r * gh[2])).tanh();
            // (1 − z)·n + z·h and the length mask, written without scalar operands: an implicit
            // Scalar made inside a dispose scope can be freed with it and later fail inside libtorch.
            var next = n + (z * (h - n));
            h = h + (active.narrow(1, t, 1) * (next - h));
        }

        return h.MoveToOuterDisposeScope();
    }

    /// <summary>inputs[0]: tokens [B, T] int64 → sentence embedding [B, H].</summary>
    public string ExportOnnx(OnnxExportContext context, IReadOnlyList<string> inputs)
    {
        var graph = context.Graph;
        var tokens = inputs[0];
        var embedded = context.Export(words, "words", tokens);
        var timeMajor = graph.Node("Transpose", [embedded], OnnxAttribute.Ints("perm", 1, 0, 2));
        var lengths = graph.Node("Reshape", [graph.Node("Max", [WordCounts(context, tokens), IntScalar(context, "one", 1)]), context.Constant("flat", -1)]);

        var h = HiddenDimension;
        using var w = ReorderGates(inputGates.weight!, h);
        using var r = ReorderGates(hiddenGates.weight!, h);
        using var wb = ReorderGates(inputGates.bias!, h);
        using var rb = ReorderGates(hiddenGates.bias!, h);
        using var wUnsqueezed = w.unsqueeze(0);
        using var rUnsqueezed = r.unsqueeze(0);
        using var biases = cat([wb, rb]).unsqueeze(0);
        var outputs = graph.NodeMulti(
            "GRU",
            [timeMajor, context.Weight("W", wUnsqueezed), context.Weight("R", rUnsqueezed), context.Weight("B", biases), lengths],
            2,
            OnnxAttribute.Int("hidden_size", h),
            OnnxAttribute.Int("linear_before_reset", 1));
        return graph.Node("Squeeze", [outputs[1], context.Constant("direction_axis", 0)]);
    }

    /// <summary>int32 [B, 1]: the number of non-padding tokens of each row.</summary>
    public static string WordCounts(OnnxExportContext context, string tokens)
    {
        var graph = context.Graph;
        var zero = graph.Initializer(graph.UniqueName($"{context.CurrentPath}.pad_id"), [0L]);
        var isWord = graph.Node("Cast", [graph.Node("Greater", [tokens, zero])], OnnxAttribute.Int("to", (long)OnnxType.Int32));
        return graph.Node("ReduceSum", [isWord, context.Constant("word_axis", 1)], OnnxAttribute.Int("keepdims", 1));
    }

    private static string IntScalar(OnnxExportContext context, string name, int value) =>
        context.Graph.Initializer(context.Graph.UniqueName($"{context.CurrentPath}.{name}"), [value]);

    // PyTorch stacks the gates r, z, n; ONNX wants z, r, h.
    private static Tensor ReorderGates(Tensor stacked, int hidden)
    {
        using var detached = stacked.detach();
        var parts = detached.split(hidden, 0);
        try
        {
            return cat([parts[1], parts[0], parts[2]]);
        }
        finally
        {
            foreach (var part in parts)
            {
                part.Dispose();
            }
        }
    }
}
