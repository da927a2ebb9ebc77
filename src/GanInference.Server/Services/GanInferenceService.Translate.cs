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
        model.RequireImageToImage(); // before the images are looked at
        if (request.Images.Count == 0)
        {
            throw new InvalidFieldException("images", "is empty; send at least one image");
        }

        RequestLimits.CheckAtMost("images", request.Images.Count, _limits.MaxImagesPerTranslate, ServerLimitsOptions.MaxImagesPerTranslateKey, "images");
        var settings = ToSettings(request.Format, request.JpegQuality, request.ResizeBack);
        var images = request.Images.Select(ProtoMapper.ToSource).ToArray();
        using var call = servingState.LinkCall(context.CancellationToken);
        var translated = await translator.TranslateAsync(model, images, settings, context.Deadline, call.Token).ConfigureAwait(false);
        var response = new TranslateResponse { Model = model.Name, ContentHash = model.ContentHash };
        foreach (var image in translated)
        {
            response.Images.Add(ProtoMapper.ToProto(image, request.Format));
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
        model.RequireImageToImage();
        var settings = ToSettings(first.Format, first.JpegQuality, first.ResizeBack);
        using var call = servingState.LinkCall(context.CancellationToken);
        var images = ReadImagesAsync(first, requestStream, model.Name, _limits.MaxImagesPerStream, call.Token);
        await foreach (var outcome in translator.TranslateStreamAsync(model, images, settings, context.Deadline, call.Token).ConfigureAwait(false))
        {
            var message = new TranslateStreamResponse { Index = (uint)outcome.Index, Id = outcome.Id };
            if (outcome.Image is { } image)
            {
                message.Image = ProtoMapper.ToProto(image, first.Format);
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
        yield return ProtoMapper.ToSource(first.Image);
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
            yield return ProtoMapper.ToSource(message.Image);
        }
    }

    private TranslationSettings ToSettings(ImageFormat format, uint jpegQuality, bool resizeBack) =>
        _limits.ToTranslationSettings(ProtoMapper.ToEncoding(format, jpegQuality), resizeBack);
}
