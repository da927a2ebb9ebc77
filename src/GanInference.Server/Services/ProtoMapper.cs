using GanInference.Api.V1;
using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Core.Models;
using GanInference.Core.Repository;
using GanInference.Core.Text;
using GanInference.Core.TextGeneration;
using GanInference.Core.Translation;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace GanInference.Server.Services;

/// <summary>Translates between the public <c>gan.v1</c> messages and the serving core's types.</summary>
internal static class ProtoMapper
{
    /// <summary>Full metadata of a loaded model.</summary>
    public static ModelInfo ToModelInfo(ServedModel model)
    {
        var signature = model.Signature;
        var info = new ModelInfo
        {
            Name = model.Name,
            Kind = ToProto(signature.Kind),
            Description = model.Manifest.Description ?? string.Empty,
            LatentDim = (uint)signature.LatentDim,
            Width = (uint)signature.Width,
            Height = (uint)signature.Height,
            Channels = (uint)signature.Channels,
            OutputMin = signature.OutputMin,
            OutputMax = signature.OutputMax,
            DefaultTruncation = model.DefaultTruncation,
            ExecutionProvider = model.ExecutionProvider,
            ContentHash = model.ContentHash,
            Batching = new BatchingInfo
            {
                MaxBatchSize = (uint)model.Batching.MaxBatchSize,
                MaxQueueDelayMs = model.Batching.MaxQueueDelay.TotalMilliseconds,
                MaxQueueSize = (uint)model.Batching.MaxQueueSize,
                PreferredBatchSizes = { model.Batching.PreferredBatchSizes.Select(size => (uint)size) },
                Policy = model.Batching.Policy.ToName(),
                EffectiveMaxBatchSize = (uint)model.EffectiveMaxBatchSize,
                Profile = model.BatchProfile is { } profile ? ToProto(profile) : null,
                MaxRunsInFlight = (uint)model.Batching.MaxRunsInFlight,
                EffectiveRunsInFlight = (uint)model.EffectiveRunsInFlight,
            },
        };
        info.Classes.AddRange(signature.Classes);
        info.Inputs.AddRange(model.Manifest.Inputs!.Select(ToTensorInfo));
        info.Outputs.AddRange(model.Manifest.Outputs!.Select(ToTensorInfo));
        AddText(info, signature.Text);
        AddProvenance(info, model.Manifest);
        return info;
    }

    /// <summary>A batch size profile.</summary>
    public static Api.V1.BatchProfile ToProto(Core.Batching.BatchProfile profile)
    {
        var proto = new Api.V1.BatchProfile
        {
            ChosenBatchSize = (uint)profile.ChosenBatchSize,
            Tolerance = profile.Tolerance,
            MeasuredAt = Timestamp.FromDateTimeOffset(profile.MeasuredAt),
            Speedup = profile.Speedup,
            WaitSpeedup = profile.WaitSpeedup,
            WaitsForCompany = profile.WaitsForCompany,
            ChosenRunsInFlight = (uint)profile.ChosenRunsInFlight,
        };
        proto.SizesAtChosenRuns.AddRange(profile.SizesAtChosenRuns.Select(ToProto));
        proto.RunsInFlight.AddRange(profile.RunsInFlight.Select(r => new Api.V1.RunsThroughput { RunsInFlight = (uint)r.Runs, ImagesPerSecond = r.ImagesPerSecond, Batches = (uint)r.Batches }));
        proto.Sizes.AddRange(profile.Sizes.Select(ToProto));
        return proto;
    }

    private static Api.V1.BatchSizeThroughput ToProto(Core.Batching.BatchSizeThroughput size) =>
        new() { BatchSize = (uint)size.BatchSize, ImagesPerSecond = size.ImagesPerSecond, Runs = (uint)size.Runs };

    /// <summary>
    /// A pipeline as a text-conditional model: its first step's inputs and latent size, its last step's outputs
    /// and geometry, the shared text block, and the steps by name. It has no batching of its own (each step
    /// batches on its own; see the step models).
    /// </summary>
    public static ModelInfo ToModelInfo(ServedPipeline pipeline)
    {
        var (first, last) = (pipeline.Steps[0], pipeline.Steps[^1]);
        var geometry = pipeline.Geometry;
        var info = new ModelInfo
        {
            Name = pipeline.Name,
            Kind = Api.V1.ModelKind.TextConditional,
            Description = pipeline.Manifest.Description ?? string.Empty,
            LatentDim = (uint)first.Signature.LatentDim,
            Width = (uint)geometry.Width,
            Height = (uint)geometry.Height,
            Channels = (uint)geometry.Channels,
            OutputMin = geometry.Min,
            OutputMax = geometry.Max,
            DefaultTruncation = pipeline.DefaultTruncation,
            ExecutionProvider = pipeline.ExecutionProvider,
            ContentHash = pipeline.ContentHash,
        };
        info.Inputs.AddRange(first.Manifest.Inputs!.Select(ToTensorInfo));
        info.Outputs.AddRange(last.Manifest.Outputs!.Select(ToTensorInfo));
        info.PipelineSteps.AddRange(pipeline.Steps.Select(s => s.Name));
        AddText(info, pipeline.Text);
        AddProvenance(info, pipeline.Manifest);
        return info;
    }

    /// <summary>The core's view of a text-to-image request.</summary>
    public static TextGenerationSpec ToSpec(GenerateFromTextRequest request)
    {
        if (request.Count > int.MaxValue)
        {
            throw new InvalidFieldException("count", $"{request.Count} is too large");
        }

        return new TextGenerationSpec
        {
            Texts = request.Texts,
            Embeddings = request.Embeddings.Count > 0 ? request.Embeddings.ToArray() : ReadOnlyMemory<float>.Empty,
            Count = (int)request.Count,
            Seed = request.HasSeed ? request.Seed : null,
            Seeds = request.Seeds,
            Truncation = request.HasTruncation ? request.Truncation : null,
        };
    }

    /// <summary>The core's view of a generation request.</summary>
    public static GenerationSpec ToSpec(GenerateRequest request)
    {
        if (request.Count > int.MaxValue)
        {
            throw new InvalidFieldException("count", $"{request.Count} is too large");
        }

        return new GenerationSpec
        {
            Count = (int)request.Count,
            Seed = request.HasSeed ? request.Seed : null,
            Seeds = request.Seeds,
            Latents = request.Latents.Count > 0 ? request.Latents.ToArray() : ReadOnlyMemory<float>.Empty,
            Truncation = request.HasTruncation ? request.Truncation : null,
            Labels = request.Labels,
        };
    }

    /// <summary>The output format and quality asked for; INVALID_ARGUMENT for unknown values.</summary>
    public static ImageEncoding ToEncoding(GenerateRequest request) => ToEncoding(request.Format, request.JpegQuality);

    /// <summary>An output format and JPEG quality (any RPC); INVALID_ARGUMENT for unknown values.</summary>
    public static ImageEncoding ToEncoding(ImageFormat requestFormat, uint jpegQuality)
    {
        var format = requestFormat switch
        {
            ImageFormat.Png => ImageFormatKind.Png,
            ImageFormat.Jpeg => ImageFormatKind.Jpeg,
            ImageFormat.RawU8 => ImageFormatKind.RawU8,
            ImageFormat.RawF32 => ImageFormatKind.RawF32,
            _ => throw new InvalidFieldException("format", $"{(int)requestFormat} is not one of PNG, JPEG, RAW_U8, RAW_F32"),
        };
        if (jpegQuality > 100)
        {
            throw new InvalidFieldException("jpeg_quality", $"{jpegQuality} is outside 1..100 (0 means {ImageEncoding.DefaultJpegQuality})");
        }

        var quality = jpegQuality == 0 ? ImageEncoding.DefaultJpegQuality : (int)jpegQuality;
        return new ImageEncoding(format, quality);
    }

    /// <summary>One reply image; the encoded bytes are wrapped, not copied.</summary>
    public static GeneratedImage ToProto(EncodedImage image, ImageGeometry geometry, ImageFormat format) =>
        Fill(new GeneratedImage(), image, geometry, format);

    /// <summary>
    /// Sets every field of <paramref name="message"/> to describe <paramref name="image"/>, clearing the optional ones
    /// the image lacks, so one message can be reused for each image of a stream once the previous write completed (a
    /// completed write has serialized it). The encoded bytes are wrapped, not copied.
    /// </summary>
    public static GeneratedImage Fill(GeneratedImage message, EncodedImage image, ImageGeometry geometry, ImageFormat format)
    {
        message.Data = UnsafeByteOperations.UnsafeWrap(image.Data);
        message.Format = format;
        message.Width = (uint)geometry.Width;
        message.Height = (uint)geometry.Height;
        message.Channels = (uint)geometry.Channels;
        message.Index = (uint)image.Index;
        if (image.Seed is { } seed)
        {
            message.Seed = seed;
        }
        else
        {
            message.ClearSeed();
        }

        if (image.Label is { } label)
        {
            message.Label = label;
        }
        else
        {
            message.ClearLabel();
        }

        if (image.TextIndex is { } textIndex)
        {
            message.TextIndex = (uint)textIndex;
        }
        else
        {
            message.ClearTextIndex();
        }

        return message;
    }

    private static void AddText(ModelInfo info, TextConditioning? text)
    {
        if (text is null)
        {
            return;
        }

        info.Vocabulary.AddRange(text.Vocabulary);
        info.MaxTextTokens = (uint)text.MaxTokens;
        info.EmbeddingDim = (uint)text.EmbeddingDim;
    }

    private static void AddProvenance(ModelInfo info, Core.Manifests.ModelManifest manifest)
    {
        if (manifest.Provenance is { ValueKind: System.Text.Json.JsonValueKind.Object } provenance)
        {
            info.Provenance = Struct.Parser.ParseJson(provenance.GetRawText());
        }
    }

    private static TensorInfo ToTensorInfo(Core.Manifests.TensorManifest tensor) => new()
    {
        Name = tensor.Name,
        Role = tensor.Role ?? string.Empty,
        Dtype = tensor.Dtype,
        Shape = { tensor.Shape! },
    };

    private static Api.V1.ModelKind ToProto(Core.Manifests.ModelKind kind) => kind switch
    {
        Core.Manifests.ModelKind.Unconditional => Api.V1.ModelKind.Unconditional,
        Core.Manifests.ModelKind.ClassConditional => Api.V1.ModelKind.ClassConditional,
        Core.Manifests.ModelKind.TextConditional => Api.V1.ModelKind.TextConditional,
        Core.Manifests.ModelKind.ImageToImage => Api.V1.ModelKind.ImageToImage,
        _ => Api.V1.ModelKind.Unspecified,
    };

    /// <summary>An uploaded image as the core sees it; the bytes are not copied. A missing image is empty (refused by the decoder).</summary>
    public static SourceImage ToSource(InputImage? image)
    {
        if (image is null)
        {
            return new SourceImage(ReadOnlyMemory<byte>.Empty, SourceEncoding.Auto, 0, 0, 0, string.Empty);
        }

        var encoding = image.Encoding switch
        {
            InputEncoding.Auto => SourceEncoding.Auto,
            InputEncoding.Png => SourceEncoding.Png,
            InputEncoding.Jpeg => SourceEncoding.Jpeg,
            InputEncoding.RawU8 => SourceEncoding.RawU8,
            InputEncoding.RawF32 => SourceEncoding.RawF32,

            // Passed through as an unknown value: the decoder names it for this image alone.
            _ => (SourceEncoding)(int)image.Encoding,
        };
        return new SourceImage(image.Data.Memory, encoding, Clamp(image.Width), Clamp(image.Height), Clamp(image.Channels), image.Id);
    }

    // uint sizes above int.MaxValue are over any pixel limit anyway; clamping keeps them over it.
    private static int Clamp(uint value) => value > int.MaxValue ? int.MaxValue : (int)value;

    /// <summary>A translated image as a reply message; the encoded bytes are wrapped, not copied.</summary>
    public static Api.V1.TranslatedImage ToProto(Core.Translation.TranslatedImage image, ImageFormat format) => new()
    {
        Data = UnsafeByteOperations.UnsafeWrap(image.Data),
        Format = format,
        Width = (uint)image.Width,
        Height = (uint)image.Height,
        Channels = (uint)image.Channels,
        Index = (uint)image.Index,
        Id = image.Id,
        ResizedFromWidth = (uint)image.ResizedFromWidth,
        ResizedFromHeight = (uint)image.ResizedFromHeight,
    };
}
