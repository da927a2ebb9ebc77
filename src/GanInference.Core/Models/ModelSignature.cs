using GanInference.Core.Errors;
using GanInference.Core.Imaging;
using GanInference.Core.Manifests;
using GanInference.Core.Text;
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

    /// <summary>Name of the int64 [-1, maxTokens] token-id input (text-conditional models).</summary>
    public string? TokensInput { get; private init; }

    /// <summary>Name of the float32 [-1, embeddingDim] sentence-embedding input (text-conditional models), if it has one.</summary>
    public string? EmbeddingInput { get; private init; }

    /// <summary>
    /// The image a text-conditional model takes from the previous step of a pipeline (e.g. StackGAN Stage-II's
    /// Stage-I image); such a model runs only as a pipeline step. Null for every other model.
    /// </summary>
    public ImageInput? ImageInput { get; private init; }

    /// <summary>Vocabulary, tokenizer and widths of a text-conditional model; null for other kinds.</summary>
    public TextConditioning? Text { get; private init; }

    /// <summary>How many values of the seed's stream one image draws: the latent, then every noise input.</summary>
    public int SeedStreamLength => LatentDim + NoiseInputs.Sum(n => n.Size);

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

    /// <summary>True for text-conditional models, which <c>GenerateFromText</c> serves (alone, or as a pipeline step).</summary>
    public bool IsTextConditional => Kind == ModelKind.TextConditional;

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

        var images = inputs.Where(t => t.Role == TensorRoles.Image).ToList();
        var signature = new ModelSignature(kind, inputs, output)
        {
            LatentInput = latents.FirstOrDefault()?.Name,
            LatentDim = latents.Count > 0 ? (int)latents[0].Shape![1] : 0,
            LabelInput = labels.FirstOrDefault()?.Name,
            NoiseInputs = noises.Select(n => new NoiseInput(n.Name!, (int)n.Shape![1])).ToArray(),
            Classes = manifest.Classes ?? [],
            TokensInput = inputs.FirstOrDefault(t => t.Role == TensorRoles.Tokens)?.Name,
            EmbeddingInput = inputs.FirstOrDefault(t => t.Role == TensorRoles.Embedding)?.Name,
            ImageInput = kind == ModelKind.TextConditional && images.Count > 0 ? ImageInput.From(images[0]) : null,
            Text = kind == ModelKind.TextConditional && manifest.Text is { } text ? new TextConditioning(text) : null,
        };
        CheckKind(signature, latents.Count, labels.Count);
        if (signature.Text is { } conditioning)
        {
            CheckTextInputs(inputs, conditioning);
        }

        return signature;
    }

    /// <summary>Text-conditional models: at most one of each text and image input, in the widths the text block gives.</summary>
    private static void CheckTextInputs(IReadOnlyList<TensorManifest> inputs, TextConditioning text)
    {
        foreach (var role in new[] { TensorRoles.Tokens, TensorRoles.Embedding, TensorRoles.Image })
        {
            if (inputs.Count(t => t.Role == role) > 1)
            {
                throw new ModelLoadException($"gan.json: inputs: a text-conditional model takes at most one '{role}' input");
            }
        }

        foreach (var input in inputs)
        {
            switch (input.Role)
            {
                case TensorRoles.Tokens when input.Dtype != "int64" || input.Shape!.Count != 2 || input.Shape[1] != text.MaxTokens:
                    throw Fail(input, inputs, $"a tokens input must be int64 [-1, {text.MaxTokens}] (text.maxTokens)");
                case TensorRoles.Embedding when input.Dtype != "float32" || input.Shape!.Count != 2 || input.Shape[1] != text.EmbeddingDim:
                    throw Fail(input, inputs, $"an embedding input must be float32 [-1, {text.EmbeddingDim}] (text.embeddingDim)");
            }
        }
    }

    private static void CheckKind(ModelSignature signature, int latentCount, int labelCount)
    {
        var allowed = signature.Kind switch
        {
            ModelKind.Unconditional => new[] { TensorRoles.Latent, TensorRoles.Noise },
            ModelKind.ClassConditional => [TensorRoles.Latent, TensorRoles.Label, TensorRoles.Noise],
            ModelKind.TextConditional => [TensorRoles.Latent, TensorRoles.Tokens, TensorRoles.Embedding, TensorRoles.Noise, TensorRoles.Image],
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
            case ModelKind.TextConditional when signature.Text is null:
                throw new ModelLoadException("gan.json: text: a text-conditional model needs a text block (vocabulary, maxTokens, embeddingDim)");
            case ModelKind.TextConditional when signature.TokensInput is null:
                throw new ModelLoadException("gan.json: inputs: a text-conditional model needs a 'tokens' input (int64 [-1, maxTokens])");
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

/// <summary>An image input of a text-conditional pipeline step: its name and the geometry and range it expects.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Geometry">Channels, height, width and value range (<c>inputs[].range</c>).</param>
public sealed record ImageInput(string Name, ImageGeometry Geometry)
{
    /// <summary>From a manifest tensor that passed the image checks ([-1, C, H, W] float32 with a range).</summary>
    internal static ImageInput From(TensorManifest tensor) =>
        new(tensor.Name!, new ImageGeometry((int)tensor.Shape![1], (int)tensor.Shape[2], (int)tensor.Shape[3], tensor.Range![0], tensor.Range[1]));
}

/// <summary>A further random input (e.g. conditioning-augmentation noise) and its width.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Size">Values per item.</param>
public sealed record NoiseInput(string Name, int Size);
