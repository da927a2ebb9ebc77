using GanInference.Api.V1;
using GanInference.Cli.Dataset;
using GanInference.Cli.Imaging;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// Shards started at the same moment in one new --out: the first to find no <c>dataset.json</c> writes it and goes
/// on to create its folders and manifest while the others are still deciding whether the folder is theirs. None of
/// that may look like "a folder holding unrelated files" (CI saw it once in `DatasetFormatTests`, three shards).
/// </summary>
public sealed class DatasetShardStartRaceTests
{
    [Fact]
    public void Shards_opening_one_new_folder_at_the_same_moment_all_start()
    {
        var spec = new DatasetSpec { Model = "tiny", ContentHash = "sha256:00", Count = 40, Seed = 1, Format = "png", Classes = ["0", "1", "2", "3"] };
        var plan = new DatasetPlan(spec, OutputFiles.Extension(ImageFormat.Png));
        const int shards = 4;
        var failures = new List<string>();
        for (var attempt = 0; attempt < 300; attempt++)
        {
            using var folder = new TempFolder();
            using var start = new Barrier(shards);
            var threads = Enumerable.Range(0, shards).Select(index => new Thread(() =>
            {
                start.SignalAndWait();
                try
                {
                    DatasetFolder.Open(folder.Path, spec, plan, new DatasetShard(index, shards)).Dispose();
                }
                catch (CliException e)
                {
                    lock (failures)
                    {
                        failures.Add($"attempt {attempt}, shard {index}: {e.Message}");
                    }
                }
            })).ToList();
            threads.ForEach(t => t.Start());
            threads.ForEach(t => t.Join());
        }

        Assert.Empty(failures);
    }
}
