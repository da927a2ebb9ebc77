using GanInference.Api.Inference;
using GanInference.Core.Errors;
using GanInference.Core.Imaging;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Repository;

namespace GanInference.Server.OpenInference;

/// <summary>One tensor of a model as the Open Inference Protocol describes it.</summary>
/// <param name="Name">Tensor name.</param>
/// <param name="Datatype">OIP data type.</param>
/// <param name="Shape">Shape, -1 for any size (the batch first).</param>
/// <param name="Optional">An input the request may leave out.</param>
internal sealed record OipTensor(string Name, string Datatype, long[] Shape, bool Optional = false);

/// <summary>
/// How a served model or pipeline looks through the Open Inference Protocol (docs/open-inference-protocol.md): its
/// input and output tensors by kind, its batching, and its one version, <c>1</c>.
/// </summary>
internal sealed class OipModel
{
    /// <summary>The one version each model has (a reload replaces it in place).</summary>
    public const string Version = "1";

    /// <summary>Triton's platform name of an ONNX model.</summary>
    public const string Platform = "onnxruntime_onnx";

    public const string Seed = "seed";
    public const string Latent = "latent";
    public const string Label = "label";
    public const string Text = "text";
    public const string Image = "image";
    public const string ImageF32 = "image_f32";
    public const string Png = "png";

    private OipModel(string name, ModelKind kind, ImageGeometry geometry, IReadOnlyList<OipTensor> inputs, IReadOnlyList<OipTensor> outputs, ServedModel? batchingModel, string contentHash)
    {
        Name = name;
        Kind = kind;
        Geometry = geometry;
        Inputs = inputs;
        Outputs = outputs;
        BatchingModel = batchingModel;
        ContentHash = contentHash;
    }

    public string Name { get; }

    public ModelKind Kind { get; }

    /// <summary>The delivered images' geometry.</summary>
    public ImageGeometry Geometry { get; }

    public IReadOnlyList<OipTensor> Inputs { get; }

    public IReadOnlyList<OipTensor> Outputs { get; }

    /// <summary>The model whose batcher serves it (a pipeline's first step); null for none.</summary>
    public ServedModel? BatchingModel { get; }

    public string ContentHash { get; }

    /// <summary>The model or pipeline <paramref name="name"/>; NOT_FOUND for an unknown name or a version other than <see cref="Version"/>.</summary>
    public static OipModel Find(ModelRepository repository, string name, string version)
    {
        if (string.IsNullOrEmpty(name))
        {
            throw new InvalidFieldException("model_name", $"is required; loaded models: [{string.Join(", ", repository.Names)}]");
        }

        OipModel model;
        if (repository.TryGetPipeline(name, out var pipeline))
        {
            model = Describe(pipeline.Name, ModelKind.TextConditional, pipeline.Geometry, pipeline.Steps[0].Signature, null, pipeline.Steps[0], pipeline.ContentHash);
        }
        else if (repository.TryGet(name, out var served))
        {
            var translation = served.Signature.Kind == ModelKind.ImageToImage ? served.Translation.Signature : null;
            model = Describe(served.Name, served.Signature.Kind, served.Geometry, served.Signature, translation, served, served.ContentHash);
        }
        else
        {
            throw new ModelNotFoundException(name, repository.Names);
        }

        CheckVersion(name, version);
        return model;
    }

    /// <summary>NOT_FOUND for any version but <see cref="Version"/> (empty means the latest).</summary>
    public static void CheckVersion(string name, string version)
    {
        if (version.Length > 0 && version != Version)
        {
            throw new ModelVersionNotFoundException($"model '{OipInput.Shorten(name)}' has no version '{OipInput.Shorten(version)}'; its versions: [{Version}]");
        }
    }

    /// <summary>The <c>ModelMetadata</c> answer.</summary>
    public ModelMetadataResponse ToMetadata()
    {
        var response = new ModelMetadataResponse { Name = Name, Platform = Platform, Versions = { Version } };
        response.Inputs.AddRange(Inputs.Select(t => new ModelMetadataResponse.Types.TensorMetadata { Name = t.Name, Datatype = t.Datatype, Shape = { t.Shape } }));
        response.Outputs.AddRange(Outputs.Select(t => new ModelMetadataResponse.Types.TensorMetadata { Name = t.Name, Datatype = t.Datatype, Shape = { t.Shape } }));
        return response;
    }

    /// <summary>The minimal Triton model configuration: batching, inputs and outputs without the batch dimension.</summary>
    public ModelConfig ToConfig()
    {
        var config = new ModelConfig { Name = Name, Platform = Platform, Backend = "onnxruntime" };
        config.Input.AddRange(Inputs.Select(t => new ModelInput
        {
            Name = t.Name,
            DataType = OipDatatype.ToConfig(t.Datatype),
            Format = t.Shape.Length == 4 ? ModelInput.Types.Format.Nhwc : ModelInput.Types.Format.None,
            Dims = { t.Shape.Skip(1) },
            Optional = t.Optional,
        }));
        config.Output.AddRange(Outputs.Select(t => new ModelOutput { Name = t.Name, DataType = OipDatatype.ToConfig(t.Datatype), Dims = { t.Shape.Skip(1) } }));
        config.InstanceGroup.Add(new ModelInstanceGroup { Name = Name, Count = 1, Kind = ModelInstanceGroup.Types.Kind.Cpu });
        if (BatchingModel is { } batching)
        {
            config.MaxBatchSize = batching.Batching.MaxBatchSize;
            config.DynamicBatching = new ModelDynamicBatching
            {
                MaxQueueDelayMicroseconds = (ulong)(batching.Batching.MaxQueueDelay.Ticks / TimeSpan.TicksPerMicrosecond),
                PreferredBatchSize = { batching.Batching.PreferredBatchSizes },
                PreserveOrdering = true,
            };
            config.Parameters.Add("execution_provider", new ModelParameter { StringValue = batching.ExecutionProvider });
        }

        config.Parameters.Add("kind", new ModelParameter { StringValue = Kind.ToManifestName() });
        config.Parameters.Add("content_hash", new ModelParameter { StringValue = ContentHash });
        return config;
    }

    private static OipModel Describe(string name, ModelKind kind, ImageGeometry geometry, ModelSignature signature, Core.Runtime.TranslationSignature? translation, ServedModel batching, string contentHash)
    {
        var (c, h, w) = ((long)geometry.Channels, (long)geometry.Height, (long)geometry.Width);
        var inputs = new List<OipTensor>();
        var outputs = new List<OipTensor> { new(Image, OipDatatype.UInt8, [-1, h, w, c]), new(ImageF32, OipDatatype.Fp32, [-1, c, h, w]), new(Png, OipDatatype.Bytes, [-1]) };
        switch (kind)
        {
            case ModelKind.Unconditional or ModelKind.ClassConditional:
                inputs.Add(new(Seed, OipDatatype.UInt64, [-1], Optional: true));
                inputs.Add(new(Latent, OipDatatype.Fp32, [-1, signature.LatentDim], Optional: true));
                outputs.Add(new(Seed, OipDatatype.UInt64, [-1]));
                if (kind == ModelKind.ClassConditional)
                {
                    inputs.Add(new(Label, OipDatatype.Int32, [-1], Optional: true));
                    outputs.Add(new(Label, OipDatatype.Int32, [-1]));
                }

                break;
            case ModelKind.TextConditional:
                inputs.Add(new(Text, OipDatatype.Bytes, [-1]));
                inputs.Add(new(Seed, OipDatatype.UInt64, [-1], Optional: true));
                outputs.Add(new(Seed, OipDatatype.UInt64, [-1]));
                break;
            case ModelKind.ImageToImage when translation is not null:
                inputs.Add(new(Image, OipDatatype.UInt8, [-1, translation.InputHeight, translation.InputWidth, translation.InputChannels]));
                break;
        }

        return new OipModel(name, kind, geometry, inputs, outputs, batching, contentHash);
    }
}

/// <summary>A model version that is not served (NOT_FOUND).</summary>
internal sealed class ModelVersionNotFoundException(string message) : GanRequestException(message)
{
    /// <inheritdoc />
    public override GanErrorKind Kind => GanErrorKind.NotFound;
}
