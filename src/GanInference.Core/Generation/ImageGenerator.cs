using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
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
public sealed record EncodedImage(int Index, byte[] Data, ulong? Seed, int? Label, int? TextIndex = null);

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
    /// <returns>Chunks of encoded images, in index order.</returns>
    public IAsyncEnumerable<IReadOnlyList<EncodedImage>> GenerateAsync(
        ServedModel model,
        GenerationPlan plan,
        ImageEncoding encoding,
        DateTime deadlineUtc,
        CancellationToken cancellationToken) =>
        RunAsync(new ModelJob(model, plan), encoding, deadlineUtc, cancellationToken);

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
    /// <returns>Chunks of encoded images, in index order.</returns>
    public IAsyncEnumerable<IReadOnlyList<EncodedImage>> GenerateFromTextAsync(
        TextGenerationTarget target,
        TextGenerationPlan plan,
        ImageEncoding encoding,
        DateTime deadlineUtc,
        CancellationToken cancellationToken) =>
        RunAsync(new TextJob(target, plan), encoding, deadlineUtc, cancellationToken);

    private async IAsyncEnumerable<IReadOnlyList<EncodedImage>> RunAsync(
        IGenerationJob job,
        ImageEncoding encoding,
        DateTime deadlineUtc,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chunkSize = _options.ChunkSize > 0 ? _options.ChunkSize : job.MaxBatchSize;
        if (job.Count <= chunkSize)
        {
            // One chunk (the common small request): no pipeline to overlap, so no producer task either.
            yield return await GenerateSingleChunkAsync(job, encoding, deadlineUtc, cancellationToken).ConfigureAwait(false);
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
                IReadOnlyList<EncodedImage> images;
                try
                {
                    images = await EncodeAsync(job, chunk, encoding, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(chunk.Pixels);
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
                ArrayPool<float>.Shared.Return(leftover.Pixels);
            }
        }
    }

    private async Task<IReadOnlyList<EncodedImage>> GenerateSingleChunkAsync(IGenerationJob job, ImageEncoding encoding, DateTime deadlineUtc, CancellationToken cancellationToken)
    {
        var pixels = ArrayPool<float>.Shared.Rent(job.Count * job.Geometry.Length);
        try
        {
            await job.InferAsync(start: 0, job.Count, pixels, deadlineUtc, cancellationToken).ConfigureAwait(false);
            var images = await EncodeAsync(job, new InferredChunk(0, job.Count, pixels), encoding, cancellationToken).ConfigureAwait(false);
            telemetry.Images.Add(images.Count, new KeyValuePair<string, object?>(GanTelemetry.ModelTag, job.Model));
            return images;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pixels);
        }
    }

    private static async Task ProduceAsync(IGenerationJob job, int chunkSize, DateTime deadlineUtc, ChannelWriter<InferredChunk> writer, CancellationToken cancellationToken)
    {
        try
        {
            for (var start = 0; start < job.Count; start += chunkSize)
            {
                var count = Math.Min(chunkSize, job.Count - start);
                var pixels = ArrayPool<float>.Shared.Rent(count * job.Geometry.Length);
                try
                {
                    await job.InferAsync(start, count, pixels, deadlineUtc, cancellationToken).ConfigureAwait(false);
                    await writer.WriteAsync(new InferredChunk(start, count, pixels), cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    ArrayPool<float>.Shared.Return(pixels);
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

    private async Task<IReadOnlyList<EncodedImage>> EncodeAsync(IGenerationJob job, InferredChunk chunk, ImageEncoding encoding, CancellationToken cancellationToken)
    {
        using var activity = GanTelemetry.ActivitySource.StartActivity("gan.encode");
        activity?.SetTag(GanTelemetry.ModelTag, job.Model);
        activity?.SetTag("gan.images", chunk.Count);
        activity?.SetTag("gan.format", encoding.Format.ToString());

        var geometry = job.Geometry;
        var images = new EncodedImage[chunk.Count];
        void EncodeOne(int i)
        {
            var data = ImageCodec.Encode(chunk.Pixels.AsSpan(i * geometry.Length, geometry.Length), geometry, encoding);
            images[i] = job.Describe(chunk.Start + i, data);
        }

        if (!CodecLimiter.IsCompressed(encoding.Format))
        {
            // RAW formats are a conversion and a copy: not worth a thread hop.
            for (var i = 0; i < chunk.Count; i++)
            {
                EncodeOne(i);
            }
        }
        else
        {
            await Codecs.ForEachAsync(chunk.Count, cancellationToken, EncodeOne).ConfigureAwait(false);
        }

        return images;
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
        EncodedImage Describe(int index, byte[] data);
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

        public EncodedImage Describe(int index, byte[] data) => new(index, data, plan.SeedAt(index), plan.LabelAt(index));
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
                    var output = s == steps.Count - 1 ? pixels : ArrayPool<float>.Shared.Rent(count * perItem);
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
                            ArrayPool<float>.Shared.Return(output);
                        }

                        throw;
                    }

                    if (previous is not null)
                    {
                        ArrayPool<float>.Shared.Return(previous);
                    }

                    (previous, previousPerItem) = ReferenceEquals(output, pixels) ? (null, 0) : (output, perItem);
                    streamOffset += step.Signature.SeedStreamLength;
                }
            }
            finally
            {
                if (previous is not null)
                {
                    ArrayPool<float>.Shared.Return(previous);
                }

                ArrayPool<GenerationItem>.Shared.Return(items, clearArray: true);
            }
        }

        public EncodedImage Describe(int index, byte[] data) => new(index, data, plan.SeedAt(index), Label: null, TextIndex: plan.RowAt(index));
    }
}
