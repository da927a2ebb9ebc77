using System.Diagnostics;
using GanInference.Api.V1;
using GanInference.Cli.Imaging;
using GanInference.Client;
using Grpc.Core;
using Spectre.Console;

namespace GanInference.Cli.Dataset;

/// <summary>
/// Fills a dataset folder: opens (or resumes) it, streams the images it still lacks from the server in
/// requests of <see cref="ImagesPerStream"/>, stores each as it arrives, and checks at the end that the
/// model's weights did not change under the run.
/// </summary>
internal sealed class DatasetGenerator(GanClient client, DatasetSpec spec, ImageFormat format, string root)
{
    /// <summary>Images per GenerateStream call: large enough to keep the server's batches full, small enough that a failed stream redoes little.</summary>
    private const int ImagesPerStream = 256;

    /// <summary>Consecutive UNAVAILABLE failures of a stream tolerated (backoff 1 s, 2 s, 4 s) before giving up.</summary>
    private const int MaxStreamRetries = 3;

    /// <summary>Streams cut by UNAVAILABLE whose remaining images were asked for again (with several servers, from another one).</summary>
    private int _resumedStreams;

    public async Task<int> RunAsync(IAnsiConsole console, CancellationToken cancellationToken)
    {
        var plan = new DatasetPlan(spec, OutputFiles.Extension(format));
        using var folder = DatasetFolder.Open(root, spec, plan);
        var resumed = folder.CompleteCount;
        var stopwatch = Stopwatch.StartNew();
        try
        {
            await console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ImagesPerSecondColumn(), new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask(Markup.Escape(spec.Model), maxValue: plan.Total);
                    task.Value = resumed;
                    await GenerateAllAsync(plan, folder, () => task.Increment(1), cancellationToken).ConfigureAwait(false);
                }).ConfigureAwait(false);
        }
        catch (Exception e) when (cancellationToken.IsCancellationRequested && e is OperationCanceledException or RpcException { StatusCode: StatusCode.Cancelled })
        {
            throw new CliException(
                $"interrupted: {folder.CompleteCount} of {plan.Total} images are complete in '{root}'; run the same command again to resume.",
                ExitCodes.Interrupted);
        }

        // The weights must not have changed under the run, or the manifest's hash would lie.
        var after = await client.GetModelAsync(spec.Model, cancellationToken).ConfigureAwait(false);
        if (after.ContentHash != spec.ContentHash)
        {
            throw new CliException($"model '{spec.Model}' changed from {spec.ContentHash} to {after.ContentHash} during the run; the dataset in '{root}' is from the old weights.", ExitCodes.Failure);
        }

        var made = folder.CompleteCount - resumed;
        var rate = made / Math.Max(stopwatch.Elapsed.TotalSeconds, 1e-9);
        console.WriteLine(
            $"{folder.CompleteCount} images in '{root}' ({made} generated at {rate:F1} images/s, {resumed} already complete); manifests {DatasetFolder.CsvName} and {DatasetFolder.JsonlName}"
            + (_resumedStreams > 0 ? $"; {_resumedStreams} interrupted stream(s) resumed (UNAVAILABLE: nothing written twice)" : string.Empty));
        return ExitCodes.Success;
    }

    /// <summary>
    /// Generates every pending item. gRPC's retry policy cannot retry a stream that has already delivered
    /// images, so a stream cut by UNAVAILABLE (server restarting) is resumed here: what was stored stays,
    /// and the pending items are asked for again after a backoff.
    /// </summary>
    private async Task GenerateAllAsync(DatasetPlan plan, DatasetFolder folder, Action onStored, CancellationToken cancellationToken)
    {
        var failures = 0;
        while (true)
        {
            try
            {
                foreach (var chunk in PendingChunks(plan, folder))
                {
                    cancellationToken.ThrowIfCancellationRequested();
                    await GenerateChunkAsync(folder, chunk, onStored, cancellationToken).ConfigureAwait(false);
                    failures = 0;
                }

                return;
            }
            catch (RpcException e) when (e.StatusCode == StatusCode.Unavailable && failures < MaxStreamRetries && !cancellationToken.IsCancellationRequested)
            {
                failures++;
                _resumedStreams++;
                await Task.Delay(TimeSpan.FromSeconds(Math.Pow(2, failures - 1)), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Streams one chunk and stores every image as it arrives; a partial chunk keeps what it wrote.</summary>
    private async Task GenerateChunkAsync(DatasetFolder folder, IReadOnlyList<DatasetItem> items, Action onStored, CancellationToken cancellationToken)
    {
        var request = new GenerateRequest { Model = spec.Model, Format = format };
        if (spec.Truncation is { } truncation)
        {
            request.Truncation = truncation;
        }

        foreach (var item in items)
        {
            request.Seeds.Add(item.Seed);
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

            await folder.AddAsync(new DatasetEntry(item.File, item.Index, item.Seed, item.Label, item.ClassName, spec.Model, spec.ContentHash), image.Data.Memory).ConfigureAwait(false);
            onStored();
        }
    }

    private static IEnumerable<IReadOnlyList<DatasetItem>> PendingChunks(DatasetPlan plan, DatasetFolder folder)
    {
        var chunk = new List<DatasetItem>(ImagesPerStream);
        for (var index = 0; index < plan.Total; index++)
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
