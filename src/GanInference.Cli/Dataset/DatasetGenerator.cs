using System.Diagnostics;
using GanInference.Api.V1;
using GanInference.Cli.Imaging;
using GanInference.Client;
using Google.Protobuf;
using Grpc.Core;
using Spectre.Console;

namespace GanInference.Cli.Dataset;

/// <summary>
/// Fills a dataset folder (or one shard of it): opens (or resumes) it, streams the images it still lacks from the
/// server in requests of <see cref="ImagesPerStream"/> (GenerateStream, GenerateFromTextStream or TranslateStream,
/// by the dataset's kind), stores each as it arrives, and checks at the end that the model's weights did not change
/// under the run.
/// </summary>
internal sealed class DatasetGenerator(GanClient client, DatasetSpec spec, ImageFormat format, string root, DatasetShard shard, string? sourceRoot = null)
{
    /// <summary>Images per GenerateStream call: large enough to keep the server's batches full, small enough that a failed stream redoes little.</summary>
    internal const int ImagesPerStream = 256;

    /// <summary>Consecutive UNAVAILABLE failures of a stream tolerated (backoff 1 s, 2 s, 4 s) before giving up.</summary>
    private const int MaxStreamRetries = 3;

    /// <summary>Streams cut by UNAVAILABLE whose remaining images were asked for again (with several servers, from another one).</summary>
    private int _resumedStreams;

    public async Task<int> RunAsync(IAnsiConsole console, CancellationToken cancellationToken)
    {
        var plan = new DatasetPlan(spec, OutputFiles.Extension(format));
        using var folder = DatasetFolder.Open(root, spec, plan, shard);
        var (start, end) = plan.Range(shard);
        var resumed = folder.CompleteCount;
        var stopwatch = Stopwatch.StartNew();
        try
        {
            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ImagesPerSecondColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask(Markup.Escape(shard.IsWhole ? spec.Model : $"{spec.Model} ({shard})"), maxValue: Math.Max(end - start, 1));
                    task.Value = resumed;
                    await GenerateAllAsync(plan, start, end, folder, () => task.Increment(1), cancellationToken).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            throw new CliException(
                $"interrupted: {folder.CompleteCount} of {end - start} images{(shard.IsWhole ? string.Empty : $" of {shard}")} are complete in '{root}'; run the same command again to resume.",
                ExitCodes.Interrupted);
        }

        folder.Finish(plan, resumed > 0 && folder.CompleteCount > resumed);

        // The weights must not have changed under the run, or the manifest's hash would lie.
        var after = await client.GetModelAsync(spec.Model, cancellationToken).ConfigureAwait(false);
        if (after.ContentHash != spec.ContentHash)
        {
            throw new CliException($"model '{spec.Model}' changed from {spec.ContentHash} to {after.ContentHash} during the run; the dataset in '{root}' is from the old weights.", ExitCodes.Failure);
        }

        var made = folder.CompleteCount - resumed;
        var rate = made / Math.Max(stopwatch.Elapsed.TotalSeconds, 1e-9);
        var resumedStreams = _resumedStreams > 0 ? $"; {_resumedStreams} interrupted stream(s) resumed (UNAVAILABLE or reset: nothing written twice)" : string.Empty;
        console.WriteLine(shard.IsWhole
            ? $"{folder.CompleteCount} images in '{root}' ({made} generated at {rate:F1} images/s, {resumed} already complete); manifests {DatasetFolder.CsvName} and {DatasetFolder.JsonlName}{resumedStreams}"
            : $"{shard}: {folder.CompleteCount} images (indices {start}..{end - 1} of {plan.Total}) in '{root}' ({made} generated at {rate:F1} images/s, {resumed} already complete); manifest {shard.ManifestName}{resumedStreams}\n"
                + $"when every shard is complete: gan dataset merge --out {root}");
        return ExitCodes.Success;
    }

    /// <summary>
    /// Generates every pending item. gRPC's retry policy cannot retry a stream that has already delivered
    /// images, so a stream cut by UNAVAILABLE (server restarting) is resumed here: what was stored stays,
    /// and the pending items are asked for again after a backoff.
    /// </summary>
    private async Task GenerateAllAsync(DatasetPlan plan, int start, int end, DatasetFolder folder, Action onStored, CancellationToken cancellationToken)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                if (plan.IsPacked)
                {
                    await GenerateFilesAsync(plan, start, end, folder, onStored, () => failures = 0, cancellationToken).ConfigureAwait(false);
                    return;
                }

                foreach (var chunk in PendingChunks(plan, start, end, folder))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await GenerateChunkAsync(chunk, async (item, data) =>
                    {
                        await folder.AddAsync(DatasetEntry.For(item, spec), data).ConfigureAwait(false);
                        onStored();
                    }, cancellationToken).ConfigureAwait(false);
                    failures = 0;
                }

                return;
            }
            catch (RpcException e) when (IsReplicaGone(e) && failures < MaxStreamRetries && !cancellationToken.IsCancellationRequested)
            {
                failures++;
                _resumedStreams++;
                await Task.Delay(TimeSpan.FromSeconds(Math.Pow(2, failures - 1)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A failure that asking again (another replica, or the same one back) can get past: UNAVAILABLE, or a stream the
    /// transport dropped, which grpc-dotnet reports as INTERNAL over the HTTP error: "Error starting gRPC call" over an
    /// HttpRequestException (a draining replica's closing connection refused the call; seen in BalancingTests' SIGTERM),
    /// or "Error reading next message" over an HttpProtocolException, an IOException (the replica or a proxy reset the
    /// stream part-way: RST_STREAM). A server's own errors arrive as a status in trailers, never as these. Asking again
    /// is safe: only images not yet stored are asked for, with the same seeds.
    /// </summary>
    private static bool IsReplicaGone(RpcException e) =>
        e.StatusCode == StatusCode.Unavailable || (e.StatusCode == StatusCode.Internal && e.Status.DebugException is HttpRequestException or IOException);

    /// <summary>
    /// webdataset / parquet: makes each file of [start, end) that is not complete, streaming its images into
    /// <c>{file}.partial</c>, then renames it and records its images. A file cut short is deleted and made again.
    /// </summary>
    private async Task GenerateFilesAsync(DatasetPlan plan, int start, int end, DatasetFolder folder, Action onStored, Action onProgress, CancellationToken cancellationToken)
    {
        for (var file = start / Math.Max(1, plan.FileItems(0).End); start < end && file < plan.FileCount; file++)
        {
            var (first, last) = plan.FileItems(file);
            if (first >= end)
            {
                break;
            }

            if (folder.Complete[first])
            {
                continue;
            }

            cancellationToken.ThrowIfCancellationRequested();
            var name = plan.FileName(file);
            var temporary = Path.Combine(root, name + OutputFiles.TemporarySuffix);
            var entries = new List<DatasetEntry>(last - first);
            var completed = false;
            var writer = DatasetPacks.Create(spec.Format, temporary);
            try
            {
                for (var chunkStart = first; chunkStart < last; chunkStart += ImagesPerStream)
                {
                    // Held per chunk and written in index order, so the file's bytes never depend on arrival order.
                    var chunk = Enumerable.Range(chunkStart, Math.Min(ImagesPerStream, last - chunkStart)).Select(i => plan[i]).ToList();
                    var received = new SortedDictionary<int, byte[]>();
                    await GenerateChunkAsync(chunk, (item, data) =>
                    {
                        received[item.Index] = data.ToArray();
                        onStored();
                        return Task.CompletedTask;
                    }, cancellationToken).ConfigureAwait(false);
                    foreach (var (index, data) in received)
                    {
                        var entry = DatasetEntry.For(plan[index], spec);
                        await writer.AddAsync(entry, data).ConfigureAwait(false);
                        entries.Add(entry);
                    }

                    onProgress();
                }

                await writer.CompleteAsync().ConfigureAwait(false);
                await writer.DisposeAsync().ConfigureAwait(false);
                await folder.AddFileAsync(name, entries).ConfigureAwait(false);
                completed = true;
            }
            finally
            {
                if (!completed)
                {
                    await writer.DisposeAsync().ConfigureAwait(false);
                    File.Delete(temporary);
                }
            }
        }
    }

    /// <summary>Streams one chunk and stores every image as it arrives; a partial chunk keeps what it wrote.</summary>
    /// <remarks>
    /// Every format goes through here, so this is where a stream that ends normally before its last image (a faulty
    /// server or proxy) is caught: it is not a complete chunk. What did arrive is stored, so a rerun asks only for the rest.
    /// </remarks>
    private async Task GenerateChunkAsync(IReadOnlyList<DatasetItem> items, Func<DatasetItem, ReadOnlyMemory<byte>, Task> store, CancellationToken cancellationToken)
    {
        var stored = new HashSet<int>(items.Count);
        Task Store(DatasetItem item, ReadOnlyMemory<byte> data)
        {
            stored.Add(item.Index);
            return store(item, data);
        }

        await (spec.Kind switch
        {
            DatasetKind.Text => GenerateFromTextChunkAsync(items, Store, cancellationToken),
            DatasetKind.Image => TranslateChunkAsync(items, Store, cancellationToken),
            _ => GenerateSeedChunkAsync(items, Store, cancellationToken),
        }).ConfigureAwait(false);
        if (stored.Count < items.Count)
        {
            throw new CliException($"the server ended a stream after {stored.Count} of the {items.Count} images it was asked for, without an error; the images that arrived are kept: rerun the same command to resume.", ExitCodes.Failure);
        }
    }

    private async Task GenerateSeedChunkAsync(IReadOnlyList<DatasetItem> items, Func<DatasetItem, ReadOnlyMemory<byte>, Task> store, CancellationToken cancellationToken)
    {
        var request = new GenerateRequest { Model = spec.Model, Format = format };
        if (spec.Truncation is { } truncation)
        {
            request.Truncation = truncation;
        }

        foreach (var item in items)
        {
            request.Seeds.Add(item.Seed!.Value);
            if (item.Label is { } label)
            {
                request.Labels.Add(label);
            }
        }

        await foreach (var image in client.GenerateStreamAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (image.Index >= items.Count)
            {
                throw new CliException($"the server returned image index {image.Index} for a request of {items.Count}.", ExitCodes.Failure);
            }

            var item = items[(int)image.Index];
            if (!image.HasSeed || image.Seed != item.Seed || (item.Label is { } l && (!image.HasLabel || image.Label != l)))
            {
                throw new CliException($"the server returned seed {image.Seed} label {image.Label} for index {image.Index}; expected seed {item.Seed} label {item.Label}.", ExitCodes.Failure);
            }

            await store(item, image.Data.Memory).ConfigureAwait(false);
        }
    }

    /// <summary>One caption per item (count 1, the item's seed), so a chunk may start and end inside a caption's images.</summary>
    private async Task GenerateFromTextChunkAsync(IReadOnlyList<DatasetItem> items, Func<DatasetItem, ReadOnlyMemory<byte>, Task> store, CancellationToken cancellationToken)
    {
        var request = new GenerateFromTextRequest { Model = spec.Model, Format = format, Count = 1 };
        if (spec.Truncation is { } truncation)
        {
            request.Truncation = truncation;
        }

        foreach (var item in items)
        {
            request.Texts.Add(item.Caption);
            request.Seeds.Add(item.Seed!.Value);
        }

        await foreach (var image in client.GenerateFromTextStreamAsync(request, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            if (image.Index >= items.Count)
            {
                throw new CliException($"the server returned image index {image.Index} for a request of {items.Count}.", ExitCodes.Failure);
            }

            var item = items[(int)image.Index];
            if (!image.HasSeed || image.Seed != item.Seed || (image.HasTextIndex && image.TextIndex != image.Index))
            {
                throw new CliException($"the server returned seed {image.Seed} text {image.TextIndex} for index {image.Index}; expected seed {item.Seed} text {image.Index}.", ExitCodes.Failure);
            }

            await store(item, image.Data.Memory).ConfigureAwait(false);
        }
    }

    /// <summary>Sends the chunk's source files over one TranslateStream and stores each answer; answers are matched by index.</summary>
    private async Task TranslateChunkAsync(IReadOnlyList<DatasetItem> items, Func<DatasetItem, ReadOnlyMemory<byte>, Task> store, CancellationToken cancellationToken)
    {
        using var call = client.Stub.TranslateStream(cancellationToken: cancellationToken);
        var sender = SendSourcesAsync(call.RequestStream, items, cancellationToken);
        try
        {
            await foreach (var answer in call.ResponseStream.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (answer.Index >= items.Count)
                {
                    throw new CliException($"the server answered image {answer.Index} for a request of {items.Count}.", ExitCodes.Failure);
                }

                var item = items[(int)answer.Index];
                if (answer.ResultCase != TranslateStreamResponse.ResultOneofCase.Image)
                {
                    throw new CliException($"--in: '{item.Source}' was not translated: {ServerMessages.Rewrite(answer.Error?.Message ?? "no answer")}", ExitCodes.BadInput);
                }

                await store(item, answer.Image.Data.Memory).ConfigureAwait(false);
            }
        }
        catch
        {
            // Stop the sender (it may be blocked on flow control) before its outcome is observed.
            call.Dispose();
            try
            {
                await sender.ConfigureAwait(false);
            }
            catch (Exception e) when (e is RpcException or OperationCanceledException or InvalidOperationException or CliException)
            {
                // The reader's failure is the one reported.
            }

            throw;
        }

        await sender.ConfigureAwait(false);
    }

    private async Task SendSourcesAsync(IClientStreamWriter<TranslateStreamRequest> requests, IReadOnlyList<DatasetItem> items, CancellationToken cancellationToken)
    {
        for (var i = 0; i < items.Count; i++)
        {
            var path = Path.Combine(sourceRoot!, items[i].Source!);
            byte[] data;
            try
            {
                data = await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliException($"--in: cannot read '{path}': {e.Message}");
            }

            var message = new TranslateStreamRequest { Image = new InputImage { Data = UnsafeByteOperations.UnsafeWrap(data), Id = items[i].Source } };
            if (i == 0)
            {
                (message.Model, message.Format) = (spec.Model, format);
            }

            await requests.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }

        await requests.CompleteAsync().ConfigureAwait(false);
    }

    private static IEnumerable<IReadOnlyList<DatasetItem>> PendingChunks(DatasetPlan plan, int start, int end, DatasetFolder folder)
    {
        var chunk = new List<DatasetItem>(ImagesPerStream);
        for (var index = start; index < end; index++)
        {
            if (folder.Complete[index])
            {
                continue;
            }

            chunk.Add(plan[index]);
            if (chunk.Count == ImagesPerStream)
            {
                yield return chunk;
                chunk = new List<DatasetItem>(ImagesPerStream);
            }
        }

        if (chunk.Count > 0)
        {
            yield return chunk;
        }
    }
}
