using System.Buffers;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Imaging;
using GanInference.Core.Limits;
using GanInference.Core.Repository;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Options;

namespace GanInference.Core.Translation;

/// <summary>
/// Runs uploaded images through an image-to-image model: decode (PNG / JPEG / raw) → convert channels and
/// resize to the model's input (<see cref="ImageResampler"/>) → map [0, 1] to the model's input range → the
/// model's shared <see cref="TranslationEngine.Batcher"/> (so images of concurrent calls share batches) →
/// optionally resize back → encode. Decoding and encoding run in parallel, off the batch loop; every buffer
/// is pooled.
/// </summary>
public sealed class ImageTranslator(GanTelemetry telemetry, IOptions<TranslationOptions> options, CodecLimiter? codecs = null)
{
    private readonly TranslationOptions _options = options.Value;

    // The server passes its one shared limiter; a translator built alone (tests, tools) gets its own.
    private readonly CodecLimiter _codecs = codecs ?? new CodecLimiter(options.Value.CodecParallelism);

    /// <summary>Translates a request's images; the first bad image (lowest index) fails the call.</summary>
    /// <param name="model">An image-to-image model (else <see cref="ModelKindMismatchException"/>).</param>
    /// <param name="images">The inputs, already counted against the request limit.</param>
    /// <param name="settings">Output format, resize-back and the pixel limit.</param>
    /// <param name="deadlineUtc">The caller's deadline (<see cref="DateTime.MaxValue"/> for none).</param>
    /// <param name="cancellationToken">Drops the images from the queue before they run.</param>
    /// <returns>The translations, in request order.</returns>
    /// <exception cref="InvalidFieldException">An image is corrupt, truncated, unsupported or too large; the field is <c>images[i]</c>.</exception>
    public async Task<IReadOnlyList<TranslatedImage>> TranslateAsync(
        ServedModel model,
        IReadOnlyList<SourceImage> images,
        TranslationSettings settings,
        DateTime deadlineUtc,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(settings);
        CheckBudget(model, images, firstIndex: 0, settings, unary: true);
        return await TranslateBatchAsync(model, images, firstIndex: 0, singleField: null, settings, deadlineUtc, waitForRoom: false, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Refuses, from the headers alone and before anything is decoded, a call whose input pixels pass the per-call
    /// budget or whose reply (at the delivered size and format) cannot fit one message. An image whose header
    /// cannot be read is left to the decoder, which says what is wrong with it.
    /// </summary>
    private static void CheckBudget(ServedModel model, IReadOnlyList<SourceImage> images, int firstIndex, TranslationSettings settings, bool unary)
    {
        var geometry = model.Geometry;
        var signature = model.Translation.Signature;
        long pixels = 0;
        long replyBytes = 0;
        for (var i = 0; i < images.Count; i++)
        {
            // An image the decoder will refuse on its own (unreadable header, over the per-image limit) is left to it,
            // so the caller hears about that image by its index.
            if (!SourceImageDecoder.TryReadSize(images[i], out var width, out var height) || (long)width * height > settings.MaxPixels)
            {
                continue;
            }

            pixels += (long)width * height;
            var resizedBack = settings.ResizeBack && (width != signature.InputWidth || height != signature.InputHeight);
            var (outWidth, outHeight) = resizedBack ? (width, height) : (geometry.Width, geometry.Height);
            replyBytes += ReplyBudget.MaxImageBytes(outWidth, outHeight, geometry.Channels, settings.Encoding.Format);
        }

        // The reply first: it is what a caller can change most easily (format, resize_back, streaming).
        var budget = settings.Budget;
        var what = images.Count == 1 ? $"image {firstIndex}" : $"{images.Count} images";
        var instead = unary
            ? "use TranslateStream (one image per message), a smaller format (PNG, JPEG, RAW_U8), or resize_back=false"
            : "use a smaller format (PNG, JPEG, RAW_U8), or resize_back=false";
        ReplyBudget.CheckReply(replyBytes, budget.MaxReplyBytes, budget.MaxReplyBytesLimitName, $"{what} as {ImageEncoding.ApiName(settings.Encoding.Format)}", instead);
        if (unary && pixels > budget.MaxPixelsPerRequest)
        {
            throw new InvalidFieldException("images", $"{images.Count} images of {pixels} pixels in all are over the limit of {budget.MaxPixelsPerRequest} pixels for one call ({budget.MaxPixelsPerRequestLimitName}); send them in several calls or through TranslateStream");
        }
    }

    /// <summary>
    /// Translates a stream of images with at most <see cref="TranslationOptions.StreamWindow"/> of them in flight
    /// (decoded, queued or being encoded), so memory stays at a few batches whatever the length. Each image is
    /// answered in order; an image refused on its own (bad bytes, over a limit, a reply too large for one message)
    /// is answered with its error and the stream goes on. A full queue is waited out (within the deadline), so
    /// concurrent streams slow each other down instead of losing images. Other failures (cancellation, the deadline, the source) end the stream.
    /// </summary>
    public async IAsyncEnumerable<TranslationOutcome> TranslateStreamAsync(
        ServedModel model,
        IAsyncEnumerable<SourceImage> images,
        TranslationSettings settings,
        DateTime deadlineUtc,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(settings);
        var window = WindowFor(model);

        // The semaphore bounds what is in flight; the channel keeps the answers in arrival order.
        using var slots = new SemaphoreSlim(window, window);
        var pending = Channel.CreateUnbounded<Task<TranslationOutcome>>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() => ProduceAsync(model, images, settings, deadlineUtc, slots, pending.Writer, stop.Token), stop.Token);
        try
        {
            await foreach (var task in pending.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var outcome = await task.ConfigureAwait(false);
                slots.Release();
                yield return outcome;
            }

            await producer.ConfigureAwait(false);
        }
        finally
        {
            await ProducerShutdown.StopAsync(stop, producer).ConfigureAwait(false);

            // Images still in flight own pooled buffers until the batcher lets them go; wait for them.
            while (pending.Reader.TryRead(out var leftover))
            {
                try
                {
                    await leftover.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Cancelled with the stream; nobody is listening for its answer.
                }
            }
        }
    }

    private int WindowFor(ServedModel model)
    {
        var batching = model.Translation.Batcher.Settings;
        return _options.StreamWindow > 0 ? _options.StreamWindow : Math.Max(1, Math.Min(2 * batching.MaxBatchSize, batching.MaxQueueSize));
    }

    private async Task ProduceAsync(
        ServedModel model,
        IAsyncEnumerable<SourceImage> images,
        TranslationSettings settings,
        DateTime deadlineUtc,
        SemaphoreSlim slots,
        ChannelWriter<Task<TranslationOutcome>> writer,
        CancellationToken cancellationToken)
    {
        try
        {
            var index = 0;
            await foreach (var image in images.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                writer.TryWrite(TranslateOneAsync(model, image, index, settings, deadlineUtc, cancellationToken));
                index++;
            }

            writer.TryComplete();
        }
        catch (Exception ex)
        {
            writer.TryComplete(ex);
            throw;
        }
    }

    private async Task<TranslationOutcome> TranslateOneAsync(
        ServedModel model,
        SourceImage image,
        int index,
        TranslationSettings settings,
        DateTime deadlineUtc,
        CancellationToken cancellationToken)
    {
        // Off the reading loop: decoding of this image overlaps with reading the next.
        await Task.Yield();
        try
        {
            CheckBudget(model, [image], index, settings, unary: false);

            // A stream waits for room in the queue (its deadline bounds the wait): backpressure slows it, never fails its images.
            var translated = await TranslateBatchAsync(model, [image], index, singleField: "image", settings, deadlineUtc, waitForRoom: true, cancellationToken).ConfigureAwait(false);
            return new TranslationOutcome(index, image.Id, translated[0], Error: null);
        }
        catch (GanRequestException ex) when (ex is InvalidFieldException or ReplyTooLargeException)
        {
            // This image alone is refused; a deadline or shutdown ends the whole stream instead.
            return new TranslationOutcome(index, image.Id, Image: null, ex);
        }
    }

    private async Task<IReadOnlyList<TranslatedImage>> TranslateBatchAsync(
        ServedModel model,
        IReadOnlyList<SourceImage> images,
        int firstIndex,
        string? singleField,
        TranslationSettings settings,
        DateTime deadlineUtc,
        bool waitForRoom,
        CancellationToken cancellationToken)
    {
        var engine = model.Translation;
        var signature = engine.Signature;
        var count = images.Count;
        var (inputsPerItem, outputsPerItem) = (signature.InputsPerItem, signature.Model.OutputsPerItem);
        var inputs = ArrayPool<float>.Shared.Rent(count * inputsPerItem);
        var outputs = ArrayPool<float>.Shared.Rent(count * outputsPerItem);
        var items = ArrayPool<TranslationItem>.Shared.Rent(count);
        var sourceSizes = ArrayPool<(int Width, int Height)>.Shared.Rent(count);
        try
        {
            Prepare(images, firstIndex, singleField, signature, settings, inputs, sourceSizes, cancellationToken);
            for (var i = 0; i < count; i++)
            {
                items[i] = new TranslationItem(inputs.AsMemory(i * inputsPerItem, inputsPerItem));
            }

            // The batcher owns `items` and `outputs` until this completes, even when cancelled.
            await engine.Batcher.SubmitAsync(items.AsMemory(0, count), outputs.AsMemory(0, count * outputsPerItem), deadlineUtc, cancellationToken, waitForRoom).ConfigureAwait(false);
            var translated = await EncodeAsync(model, images, firstIndex, settings, outputs, sourceSizes, cancellationToken).ConfigureAwait(false);
            telemetry.Images.Add(count, new KeyValuePair<string, object?>(GanTelemetry.ModelTag, model.Name));
            return translated;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(inputs);
            ArrayPool<float>.Shared.Return(outputs);
            ArrayPool<TranslationItem>.Shared.Return(items, clearArray: true);
            ArrayPool<(int, int)>.Shared.Return(sourceSizes);
        }
    }

    /// <summary>Decodes every image into its slot of <paramref name="inputs"/>, in the model's channels, size and range.</summary>
    private void Prepare(
        IReadOnlyList<SourceImage> images,
        int firstIndex,
        string? singleField,
        TranslationSignature signature,
        TranslationSettings settings,
        float[] inputs,
        (int Width, int Height)[] sourceSizes,
        CancellationToken cancellationToken)
    {
        using var activity = GanTelemetry.ActivitySource.StartActivity("gan.decode");
        activity?.SetTag("gan.images", images.Count);
        var inputsPerItem = signature.InputsPerItem;
        var failures = new InvalidFieldException?[images.Count];
        void PrepareOne(int i)
        {
            var field = singleField ?? $"images[{firstIndex + i}]";
            try
            {
                var source = images[i];
                // A large JPEG is decoded at a reduced scale no smaller than the model's input (it is resampled to that anyway).
                var planar = SourceImageDecoder.Decode(source, field, settings.MaxPixels, settings.MaxPixelsLimitName, signature.InputMin, signature.InputMax, signature.InputWidth, signature.InputHeight);
                try
                {
                    var target = inputs.AsSpan(i * inputsPerItem, inputsPerItem);
                    ImageResampler.Convert(planar, signature.InputChannels, signature.InputHeight, signature.InputWidth, target);
                    ToRange(target, signature.InputMin, signature.InputMax);

                    // The size the caller sent (resize_back and resized_from_* speak of it), not the size decoded.
                    sourceSizes[i] = SourceImageDecoder.TryReadSize(source, out var sentWidth, out var sentHeight) ? (sentWidth, sentHeight) : (planar.Width, planar.Height);
                }
                finally
                {
                    planar.Return();
                }
            }
            catch (InvalidFieldException ex)
            {
                failures[i] = ex;
            }
        }

        if (images.Count == 1)
        {
            PrepareOne(0);
        }
        else
        {
            Parallel.For(0, images.Count, ParallelOptionsFor(cancellationToken), PrepareOne);
        }

        // The lowest index is reported, so the answer does not depend on thread timing.
        foreach (var failure in failures)
        {
            if (failure is not null)
            {
                throw failure;
            }
        }
    }

    private async Task<IReadOnlyList<TranslatedImage>> EncodeAsync(
        ServedModel model,
        IReadOnlyList<SourceImage> images,
        int firstIndex,
        TranslationSettings settings,
        float[] outputs,
        (int Width, int Height)[] sourceSizes,
        CancellationToken cancellationToken)
    {
        using var activity = GanTelemetry.ActivitySource.StartActivity("gan.encode");
        activity?.SetTag(GanTelemetry.ModelTag, model.Name);
        activity?.SetTag("gan.images", images.Count);
        activity?.SetTag("gan.format", settings.Encoding.Format.ToString());
        var signature = model.Translation.Signature;
        var geometry = model.Geometry;
        var translated = new TranslatedImage[images.Count];
        var format = ImageEncoding.ApiName(settings.Encoding.Format);
        void EncodeOne(int i)
        {
            var started = System.Diagnostics.Stopwatch.GetTimestamp();
            var (width, height) = sourceSizes[i];
            var resized = width != signature.InputWidth || height != signature.InputHeight;
            var output = outputs.AsSpan(i * geometry.Length, geometry.Length);
            byte[] data;
            var delivered = geometry;
            if (resized && settings.ResizeBack && (width != geometry.Width || height != geometry.Height))
            {
                delivered = geometry with { Width = width, Height = height };
                var back = ArrayPool<float>.Shared.Rent(delivered.Length);
                try
                {
                    ImageResampler.Resize(output, geometry.Channels, geometry.Height, geometry.Width, height, width, back.AsSpan(0, delivered.Length));
                    data = ImageCodec.Encode(back.AsSpan(0, delivered.Length), delivered, settings.Encoding);
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(back);
                }
            }
            else
            {
                data = ImageCodec.Encode(output, geometry, settings.Encoding);
            }

            telemetry.RecordEncode(model.Name, format, started);
            translated[i] = new TranslatedImage(
                firstIndex + i, images[i].Id, data, delivered.Width, delivered.Height, delivered.Channels,
                resized ? width : 0, resized ? height : 0);
        }

        if (!CodecLimiter.IsCompressed(settings.Encoding.Format))
        {
            // RAW formats are a conversion and a copy: inline, no thread hop and no codec slot.
            for (var i = 0; i < images.Count; i++)
            {
                EncodeOne(i);
            }
        }
        else
        {
            await _codecs.ForEachAsync(images.Count, cancellationToken, EncodeOne).ConfigureAwait(false);
        }

        return translated;
    }

    private ParallelOptions ParallelOptionsFor(CancellationToken cancellationToken) => new()
    {
        MaxDegreeOfParallelism = _options.CodecParallelism > 0 ? _options.CodecParallelism : Environment.ProcessorCount,
        CancellationToken = cancellationToken,
    };

    /// <summary>[0, 1] → [min, max], in place.</summary>
    private static void ToRange(Span<float> values, float min, float max)
    {
        var scale = max - min;
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = min + (values[i] * scale);
        }
    }
}
