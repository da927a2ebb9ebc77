using GanInference.Core.Errors;
using GanInference.Core.Manifests;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace GanInference.Core.Models;

/// <summary>
/// What the server feeds a model and reads back, once the manifest has been checked against the ONNX
/// graph's own metadata (names, dtypes, shapes) and against what its kind requires.
/// </summary>
public sealed class ModelSignature
{
    private ModelSignature(ModelKind kind, IReadOnlyList<TensorManifest> inputs, TensorManifest output)
    {
        Kind = kind;
        Inputs = inputs;
        OutputName = output.Name!;
        Channels = (int)output.Shape![1];
        Height = (int)output.Shape[2];
        Width = (int)output.Shape[3];
        OutputMin = output.Range![0];
        OutputMax = output.Range[1];
    }

    /// <summary>The model's kind.</summary>
    public ModelKind Kind { get; }

    /// <summary>The manifest's inputs, in manifest order.</summary>
    public IReadOnlyList<TensorManifest> Inputs { get; }

    /// <summary>Name of the latent input, or null when the model takes none.</summary>
    public string? LatentInput { get; private init; }

    /// <summary>Size D of one latent vector (0 when there is no latent).</summary>
    public int LatentDim { get; private init; }

    /// <summary>Name of the int64 class-label input (class-conditional models).</summary>
    public string? LabelInput { get; private init; }

    /// <summary>Further random float inputs drawn from the seed's stream after the latent, in manifest order.</summary>
    public IReadOnlyList<NoiseInput> NoiseInputs { get; private init; } = [];

    /// <summary>Class names; the label value is the index.</summary>
    public IReadOnlyList<string> Classes { get; private init; } = [];

    /// <summary>Name of the image output.</summary>
    public string OutputName { get; }

    /// <summary>Output channels (1 = grey, 3 = RGB).</summary>
    public int Channels { get; }

    /// <summary>Output height in pixels.</summary>
    public int Height { get; }

    /// <summary>Output width in pixels.</summary>
    public int Width { get; }

    /// <summary>Lowest value of the output range.</summary>
    public float OutputMin { get; }

    /// <summary>Highest value of the output range.</summary>
    public float OutputMax { get; }

    /// <summary>Floats per output image: C·H·W.</summary>
    public int OutputsPerItem => Channels * Height * Width;

    /// <summary>True when <c>Generate</c> can serve this model (it is driven by seeds, latents and labels only).</summary>
    public bool IsGenerator => Kind is ModelKind.Unconditional or ModelKind.ClassConditional;

    /// <summary>
    /// Checks <paramref name="manifest"/> against the graph's input and output metadata and the rules of
    /// <paramref name="kind"/>; throws <see cref="ModelLoadException"/> naming the first mismatch.
    /// </summary>
    public static ModelSignature Create(
        ModelManifest manifest,
        ModelKind kind,
        IReadOnlyDictionary<string, NodeMetadata> onnxInputs,
        IReadOnlyDictionary<string, NodeMetadata> onnxOutputs)
    {
        var inputs = manifest.Inputs!;
        var output = manifest.Outputs![0];
        for (var i = 0; i < inputs.Count; i++)
        {
            MatchTensor(inputs[i], $"inputs[{i}]", onnxInputs, "input");
        }

        MatchTensor(output, "outputs[0]", onnxOutputs, "output");
        foreach (var onnxInput in onnxInputs.Keys)
        {
            if (!inputs.Any(t => t.Name == onnxInput))
            {
                throw new ModelLoadException($"gan.json: inputs: model.onnx input '{onnxInput}' is not described, so the server could not feed it");
            }
        }

        var latents = inputs.Where(t => t.Role == TensorRoles.Latent).ToList();
        var labels = inputs.Where(t => t.Role == TensorRoles.Label).ToList();
        var noises = inputs.Where(t => t.Role == TensorRoles.Noise).ToList();
        foreach (var latent in latents.Concat(noises))
        {
            RequireVector(latent, "float32");
        }

        foreach (var label in labels)
        {
            if (label.Dtype != "int64" || label.Shape!.Count != 1)
            {
                throw Fail(label, inputs, "a label input must be int64 [-1]");
            }
        }

        var signature = new ModelSignature(kind, inputs, output)
        {
            LatentInput = latents.FirstOrDefault()?.Name,
            LatentDim = latents.Count > 0 ? (int)latents[0].Shape![1] : 0,
            LabelInput = labels.FirstOrDefault()?.Name,
            NoiseInputs = noises.Select(n => new NoiseInput(n.Name!, (int)n.Shape![1])).ToArray(),
            Classes = manifest.Classes ?? [],
        };
        CheckKind(signature, latents.Count, labels.Count);
        return signature;
    }

    private static void CheckKind(ModelSignature signature, int latentCount, int labelCount)
    {
        var allowed = signature.Kind switch
        {
            ModelKind.Unconditional => new[] { TensorRoles.Latent, TensorRoles.Noise },
            ModelKind.ClassConditional => [TensorRoles.Latent, TensorRoles.Label, TensorRoles.Noise],
            ModelKind.TextConditional => [TensorRoles.Latent, TensorRoles.Tokens, TensorRoles.Embedding, TensorRoles.Noise],
            _ => [TensorRoles.Image, TensorRoles.Latent, TensorRoles.Noise],
        };
        var kindName = signature.Kind.ToManifestName();
        foreach (var input in signature.Inputs)
        {
            if (!allowed.Contains(input.Role))
            {
                throw new ModelLoadException($"gan.json: inputs: a {kindName} model takes no '{input.Role}' input ('{input.Name}'); allowed roles: {string.Join(", ", allowed)}");
            }
        }

        if (latentCount > 1 || labelCount > 1)
        {
            throw new ModelLoadException("gan.json: inputs: at most one 'latent' and one 'label' input are supported");
        }

        switch (signature.Kind)
        {
            case ModelKind.Unconditional when latentCount == 0:
            case ModelKind.ClassConditional when latentCount == 0:
                throw new ModelLoadException($"gan.json: inputs: a {kindName} model needs a 'latent' input");
            case ModelKind.ClassConditional when labelCount == 0:
                throw new ModelLoadException("gan.json: inputs: a class-conditional model needs a 'label' input");
            case ModelKind.TextConditional when !signature.Inputs.Any(t => t.Role is TensorRoles.Tokens or TensorRoles.Embedding):
                throw new ModelLoadException("gan.json: inputs: a text-conditional model needs a 'tokens' or 'embedding' input");
            case ModelKind.ImageToImage when !signature.Inputs.Any(t => t.Role == TensorRoles.Image):
                throw new ModelLoadException("gan.json: inputs: an image-to-image model needs an 'image' input");
        }
    }

    private static void RequireVector(TensorManifest tensor, string dtype)
    {
        if (tensor.Dtype != dtype || tensor.Shape!.Count != 2)
        {
            throw new ModelLoadException($"gan.json: inputs: '{tensor.Name}' ({tensor.Role}) must be {dtype} [-1, D], got {tensor.Dtype} [{string.Join(", ", tensor.Shape!)}]");
        }
    }

    private static ModelLoadException Fail(TensorManifest tensor, IReadOnlyList<TensorManifest> inputs, string problem)
    {
        var index = inputs.ToList().IndexOf(tensor);
        return new ModelLoadException($"gan.json: inputs[{index}]: {problem}, got {tensor.Dtype} [{string.Join(", ", tensor.Shape!)}]");
    }

    private static void MatchTensor(TensorManifest tensor, string at, IReadOnlyDictionary<string, NodeMetadata> graph, string direction)
    {
        if (!graph.TryGetValue(tensor.Name!, out var metadata))
        {
            throw new ModelLoadException($"gan.json: {at}: '{tensor.Name}' is not an {direction} of model.onnx ({direction}s: [{string.Join(", ", graph.Keys)}])");
        }

        if (!metadata.IsTensor)
        {
            throw new ModelLoadException($"gan.json: {at}: model.onnx {direction} '{tensor.Name}' is not a tensor");
        }

        var graphDtype = DtypeName(metadata.ElementDataType);
        if (graphDtype != tensor.Dtype)
        {
            throw new ModelLoadException($"gan.json: {at}.dtype: '{tensor.Dtype}' but model.onnx declares '{graphDtype}' for '{tensor.Name}'");
        }

        // ONNX Runtime reports symbolic (and unknown) axes as -1, the manifest's spelling of the batch axis.
        // The batch axis must be dynamic in both. Elsewhere a graph may leave an axis open that the
        // manifest fixes (exporters often do); the pre-bound warm-up run then checks the real size.
        var graphShape = metadata.Dimensions;
        var matches = graphShape.Length == tensor.Shape!.Count;
        for (var d = 0; matches && d < graphShape.Length; d++)
        {
            matches = graphShape[d] == tensor.Shape[d] || (d > 0 && graphShape[d] == -1);
        }

        if (!matches)
        {
            throw new ModelLoadException($"gan.json: {at}.shape: [{string.Join(", ", tensor.Shape)}] but model.onnx declares [{string.Join(", ", graphShape)}] for '{tensor.Name}'");
        }
    }

    /// <summary>The manifest spelling of an ONNX element type.</summary>
    public static string DtypeName(TensorElementType type) => type switch
    {
        TensorElementType.Float => "float32",
        TensorElementType.Int64 => "int64",
        TensorElementType.Int32 => "int32",
        TensorElementType.UInt8 => "uint8",
        TensorElementType.Bool => "bool",
        TensorElementType.Float16 => "float16",
        TensorElementType.Double => "float64",
        _ => type.ToString().ToLowerInvariant(),
    };
}

/// <summary>A further random input (e.g. conditioning-augmentation noise) and its width.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Size">Values per item.</param>
public sealed record NoiseInput(string Name, int Size);
