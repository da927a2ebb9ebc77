using System.Runtime.CompilerServices;
using GanInference.Api.V1;
using GanInference.Core.Errors;
using GanInference.Core.Imaging;
using GanInference.Core.Limits;
using GanInference.Core.Repository;
using GanInference.Core.Translation;
using GanInference.Server.Options;
using Google.Protobuf;
using Grpc.Core;

namespace GanInference.Server.Services;

/// <summary>The image-to-image RPCs: <c>Translate</c> and <c>TranslateStream</c> (docs/translate.md).</summary>
internal sealed partial class GanInferenceService
{
    public override async Task<TranslateResponse> Translate(TranslateRequest request, ServerCallContext context)
    {
        using var lease = AcquireModel(request.Model);
        var model = lease.Model;
        _ = model.Translation; // FAILED_PRECONDITION for other kinds, before the images are looked at.
        if (request.Images.Count == 0)
        {
            throw new InvalidFieldException("images", "is empty; send at least one image");
        }

        RequestLimits.CheckAtMost("images", request.Images.Count, _limits.MaxImagesPerTranslate, ServerLimitsOptions.MaxImagesPerTranslateKey, "images");
        var settings = ToSettings(request.Format, request.JpegQuality, request.ResizeBack);
        var images = request.Images.Select(ToSource).ToArray();
        using var call = servingState.LinkCall(context.CancellationToken);
        var translated = await translator.TranslateAsync(model, images, settings, context.Deadline, call.Token).ConfigureAwait(false);
        var response = new TranslateResponse { Model = model.Name, ContentHash = model.ContentHash };
        foreach (var image in translated)
        {
            response.Images.Add(ToProto(image, request.Format));
        }

        return response;
    }

    public override async Task TranslateStream(
        IAsyncStreamReader<TranslateStreamRequest> requestStream,
        IServerStreamWriter<TranslateStreamResponse> responseStream,
        ServerCallContext context)
    {
        // The first message names the model and the output settings for the whole stream.
        if (!await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var first = requestStream.Current;
        using var lease = AcquireModel(first.Model);
        var model = lease.Model;
        _ = model.Translation;
        var settings = ToSettings(first.Format, first.JpegQuality, first.ResizeBack);
        using var call = servingState.LinkCall(context.CancellationToken);
        var images = ReadImagesAsync(first, requestStream, model.Name, _limits.MaxImagesPerStream, call.Token);
        await foreach (var outcome in translator.TranslateStreamAsync(model, images, settings, context.Deadline, call.Token).ConfigureAwait(false))
        {
            var message = new TranslateStreamResponse { Index = (uint)outcome.Index, Id = outcome.Id };
            if (outcome.Image is { } image)
            {
                message.Image = ToProto(image, first.Format);
            }
            else
            {
                message.Error = new ImageError { Code = (int)GanErrorInterceptor.ToStatusCode(outcome.Error!.Kind), Message = outcome.Error.Message };
            }

            await ResponseStreamWriter.WriteAsync(responseStream, message, flush: true, context, call.Token).ConfigureAwait(false);
        }
    }

    /// <summary>The stream's images, the first message's included; a message naming another model ends the stream.</summary>
    private static async IAsyncEnumerable<SourceImage> ReadImagesAsync(
        TranslateStreamRequest first,
        IAsyncStreamReader<TranslateStreamRequest> requestStream,
        string model,
        int maxImages,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        yield return ToSource(first.Image);
        var count = 1L;
        while (await requestStream.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            var message = requestStream.Current;
            if (message.Model.Length > 0 && message.Model != model)
            {
                throw new InvalidFieldException("model", $"message {count} names another model than the stream's first message ('{model}'); one stream serves one model");
            }

            count++;
            RequestLimits.CheckAtMost("images", count, maxImages, ServerLimitsOptions.MaxImagesPerStreamKey, "images");
            yield return ToSource(message.Image);
        }
    }

    private TranslationSettings ToSettings(ImageFormat format, uint jpegQuality, bool resizeBack) =>
        new(ProtoMapper.ToEncoding(format, jpegQuality), resizeBack, _limits.MaxInputImagePixels, ServerLimitsOptions.MaxInputImagePixelsKey, _translationBudget);

    /// <summary>An uploaded image as the core sees it; the bytes are not copied. A missing image is empty (refused by the decoder).</summary>
    private static SourceImage ToSource(InputImage? image)
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

    private static Api.V1.TranslatedImage ToProto(Core.Translation.TranslatedImage image, ImageFormat format) => new()
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
