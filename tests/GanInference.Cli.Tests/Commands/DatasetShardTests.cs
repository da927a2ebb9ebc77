using System.Diagnostics;
using System.Security.Cryptography;
using GanInference.Tests.Shared;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// `gan dataset --shard-index/--shard-count` and `gan dataset merge`: shards written in parallel against several
/// server processes, a shard killed and rerun, and every bad value refused with its option or variable named.
/// </summary>
[Collection(ServerCollection.Name)]
public sealed class DatasetShardTests(ServerFixture server)
{
    [Fact]
    public async Task Four_shards_in_parallel_against_two_replicas_merge_into_the_unsharded_dataset_byte_for_byte()
    {
        using var folder = new TempFolder();
        var reference = folder.Combine("reference");
        var sharded = folder.Combine("sharded");
        var replicas = await Task.WhenAll(
            ServerProcess.StartAsync(LoopbackPorts.Free(), server.ModelsPath), ServerProcess.StartAsync(LoopbackPorts.Free(), server.ModelsPath));
        await using var replicaA = replicas[0];
        await using var replicaB = replicas[1];
        string[] Args(string address, string output) =>
            ["dataset", "--server", address, "--model", TinyModels.Conditional, "--per-class", "30", "--seed", "500", "--out", output];

        var whole = await CliRun.InvokeAsync(Args(server.Address, reference));
        Assert.True(whole.ExitCode == 0, whole.ToString());

        // Shards 0 and 2 on one replica, 1 and 3 on the other, all four at once into one folder.
        var shards = await Task.WhenAll(Enumerable.Range(0, 4).Select(i => Task.Run(() => CliRun.InvokeAsync(
            [.. Args(i % 2 == 0 ? replicaA.Address : replicaB.Address, sharded), "--shard-index", i.ToString(), "--shard-count", "4"]))));

        for (var i = 0; i < 4; i++)
        {
            Assert.True(shards[i].ExitCode == 0, shards[i].ToString());
            Assert.Contains($"shard {i} of 4: 75 images (indices {i * 75}..{i * 75 + 74} of 300)", shards[i].Output);
            Assert.Equal(75, File.ReadAllLines(Path.Combine(sharded, $"manifest-0000{i}-of-00004.jsonl")).Length);
        }

        Assert.False(File.Exists(Path.Combine(sharded, "manifest.jsonl")), "shards write only their own manifests");

        var merged = await CliRun.InvokeAsync("dataset", "merge", "--out", sharded);

        Assert.True(merged.ExitCode == 0, merged.ToString());
        Assert.Contains($"merged 4 shard manifests: 300 of 300 images in '{sharded}', each once", merged.Output);
        var expected = Snapshot(reference);
        Assert.Equal(300 + 3, expected.Count);
        Assert.Equal(expected, Snapshot(sharded));
    }

    [Fact]
    public async Task A_shard_killed_mid_run_resumes_without_changing_what_it_wrote_and_the_merge_equals_one_run()
    {
        using var folder = new TempFolder();
        var reference = folder.Combine("reference");
        var sharded = folder.Combine("sharded");
        string[] args = ["dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--per-class", "100", "--out"];
        var whole = await CliRun.InvokeAsync([.. args, reference]);
        Assert.True(whole.ExitCode == 0, whole.ToString());

        // Shard 1 of 2 as a process of its own, killed (SIGKILL) once it has written some images.
        var manifest = Path.Combine(sharded, "manifest-00001-of-00002.jsonl");
        var log = new System.Text.StringBuilder();
        using (var process = StartCli([.. args, sharded, "--shard-index", "1", "--shard-count", "2"], log))
        {
            while (!process.HasExited && CountLines(manifest) < 30)
            {
                await Task.Delay(1);
            }

            Assert.False(process.HasExited, $"gan ended before it was killed: {log}");
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }

        var written = Snapshot(sharded).Where(f => f.Key.EndsWith(".png", StringComparison.Ordinal)).ToDictionary();
        Assert.InRange(CountLines(manifest), 30, 499);

        var resumed = await CliRun.InvokeAsync([.. args, sharded, "--shard-index", "1", "--shard-count", "2"]);

        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Matches(@"shard 1 of 2: 500 images \(indices 500\.\.999 of 1000\) .* \(\d+ generated at [0-9.]+ images/s, \d+ already complete\)", resumed.Output);
        var after = Snapshot(sharded);
        Assert.All(written, file => Assert.Equal(file.Value, after[file.Key]));
        Assert.DoesNotContain(after.Keys, f => f.EndsWith(".partial", StringComparison.Ordinal));

        // Merging now names the missing shard; after it runs, the merge equals the unsharded run.
        var early = await CliRun.InvokeAsync("dataset", "merge", "--out", sharded);
        Assert.Equal(ExitCodes.Failure, early.ExitCode);
        Assert.Contains("is incomplete: 500 of 1000 images are missing (0/00000000.png, 0/00000001.png,", early.Error);
        Assert.Contains("in --shard-index 0 of --shard-count 2", early.Error);
        Assert.False(File.Exists(Path.Combine(sharded, "manifest.jsonl")));

        var other = await CliRun.InvokeAsync([.. args, sharded, "--shard-index", "0", "--shard-count", "2"]);
        Assert.True(other.ExitCode == 0, other.ToString());
        var merged = await CliRun.InvokeAsync("dataset", "merge", "--out", sharded);
        Assert.True(merged.ExitCode == 0, merged.ToString());
        Assert.Equal(Snapshot(reference), Snapshot(sharded));

        // A shard rerun after the merge finds its images in the merged manifest and generates nothing.
        var again = await CliRun.InvokeAsync([.. args, sharded, "--shard-index", "0", "--shard-count", "2"]);
        Assert.True(again.ExitCode == 0, again.ToString());
        Assert.Contains("(0 generated", again.Output);
    }

    [Fact]
    public async Task Merge_refuses_conflicting_stray_and_half_written_files_and_an_unsharded_run_refuses_a_sharded_folder()
    {
        using var folder = new TempFolder();
        var output = folder.Combine("data");
        string[] args = ["dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--count", "20", "--out", output];
        foreach (var index in new[] { "0", "1" })
        {
            var shard = await CliRun.InvokeAsync([.. args, "--shard-index", index, "--shard-count", "2"]);
            Assert.True(shard.ExitCode == 0, shard.ToString());
        }

        var whole = await CliRun.InvokeAsync(args);
        Assert.Equal(ExitCodes.BadInput, whole.ExitCode);
        Assert.Contains("holds the manifests of a sharded run (manifest-00000-of-00002.jsonl, ...): run `gan dataset merge --out", whole.Error);

        var partial = Path.Combine(output, "3", "00000003.png.partial");
        await File.WriteAllBytesAsync(partial, [1]);
        var halfWritten = await CliRun.InvokeAsync("dataset", "merge", "--out", output);
        Assert.Equal(ExitCodes.Failure, halfWritten.ExitCode);
        Assert.Contains("1 image(s) are still being written or were cut short (3/00000003.png.partial)", halfWritten.Error);
        File.Delete(partial);

        var stray = Path.Combine(output, "3", "extra.png");
        await File.WriteAllBytesAsync(stray, [1]);
        var withStray = await CliRun.InvokeAsync("dataset", "merge", "--out", output);
        Assert.Equal(ExitCodes.Failure, withStray.ExitCode);
        Assert.Contains("1 file(s) are not part of this dataset's plan (3/extra.png)", withStray.Error);
        File.Delete(stray);

        var notADataset = await CliRun.InvokeAsync("dataset", "merge", "--out", folder.Path);
        Assert.Equal(ExitCodes.BadInput, notADataset.ExitCode);
        Assert.Contains("holds no dataset.json", notADataset.Error);

        var merged = await CliRun.InvokeAsync("dataset", "merge", "--out", output);
        Assert.True(merged.ExitCode == 0, merged.ToString());
        Assert.Equal(20, File.ReadAllLines(Path.Combine(output, "manifest.jsonl")).Length);
        Assert.Empty(Directory.GetFiles(output, "manifest-*"));
    }

    [Fact]
    public async Task A_shard_starts_in_a_folder_where_another_shard_is_just_proving_it_writable_and_writing_the_spec()
    {
        // What a second shard started at the same moment can see in the new --out: the first one's write probe and
        // its dataset.json under a temporary name. Neither makes the folder "not empty" (failed before the fix).
        using var folder = new TempFolder();
        await File.WriteAllBytesAsync(folder.Combine(".gan-write-probe-12345-0123456789abcdef"), []);
        await File.WriteAllTextAsync(folder.Combine("dataset.json.12345.0123456789abcdef.partial"), "{");

        var result = await CliRun.InvokeAsync(
            "dataset", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "4", "--shard-index", "1", "--shard-count", "2", "--out", folder.Path);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("shard 1 of 2: 2 images (indices 2..3 of 4)", result.Output);
    }

    [Theory]
    [InlineData("--shard-index 4 --shard-count 4", null, null, "--shard-index 4: a shard index is 0..3 for --shard-count 4.")]
    [InlineData("--shard-index -1 --shard-count 4", null, null, "--shard-index -1: a shard index is 0..3 for --shard-count 4.")]
    [InlineData("--shard-index 0 --shard-count 0", null, null, "--shard-count 0: the number of shards must be 1..99999.")]
    [InlineData("--shard-index 0 --shard-count 100000", null, null, "--shard-count 100000: the number of shards must be 1..99999.")]
    [InlineData("--shard-index 1", null, null, "--shard-index 1 needs the number of shards: give --shard-count N (or set JOB_COMPLETIONS).")]
    [InlineData("--shard-count 3", null, null, "--shard-count 3 needs this run's shard: give --shard-index I (0..2, or set JOB_COMPLETION_INDEX).")]
    [InlineData("", "5", "4", "JOB_COMPLETION_INDEX=5: a shard index is 0..3 for JOB_COMPLETIONS=4.")]
    [InlineData("", "x1", "4", "JOB_COMPLETION_INDEX='x1' is not a whole number ≥ 0 (it is the default of --shard-index; unset it or give the option).")]
    [InlineData("--shard-count 2", "2", "4", "JOB_COMPLETION_INDEX=2: a shard index is 0..1 for --shard-count 2.")]
    [InlineData("--shard-index 0 --shard-count 60", null, null, "--shard-count 60 is more than the 50 images of this dataset: some shards would be empty; use at most 50 shards.")]
    public async Task Bad_shard_values_are_refused_naming_the_option_or_variable_and_the_limit(string options, string? index, string? count, string message)
    {
        using var folder = new TempFolder();
        var environment = new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = index, ["JOB_COMPLETIONS"] = count };

        var result = await CliRun.InvokeAsync(
            environment,
            ["dataset", "--server", server.Address, "--model", TinyModels.Conditional, "--per-class", "5", "--out", folder.Combine("data"),
             .. options.Split(' ', StringSplitOptions.RemoveEmptyEntries)]);

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Equal(message, result.Error.Trim());
        Assert.False(Directory.Exists(folder.Combine("data")));
    }

    [Fact]
    public async Task The_Indexed_Jobs_environment_picks_the_shard_when_the_options_are_absent()
    {
        using var folder = new TempFolder();
        var environment = new Dictionary<string, string?> { ["JOB_COMPLETION_INDEX"] = "2", ["JOB_COMPLETIONS"] = "3" };

        var result = await CliRun.InvokeAsync(
            environment, ["dataset", "--server", server.Address, "--model", TinyModels.Unconditional, "--count", "10", "--out", folder.Path]);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("shard 2 of 3: 4 images (indices 6..9 of 10)", result.Output);
        Assert.Equal(
            ["unlabeled/00000006.png", "unlabeled/00000007.png", "unlabeled/00000008.png", "unlabeled/00000009.png"],
            Directory.GetFiles(Path.Combine(folder.Path, "unlabeled")).Select(f => "unlabeled/" + Path.GetFileName(f)).Order());
    }

    /// <summary>
    /// The `gan` CLI as a process of its own, so it can be killed: its own build output (the copy of gan.dll next to the
    /// tests carries a deps.json for older package versions than the test folder holds).
    /// </summary>
    private static Process StartCli(string[] args, System.Text.StringBuilder log)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var separator = Path.DirectorySeparatorChar;
        var cli = Path.Combine(
            AppContext.BaseDirectory.Replace($"{separator}tests{separator}GanInference.Cli.Tests{separator}", $"{separator}src{separator}GanInference.Cli{separator}", StringComparison.Ordinal),
            "gan.dll");
        Assert.True(File.Exists(cli), $"the CLI's build output {cli} is missing");
        start.ArgumentList.Add(cli);
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start gan.");
        process.OutputDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (log) { log.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    internal static int CountLines(string path)
    {
        if (!File.Exists(path))
        {
            return 0;
        }

        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        var count = 0;
        while (reader.ReadLine() is not null)
        {
            count++;
        }

        return count;
    }

    internal static Dictionary<string, string> Snapshot(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(root, f),
            f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
}
