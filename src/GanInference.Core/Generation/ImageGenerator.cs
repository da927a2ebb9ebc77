using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using GanInference.Core.Batching;
using GanInference.Core.Imaging;
using GanInference.Core.Repository;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using GanInference.Core.TextGeneration;
using Microsoft.Extensions.Options;

namespace GanInference.Core.Generation;

/// <summary>An encoded image and what it was made from.</summary>
/// <param name="Index">Position in the request, from 0.</param>
/// <param name="Data">Encoded bytes.</param>
/// <param name="Seed">Seed of its latent; null for explicit latents.</param>
/// <param name="Label">Class label; null for unconditional models.</param>
/// <param name="TextIndex">The text (or embedding row) of a text-to-image request the image came from; null otherwise.</param>
public sealed record EncodedImage(int Index, ReadOnlyMemory<byte> Data, ulong? Seed, int? Label, int? TextIndex = null)
{
    /// <summary>The bytes as an array: the image's own array when it has one (unpooled chunks), else a copy.</summary>
    public byte[] DataArray() =>
        MemoryMarshal.TryGetArray(Data, out var segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length ? segment.Array : Data.ToArray();
}

/// <summary>
/// One chunk of a request's images, in index order. In a pooled chunk (RAW formats, when the caller asked for
/// pooling) every image is a slice of one buffer rented from <see cref="ChunkBuffers.Encoded"/> for the whole chunk:
/// no array per image. <see cref="Dispose"/> returns it, so the caller disposes only once nothing reads the slices
/// any more (a stream: after the chunk's messages are written, which copies them into the transport). A chunk that
/// is never disposed is simply collected; unpooled chunks own nothing.
/// </summary>
public sealed class EncodedChunk : IReadOnlyList<EncodedImage>, IDisposable
{
    private readonly EncodedImage[] _images;
    private byte[]? _pooled;

    internal EncodedChunk(EncodedImage[] images, byte[]? pooled)
    {
        _images = images;
        _pooled = pooled;
    }

    /// <summary>True when the images are slices of one pooled buffer.</summary>
    public bool IsPooled => _pooled is not null;

    public int Count => _images.Length;

    public EncodedImage this[int index] => _images[index];

    public IEnumerator<EncodedImage> GetEnumerator() => ((IEnumerable<EncodedImage>)_images).GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => _images.GetEnumerator();

    /// <summary>Returns the pooled buffer (once); the images' bytes must not be read afterwards.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _pooled, null) is { } buffer)
        {
            ChunkBuffers.Encoded.Return(buffer);
        }
    }
}

/// <summary>
/// Runs a checked request — a <see cref="GenerationPlan"/> through a model, or a <see cref="TextGenerationPlan"/>
/// through a text-conditional model or pipeline — and yields encoded images in index order, one chunk at a time.
/// The request is cut into chunks (by default one batch each); while a chunk is encoded (in parallel, off the
/// batch loop) the next one is already queued for inference, and no more than that is produced ahead of the
/// consumer: memory stays at a few chunks whatever the count, and a slow consumer slows production.
/// </summary>
public sealed class ImageGenerator(GanTelemetry telemetry, IOptions<GenerationOptions> options, CodecLimiter? codecs = null)
{
    private readonly GenerationOptions _options = options.Value;

    /// <summary>Generates the plan's images.</summary>
    /// <param name="model">A generator model.</param>
    /// <param name="plan">The checked request.</param>
    /// <param name="encoding">Output format.</param>
    /// <param name="deadlineUtc">The caller's deadline (<see cref="DateTime.MaxValue"/> for none); queued chunks past it are dropped.</param>
    /// <param name="cancellationToken">Stops production; queued chunks are dropped before they run.</param>
    /// <param name="pooled">RAW formats: each chunk's images are slices of one pooled buffer, which the caller returns by disposing the chunk (see <see cref="EncodedChunk"/>).</param>
    /// <returns>Chunks of encoded images, in index order.</returns>
    public IAsyncEnumerable<EncodedChunk> GenerateAsync(
        ServedModel model,
        GenerationPlan plan,
        ImageEncoding encoding,
        DateTime deadlineUtc,
        CancellationToken cancellationToken,
        bool pooled = false) =>
        RunAsync(new ModelJob(model, plan), encoding, deadlineUtc, pooled, cancellationToken);

    /// <summary>
    /// Generates a text-to-image plan's images: each chunk runs through every step's batcher in turn (a step's
    /// float output is the next step's image input, nothing is encoded in between), then the last step's output
    /// is encoded.
    /// </summary>
    /// <param name="target">The text-conditional model or pipeline, leased for the call.</param>
    /// <param name="plan">The checked request.</param>
    /// <param name="encoding">Output format.</param>
    /// <param name="deadlineUtc">The caller's deadline (<see cref="DateTime.MaxValue"/> for none).</param>
    /// <param name="cancellationToken">Stops production; queued chunks are dropped before they run.</param>
    /// <param name="pooled">As for <see cref="GenerateAsync"/>.</param>
    /// <returns>Chunks of encoded images, in index order.</returns>
    public IAsyncEnumerable<EncodedChunk> GenerateFromTextAsync(
        TextGenerationTarget target,
        TextGenerationPlan plan,
        ImageEncoding encoding,
        DateTime deadlineUtc,
        CancellationToken cancellationToken,
        bool pooled = false) =>
        RunAsync(new TextJob(target, plan), encoding, deadlineUtc, pooled, cancellationToken);

    private async IAsyncEnumerable<EncodedChunk> RunAsync(
        IGenerationJob job,
        ImageEncoding encoding,
        DateTime deadlineUtc,
        bool pooled,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chunkSize = _options.ChunkSize > 0 ? _options.ChunkSize : job.MaxBatchSize;
        if (job.Count <= chunkSize)
        {
            // One chunk (the common small request): no pipeline to overlap, so no producer task either.
            yield return await GenerateSingleChunkAsync(job, encoding, deadlineUtc, pooled, cancellationToken).ConfigureAwait(false);
            yield break;
        }

        // Capacity 1: one inferred chunk waits while the consumer holds the previous one.
        var inferred = Channel.CreateBounded<InferredChunk>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() => ProduceAsync(job, chunkSize, deadlineUtc, inferred.Writer, stop.Token), stop.Token);
        try
        {
            await foreach (var chunk in inferred.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                EncodedChunk images;
                try
                {
                    images = await EncodeAsync(job, chunk, encoding, pooled, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    ChunkBuffers.Pixels.Return(chunk.Pixels);
                }

                telemetry.Images.Add(images.Count, new KeyValuePair<string, object?>(GanTelemetry.ModelTag, job.Model));
                yield return images;
            }

            await producer.ConfigureAwait(false);
        }
        finally
        {
            await ProducerShutdown.StopAsync(stop, producer).ConfigureAwait(false);
            while (inferred.Reader.TryRead(out var leftover))
            {
                ChunkBuffers.Pixels.Return(leftover.Pixels);
            }
        }
    }

    private async Task<EncodedChunk> GenerateSingleChunkAsync(IGenerationJob job, ImageEncoding encoding, DateTime deadlineUtc, bool pooled, CancellationToken cancellationToken)
    {
        var pixels = ChunkBuffers.Pixels.Rent(job.Count * job.Geometry.Length);
        try
        {
            await job.InferAsync(start: 0, job.Count, pixels, deadlineUtc, cancellationToken).ConfigureAwait(false);
            var images = await EncodeAsync(job, new InferredChunk(0, job.Count, pixels), encoding, pooled, cancellationToken).ConfigureAwait(false);
            telemetry.Images.Add(images.Count, new KeyValuePair<string, object?>(GanTelemetry.ModelTag, job.Model));
            return images;
        }
        finally
        {
            ChunkBuffers.Pixels.Return(pixels);
        }
    }

    private static async Task ProduceAsync(IGenerationJob job, int chunkSize, DateTime deadlineUtc, ChannelWriter<InferredChunk> writer, CancellationToken cancellationToken)
    {
        try
        {
            for (var start = 0; start < job.Count; start += chunkSize)
            {
                var count = Math.Min(chunkSize, job.Count - start);
                var pixels = ChunkBuffers.Pixels.Rent(count * job.Geometry.Length);
                try
                {
                    await job.InferAsync(start, count, pixels, deadlineUtc, cancellationToken).ConfigureAwait(false);
                    await writer.WriteAsync(new InferredChunk(start, count, pixels), cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    ChunkBuffers.Pixels.Return(pixels);
                    throw;
                }
            }

            writer.TryComplete();
        }
        catch (Exception ex)
        {
            writer.TryComplete(ex);
            throw;
        }
    }

    private async Task<EncodedChunk> EncodeAsync(IGenerationJob job, InferredChunk chunk, ImageEncoding encoding, bool pooled, CancellationToken cancellationToken)
    {
        using var activity = GanTelemetry.ActivitySource.StartActivity("gan.encode");
        activity?.SetTag(GanTelemetry.ModelTag, job.Model);
        activity?.SetTag("gan.images", chunk.Count);
        activity?.SetTag("gan.format", encoding.Format.ToString());

        var geometry = job.Geometry;
        var format = ImageEncoding.ApiName(encoding.Format);
        var images = new EncodedImage[chunk.Count];
        if (!CodecLimiter.IsCompressed(encoding.Format))
        {
            // RAW formats are a conversion and a copy: not worth a thread hop. Pooled: one buffer for the chunk, sliced.
            var size = ImageCodec.RawBytes(geometry, encoding.Format);
            var buffer = pooled ? ChunkBuffers.Encoded.Rent(chunk.Count * size) : null;
            for (var i = 0; i < chunk.Count; i++)
            {
                var pixels = chunk.Pixels.AsSpan(i * geometry.Length, geometry.Length);
                var started = Stopwatch.GetTimestamp();
                var data = buffer is null ? new byte[size] : buffer.AsMemory(i * size, size);
                ImageCodec.EncodeRaw(pixels, geometry, encoding.Format, data.Span);
                telemetry.RecordEncode(job.Model, format, started);
                images[i] = job.Describe(chunk.Start + i, data);
            }

            return new EncodedChunk(images, buffer);
        }

        await Codecs.ForEachAsync(
            chunk.Count,
            cancellationToken,
            i =>
            {
                var started = Stopwatch.GetTimestamp();
                var data = ImageCodec.Encode(chunk.Pixels.AsSpan(i * geometry.Length, geometry.Length), geometry, encoding);
                telemetry.RecordEncode(job.Model, format, started);
                images[i] = job.Describe(chunk.Start + i, data);
            }).ConfigureAwait(false);
        return new EncodedChunk(images, pooled: null);
    }

    private readonly record struct InferredChunk(int Start, int Count, float[] Pixels);

    // The server passes its one shared limiter; a generator built alone (tests, tools) gets its own.
    private CodecLimiter Codecs { get; } = codecs ?? new CodecLimiter(options.Value.EncodeParallelism);

    /// <summary>One checked request as the chunking and encoding above see it.</summary>
    private interface IGenerationJob
    {
        /// <summary>The model or pipeline name, for metrics and spans.</summary>
        string Model { get; }

        /// <summary>The delivered images' geometry.</summary>
        ImageGeometry Geometry { get; }

        /// <summary>Images in the request.</summary>
        int Count { get; }

        /// <summary>The default chunk size: one batch.</summary>
        int MaxBatchSize { get; }

        /// <summary>Infers images [start, start + count) into <paramref name="pixels"/> (C·H·W floats each).</summary>
        Task InferAsync(int start, int count, float[] pixels, DateTime deadlineUtc, CancellationToken cancellationToken);

        /// <summary>The reply entry of image <paramref name="index"/>.</summary>
        EncodedImage Describe(int index, ReadOnlyMemory<byte> data);
    }

    /// <summary>Generate: one model, items from a <see cref="GenerationPlan"/>.</summary>
    private sealed class ModelJob(ServedModel model, GenerationPlan plan) : IGenerationJob
    {
        public string Model => model.Name;

        public ImageGeometry Geometry => model.Geometry;

        public int Count => plan.Count;

        public int MaxBatchSize => model.Batching.MaxBatchSize;

        public async Task InferAsync(int start, int count, float[] pixels, DateTime deadlineUtc, CancellationToken cancellationToken)
        {
            var items = ArrayPool<GenerationItem>.Shared.Rent(count);
            try
            {
                for (var i = 0; i < count; i++)
                {
                    items[i] = plan.ItemAt(start + i);
                }

                // The batcher owns `pixels` and `items` until this completes, even when cancelled.
                await model.Generator.SubmitAsync(items.AsMemory(0, count), pixels.AsMemory(0, count * model.Signature.OutputsPerItem), deadlineUtc, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                ArrayPool<GenerationItem>.Shared.Return(items, clearArray: true);
            }
        }

        public EncodedImage Describe(int index, ReadOnlyMemory<byte> data) => new(index, data, plan.SeedAt(index), plan.LabelAt(index));
    }

    /// <summary>GenerateFromText: every step of a text-conditional model or pipeline in turn, items from a <see cref="TextGenerationPlan"/>.</summary>
    private sealed class TextJob(TextGenerationTarget target, TextGenerationPlan plan) : IGenerationJob
    {
        public string Model => target.Name;

        public ImageGeometry Geometry => target.Geometry;

        public int Count => plan.Count;

        public int MaxBatchSize => target.Steps.Min(s => s.Batching.MaxBatchSize);

        public async Task InferAsync(int start, int count, float[] pixels, DateTime deadlineUtc, CancellationToken cancellationToken)
        {
            var steps = target.Steps;
            var items = ArrayPool<GenerationItem>.Shared.Rent(count);

            // The previous step's output for this chunk: the image input of the next.
            float[]? previous = null;
            var previousPerItem = 0;
            try
            {
                var streamOffset = 0;
                for (var s = 0; s < steps.Count; s++)
                {
                    var step = steps[s];
                    var perItem = step.Signature.OutputsPerItem;
                    var output = s == steps.Count - 1 ? pixels : ChunkBuffers.Pixels.Rent(count * perItem);
                    try
                    {
                        for (var i = 0; i < count; i++)
                        {
                            var item = plan.ItemAt(start + i, streamOffset);
                            items[i] = previous is null ? item : item with { Image = previous.AsMemory(i * previousPerItem, previousPerItem) };
                        }

                        // The batcher owns `output`, `items` and the previous output until this completes, even when cancelled.
                        await step.TextGenerator.SubmitAsync(items.AsMemory(0, count), output.AsMemory(0, count * perItem), deadlineUtc, cancellationToken).ConfigureAwait(false);
                    }
                    catch
                    {
                        if (!ReferenceEquals(output, pixels))
                        {
                            ChunkBuffers.Pixels.Return(output);
                        }

                        throw;
                    }

                    if (previous is not null)
                    {
                        ChunkBuffers.Pixels.Return(previous);
                    }

                    (previous, previousPerItem) = ReferenceEquals(output, pixels) ? (null, 0) : (output, perItem);
                    streamOffset += step.Signature.SeedStreamLength;
                }
            }
            finally
            {
                if (previous is not null)
                {
                    ChunkBuffers.Pixels.Return(previous);
                }

                ArrayPool<GenerationItem>.Shared.Return(items, clearArray: true);
            }
        }

        public EncodedImage Describe(int index, ReadOnlyMemory<byte> data) => new(index, data, plan.SeedAt(index), Label: null, TextIndex: plan.RowAt(index));
    }
}
