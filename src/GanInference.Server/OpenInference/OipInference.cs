using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.InteropServices;
using GanInference.Api.Inference;
using GanInference.Core.Errors;
using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Core.Limits;
using GanInference.Core.Manifests;
using GanInference.Core.Models;
using GanInference.Core.Repository;
using GanInference.Core.TextGeneration;
using GanInference.Core.Translation;
using GanInference.Server.Hosting;
using GanInference.Server.Options;
using Google.Protobuf;
using Microsoft.Extensions.Options;

namespace GanInference.Server.OpenInference;

/// <summary>
/// <c>ModelInfer</c> of the Open Inference Protocol, for the gRPC service and the REST surface alike: reads the
/// request's tensors as a GAN request of the model's kind (docs/open-inference-protocol.md), runs it through the
/// same core engines as <c>gan.v1</c> (<see cref="ImageGenerator"/>, <see cref="ImageTranslator"/>; so the same
/// batchers, determinism and limits), and answers every output in <c>raw_output_contents</c>.
/// </summary>
internal sealed class OipInference(ModelRepository repository, ImageGenerator generator, ImageTranslator translator, ServingState servingState, IOptions<ServerLimitsOptions> limits)
{
    /// <summary>The request parameter that sets the truncation (0 or absent: the model's default).</summary>
    public const string TruncationParameter = "truncation";

    private static readonly string[] PixelOutputs = [OipModel.Image, OipModel.ImageF32, OipModel.Png];

    private readonly ServerLimitsOptions _limits = limits.Value;

    /// <summary>Runs one inference request.</summary>
    public async Task<ModelInferResponse> InferAsync(ModelInferRequest request, DateTime deadlineUtc, CancellationToken cancellationToken)
    {
        var model = OipModel.Find(repository, request.ModelName, request.ModelVersion);
        var inputs = OipInput.ReadAll(request);
        foreach (var input in inputs)
        {
            if (!model.Inputs.Any(t => t.Name == input.Name))
            {
                throw new InvalidFieldException(input.Field, $"is not an input of model '{model.Name}'; its inputs: [{string.Join(", ", model.Inputs.Select(t => $"{t.Name} {t.Datatype}"))}]");
            }
        }

        var outputs = RequestedOutputs(request, model);
        var truncation = ReadTruncation(request);
        using var call = servingState.LinkCall(cancellationToken);
        var result = model.Kind switch
        {
            ModelKind.Unconditional or ModelKind.ClassConditional => await GenerateAsync(model, inputs, outputs, truncation, deadlineUtc, call.Token).ConfigureAwait(false),
            ModelKind.TextConditional => await GenerateFromTextAsync(model, inputs, outputs, truncation, deadlineUtc, call.Token).ConfigureAwait(false),
            _ => await TranslateAsync(model, inputs, outputs, deadlineUtc, call.Token).ConfigureAwait(false),
        };

        var response = new ModelInferResponse { ModelName = model.Name, ModelVersion = OipModel.Version, Id = request.Id };
        response.Parameters.Add("content_hash", new InferParameter { StringParam = result.ContentHash });
        foreach (var name in outputs)
        {
            var (datatype, shape, data) = Output(name, model.Geometry, result);
            response.Outputs.Add(new ModelInferResponse.Types.InferOutputTensor { Name = name, Datatype = datatype, Shape = { shape } });
            response.RawOutputContents.Add(data);
        }

        return response;
    }

    /// <summary>The outputs asked for, in the order asked; by default <c>image</c> and the echoes (<c>seed</c>, <c>label</c>).</summary>
    private static List<string> RequestedOutputs(ModelInferRequest request, OipModel model)
    {
        if (request.Outputs.Count == 0)
        {
            return model.Outputs.Select(t => t.Name).Where(n => n is not OipModel.ImageF32 and not OipModel.Png).ToList();
        }

        var names = new List<string>();
        foreach (var output in request.Outputs)
        {
            var field = $"output '{OipInput.Shorten(output.Name)}'";
            if (!model.Outputs.Any(t => t.Name == output.Name))
            {
                throw new InvalidFieldException(field, $"is not an output of model '{model.Name}'; its outputs: [{string.Join(", ", model.Outputs.Select(t => t.Name))}]");
            }

            if (names.Contains(output.Name))
            {
                throw new InvalidFieldException(field, "is asked for twice");
            }

            names.Add(output.Name);
        }

        return names;
    }

    private static float? ReadTruncation(ModelInferRequest request)
    {
        if (!request.Parameters.TryGetValue(TruncationParameter, out var parameter))
        {
            return null;
        }

        return parameter.ParameterChoiceCase switch
        {
            InferParameter.ParameterChoiceOneofCase.DoubleParam => (float)parameter.DoubleParam,
            InferParameter.ParameterChoiceOneofCase.Int64Param => parameter.Int64Param,
            InferParameter.ParameterChoiceOneofCase.Uint64Param => parameter.Uint64Param,
            InferParameter.ParameterChoiceOneofCase.StringParam when float.TryParse(parameter.StringParam, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) => value,
            _ => throw new InvalidFieldException("parameters.truncation", "must be a number (double, int64 or uint64 parameter)"),
        };
    }

    private async Task<Result> GenerateAsync(OipModel oip, IReadOnlyList<OipInput> inputs, List<string> outputs, float? truncation, DateTime deadlineUtc, CancellationToken cancellationToken)
    {
        var seedInput = Find(inputs, OipModel.Seed);
        var latentInput = Find(inputs, OipModel.Latent);
        var labelInput = Find(inputs, OipModel.Label);
        if (seedInput is null == latentInput is null)
        {
            throw new InvalidFieldException("inputs", $"give exactly one of 'seed' (UINT64 [-1]) and 'latent' (FP32 [-1,latent_dim]) for model '{oip.Name}'");
        }

        using var lease = repository.Acquire(oip.Name);
        var model = lease.Model;
        ulong[] seeds = [];
        float[] latents = [];
        int count;
        if (seedInput is not null)
        {
            seedInput.RequireDatatype(OipDatatype.UInt64);
            seedInput.RequireShape([-1], [-1, 1]);
            seeds = seedInput.ReadUInt64();
            count = seeds.Length;
        }
        else
        {
            latentInput!.RequireDatatype(OipDatatype.Fp32);
            latentInput.RequireShape([-1, model.Signature.LatentDim]);
            latents = latentInput.ReadFp32();
            count = (int)latentInput.Shape[0];
        }

        int[] labels = [];
        if (labelInput is not null)
        {
            labelInput.RequireDatatype(OipDatatype.Int32);
            labelInput.RequireShape([count], [count, 1]);
            labels = labelInput.ReadInt32();
        }

        RequireImages(count);
        var spec = new GenerationSpec { Count = count, Seeds = seeds, Latents = latents, Labels = labels, Truncation = truncation };
        var plan = GenerationPlan.Create(model.Name, model.Signature, model.DefaultTruncation, spec, _limits.MaxImagesPerRequest, ServerLimitsOptions.MaxImagesPerRequestKey);
        var encoding = CheckReply(plan.Count, model.Geometry, outputs);
        var images = await CollectAsync(generator.GenerateAsync(model, plan, encoding, deadlineUtc, cancellationToken)).ConfigureAwait(false);
        return new Result(model.ContentHash, encoding.Format, images.Select(i => i.DataArray()).ToArray(), images.Select(i => i.Seed ?? 0).ToArray(), images.Select(i => i.Label ?? 0).ToArray());
    }

    private async Task<Result> GenerateFromTextAsync(OipModel oip, IReadOnlyList<OipInput> inputs, List<string> outputs, float? truncation, DateTime deadlineUtc, CancellationToken cancellationToken)
    {
        var textInput = Find(inputs, OipModel.Text) ?? throw new InvalidFieldException("inputs", $"model '{oip.Name}' needs the input 'text' (BYTES [-1], one UTF-8 caption per image)");
        textInput.RequireDatatype(OipDatatype.Bytes);
        textInput.RequireShape([-1], [-1, 1]);
        var texts = new string[textInput.Elements];
        var elements = textInput.ReadBytes();
        var utf8 = new System.Text.UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
        for (var i = 0; i < texts.Length; i++)
        {
            try
            {
                texts[i] = utf8.GetString(elements[i].Span);
            }
            catch (System.Text.DecoderFallbackException)
            {
                throw new InvalidFieldException($"{textInput.Field} element {i}", "is not valid UTF-8");
            }
        }

        ulong[] seeds = [];
        if (Find(inputs, OipModel.Seed) is { } seedInput)
        {
            seedInput.RequireDatatype(OipDatatype.UInt64);
            seedInput.RequireShape([texts.Length], [texts.Length, 1]);
            seeds = seedInput.ReadUInt64();
        }

        RequireImages(texts.Length);
        using var target = repository.AcquireText(oip.Name);
        var spec = new TextGenerationSpec { Texts = texts, Count = 1, Seeds = seeds, Seed = seeds.Length == 0 ? 0 : null, Truncation = truncation };
        var plan = TextGenerationPlan.Create(target, spec, _limits.ToTextLimits(_limits.MaxImagesPerRequest, ServerLimitsOptions.MaxImagesPerRequestKey));
        var encoding = CheckReply(plan.Count, target.Geometry, outputs);
        var images = await CollectAsync(generator.GenerateFromTextAsync(target, plan, encoding, deadlineUtc, cancellationToken)).ConfigureAwait(false);
        return new Result(target.ContentHash, encoding.Format, images.Select(i => i.DataArray()).ToArray(), images.Select(i => i.Seed ?? 0).ToArray(), []);
    }

    private async Task<Result> TranslateAsync(OipModel oip, IReadOnlyList<OipInput> inputs, List<string> outputs, DateTime deadlineUtc, CancellationToken cancellationToken)
    {
        var imageInput = Find(inputs, OipModel.Image) ?? throw new InvalidFieldException("inputs", $"model '{oip.Name}' needs the input 'image' (UINT8 [-1,H,W,C] pixels, or BYTES [-1] of PNG/JPEG files)");
        imageInput.RequireDatatype(OipDatatype.UInt8, OipDatatype.Bytes);
        SourceImage[] images;
        if (imageInput.Datatype == OipDatatype.Bytes)
        {
            imageInput.RequireShape([-1], [-1, 1]);
            images = imageInput.ReadBytes().Select(b => new SourceImage(b, SourceEncoding.Auto, 0, 0, 0, string.Empty)).ToArray();
        }
        else
        {
            imageInput.RequireShape([-1, -1, -1, -1]);
            var (height, width, channels) = ((int)imageInput.Shape[1], (int)imageInput.Shape[2], (int)imageInput.Shape[3]);
            var pixels = imageInput.ReadUInt8();
            var size = height * width * channels;
            images = new SourceImage[(int)imageInput.Shape[0]];
            for (var i = 0; i < images.Length; i++)
            {
                images[i] = new SourceImage(pixels.Slice(i * size, size), SourceEncoding.RawU8, width, height, channels, string.Empty);
            }
        }

        if (images.Length == 0)
        {
            throw new InvalidFieldException(imageInput.Field, "holds no images; send at least one");
        }

        RequestLimits.CheckAtMost(imageInput.Field, images.Length, _limits.MaxImagesPerTranslate, ServerLimitsOptions.MaxImagesPerTranslateKey, "images");
        using var lease = repository.Acquire(oip.Name);
        var model = lease.Model;
        var encoding = CheckReply(images.Length, model.Geometry, outputs);
        var settings = _limits.ToTranslationSettings(encoding, resizeBack: false);
        var translated = await translator.TranslateAsync(model, images, settings, deadlineUtc, cancellationToken).ConfigureAwait(false);
        return new Result(model.ContentHash, encoding.Format, translated.Select(t => t.Data).ToArray(), [], []);
    }

    private void RequireImages(int count)
    {
        if (count == 0)
        {
            throw new InvalidFieldException("inputs", "the batch dimension is 0; ask for at least one image");
        }

        RequestLimits.CheckAtMost("inputs", count, _limits.MaxImagesPerRequest, ServerLimitsOptions.MaxImagesPerRequestKey, "images");
    }

    /// <summary>
    /// The format the core encodes in: the one pixel output asked for, or RAW_F32 when several are (the others are
    /// made from those floats by the same codec, so <c>image</c> is byte for byte what RAW_U8 gives). Refuses, before
    /// any work, a reply that cannot fit one message.
    /// </summary>
    private ImageEncoding CheckReply(int count, ImageGeometry geometry, List<string> outputs)
    {
        var pixelOutputs = outputs.Where(PixelOutputs.Contains).ToArray();
        var format = pixelOutputs.Length == 1 ? FormatOf(pixelOutputs[0]) : ImageFormatKind.RawF32;
        long perImage = 16;
        foreach (var output in pixelOutputs)
        {
            perImage += ReplyBudget.MaxImageBytes(geometry.Width, geometry.Height, geometry.Channels, FormatOf(output));
        }

        ReplyBudget.CheckReply(
            count * perImage, _limits.MaxSendMessageBytes, ServerLimitsOptions.MaxSendMessageBytesKey,
            $"{count} images of {geometry.Width}x{geometry.Height}x{geometry.Channels} as [{string.Join(", ", pixelOutputs)}]",
            "ask for fewer images per call or fewer outputs");
        return new ImageEncoding(format);
    }

    private static ImageFormatKind FormatOf(string output) => output switch
    {
        OipModel.ImageF32 => ImageFormatKind.RawF32,
        OipModel.Png => ImageFormatKind.Png,
        _ => ImageFormatKind.RawU8,
    };

    private static (string Datatype, long[] Shape, ByteString Data) Output(string name, ImageGeometry geometry, Result result)
    {
        var n = result.Images.Count;
        var (c, h, w) = ((long)geometry.Channels, (long)geometry.Height, (long)geometry.Width);
        switch (name)
        {
            case OipModel.Seed:
                return (OipDatatype.UInt64, [result.Seeds.Length], UnsafeByteOperations.UnsafeWrap(MemoryMarshal.AsBytes(result.Seeds.AsSpan()).ToArray()));
            case OipModel.Label:
                return (OipDatatype.Int32, [result.Labels.Length], UnsafeByteOperations.UnsafeWrap(MemoryMarshal.AsBytes(result.Labels.AsSpan()).ToArray()));
            case OipModel.Png:
                return (OipDatatype.Bytes, [n], UnsafeByteOperations.UnsafeWrap(JoinBytes(result.Images.Select(i => result.As(i, geometry, ImageFormatKind.Png)).ToArray())));
            default:
                var format = FormatOf(name);
                var datatype = format == ImageFormatKind.RawF32 ? OipDatatype.Fp32 : OipDatatype.UInt8;
                long[] shape = format == ImageFormatKind.RawF32 ? [n, c, h, w] : [n, h, w, c];
                if (n == 1)
                {
                    return (datatype, shape, UnsafeByteOperations.UnsafeWrap(result.As(result.Images[0], geometry, format)));
                }

                using (var stream = new MemoryStream())
                {
                    foreach (var image in result.Images)
                    {
                        stream.Write(result.As(image, geometry, format));
                    }

                    return (datatype, shape, UnsafeByteOperations.UnsafeWrap(stream.ToArray()));
                }
        }
    }

    /// <summary>BYTES in raw form: each element's 4-byte little-endian length, then its bytes.</summary>
    public static byte[] JoinBytes(IReadOnlyList<byte[]> elements)
    {
        var joined = new byte[elements.Sum(e => 4L + e.Length)];
        var offset = 0;
        foreach (var element in elements)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(joined.AsSpan(offset), (uint)element.Length);
            element.CopyTo(joined.AsSpan(offset + 4));
            offset += 4 + element.Length;
        }

        return joined;
    }

    private static OipInput? Find(IReadOnlyList<OipInput> inputs, string name) => inputs.FirstOrDefault(i => i.Name == name);

    private static async Task<IReadOnlyList<EncodedImage>> CollectAsync(IAsyncEnumerable<IReadOnlyList<EncodedImage>> chunks)
    {
        var images = new List<EncodedImage>();
        await foreach (var chunk in chunks.ConfigureAwait(false))
        {
            images.AddRange(chunk);
        }

        return images;
    }

    /// <summary>What the core produced: each image in <paramref name="Format"/>, and the echoes.</summary>
    private sealed record Result(string ContentHash, ImageFormatKind Format, IReadOnlyList<byte[]> Images, ulong[] Seeds, int[] Labels)
    {
        /// <summary>One image in <paramref name="format"/>: as produced, or re-encoded from the RAW_F32 floats.</summary>
        public byte[] As(byte[] image, ImageGeometry geometry, ImageFormatKind format) =>
            format == Format ? image : ImageCodec.Encode(MemoryMarshal.Cast<byte, float>(image), geometry, new ImageEncoding(format));
    }
}
