using System.Buffers;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using GanInference.Core.Imaging;
using GanInference.Core.Repository;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Options;

namespace GanInference.Core.Generation;

/// <summary>An encoded image and what it was made from.</summary>
/// <param name="Index">Position in the request, from 0.</param>
/// <param name="Data">Encoded bytes.</param>
/// <param name="Seed">Seed of its latent; null for explicit latents.</param>
/// <param name="Label">Class label; null for unconditional models.</param>
public sealed record EncodedImage(int Index, byte[] Data, ulong? Seed, int? Label);

/// <summary>
/// Runs a <see cref="GenerationPlan"/> through a model and yields encoded images in index order, one
/// chunk at a time. The request is cut into chunks (by default one batch each); while a chunk is
/// encoded (in parallel, off the batch loop) the next one is already queued for inference, and no
/// more than that is produced ahead of the consumer: memory stays at a few chunks whatever the count,
/// and a slow consumer slows production.
/// </summary>
public sealed class ImageGenerator(GanTelemetry telemetry, IOptions<GenerationOptions> options)
{
    private readonly GenerationOptions _options = options.Value;

    /// <summary>Generates the plan's images.</summary>
    /// <param name="model">A generator model.</param>
    /// <param name="plan">The checked request.</param>
    /// <param name="encoding">Output format.</param>
    /// <param name="deadlineUtc">The caller's deadline (<see cref="DateTime.MaxValue"/> for none); queued chunks past it are dropped.</param>
    /// <param name="cancellationToken">Stops production; queued chunks are dropped before they run.</param>
    /// <returns>Chunks of encoded images, in index order.</returns>
    public async IAsyncEnumerable<IReadOnlyList<EncodedImage>> GenerateAsync(
        ServedModel model,
        GenerationPlan plan,
        ImageEncoding encoding,
        DateTime deadlineUtc,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var chunkSize = _options.ChunkSize > 0 ? _options.ChunkSize : model.Batching.MaxBatchSize;
        if (plan.Count <= chunkSize)
        {
            // One chunk (the common small request): no pipeline to overlap, so no producer task either.
            yield return await GenerateSingleChunkAsync(model, plan, encoding, deadlineUtc, cancellationToken).ConfigureAwait(false);
            yield break;
        }

        // Capacity 1: one inferred chunk waits while the consumer holds the previous one.
        var inferred = Channel.CreateBounded<InferredChunk>(new BoundedChannelOptions(1) { SingleReader = true, SingleWriter = true });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var producer = Task.Run(() => ProduceAsync(model, plan, chunkSize, deadlineUtc, inferred.Writer, stop.Token), stop.Token);
        try
        {
            await foreach (var chunk in inferred.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                IReadOnlyList<EncodedImage> images;
                try
                {
                    images = await EncodeAsync(model, plan, chunk, encoding, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(chunk.Pixels);
                }

                telemetry.Images.Add(images.Count, new KeyValuePair<string, object?>(GanTelemetry.ModelTag, model.Name));
                yield return images;
            }

            await producer.ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch (Exception) when (stop.IsCancellationRequested)
            {
                // The consumer left early or failed; the producer's own error (if any) is not the story.
            }

            while (inferred.Reader.TryRead(out var leftover))
            {
                ArrayPool<float>.Shared.Return(leftover.Pixels);
            }
        }
    }

    private async Task<IReadOnlyList<EncodedImage>> GenerateSingleChunkAsync(ServedModel model, GenerationPlan plan, ImageEncoding encoding, DateTime deadlineUtc, CancellationToken cancellationToken)
    {
        var pixels = ArrayPool<float>.Shared.Rent(plan.Count * model.Signature.OutputsPerItem);
        try
        {
            await InferAsync(model, plan, start: 0, plan.Count, pixels, deadlineUtc, cancellationToken).ConfigureAwait(false);
            var images = await EncodeAsync(model, plan, new InferredChunk(0, plan.Count, pixels), encoding, cancellationToken).ConfigureAwait(false);
            telemetry.Images.Add(images.Count, new KeyValuePair<string, object?>(GanTelemetry.ModelTag, model.Name));
            return images;
        }
        finally
        {
            ArrayPool<float>.Shared.Return(pixels);
        }
    }

    /// <summary>Runs images [start, start + count) of the plan into <paramref name="pixels"/>.</summary>
    private static async Task InferAsync(ServedModel model, GenerationPlan plan, int start, int count, float[] pixels, DateTime deadlineUtc, CancellationToken cancellationToken)
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

    private static async Task ProduceAsync(ServedModel model, GenerationPlan plan, int chunkSize, DateTime deadlineUtc, ChannelWriter<InferredChunk> writer, CancellationToken cancellationToken)
    {
        try
        {
            for (var start = 0; start < plan.Count; start += chunkSize)
            {
                var count = Math.Min(chunkSize, plan.Count - start);
                var pixels = ArrayPool<float>.Shared.Rent(count * model.Signature.OutputsPerItem);
                try
                {
                    await InferAsync(model, plan, start, count, pixels, deadlineUtc, cancellationToken).ConfigureAwait(false);
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

    private async Task<IReadOnlyList<EncodedImage>> EncodeAsync(ServedModel model, GenerationPlan plan, InferredChunk chunk, ImageEncoding encoding, CancellationToken cancellationToken)
    {
        using var activity = GanTelemetry.ActivitySource.StartActivity("gan.encode");
        activity?.SetTag(GanTelemetry.ModelTag, model.Name);
        activity?.SetTag("gan.images", chunk.Count);
        activity?.SetTag("gan.format", encoding.Format.ToString());

        var geometry = model.Geometry;
        var images = new EncodedImage[chunk.Count];
        var parallelism = _options.EncodeParallelism > 0 ? _options.EncodeParallelism : Environment.ProcessorCount;
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellationToken };
        await Parallel.ForAsync(0, chunk.Count, parallel, (i, _) =>
        {
            var index = chunk.Start + i;
            var data = ImageCodec.Encode(chunk.Pixels.AsSpan(i * geometry.Length, geometry.Length), geometry, encoding);
            images[i] = new EncodedImage(index, data, plan.SeedAt(index), plan.LabelAt(index));
            return ValueTask.CompletedTask;
        }).ConfigureAwait(false);
        return images;
    }

    private readonly record struct InferredChunk(int Start, int Count, float[] Pixels);
}
