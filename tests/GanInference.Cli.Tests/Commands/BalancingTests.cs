using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using GanInference.Cli.Dataset;
using GanInference.Client;
using GanInference.Tests.Shared;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// Several real server processes on loopback: `gan bench` and `gan dataset` with `--server` repeated spread their
/// calls round-robin, ride out replicas that crash (SIGKILL) or shut down (SIGTERM), and the per-model queue gauge
/// follows the offered load (issue 14).
/// </summary>
public sealed class BalancingTests : IAsyncLifetime
{
    private static readonly HttpClient Http = new();

    /// <summary>
    /// One image per ONNX Runtime run: a replica then takes about as long to produce a stream as the client takes to store
    /// it, so a replica killed while it serves a call cuts that stream part-way (with full batches it has sent everything
    /// long before the client has written it, and the kill cuts nothing).
    /// </summary>
    private static readonly string[] OneImagePerRun = ["--Models:Batching:MaxBatchSize=1"];

    // Longer than the Prometheus exporter's scrape response cache (ScrapeResponseCacheDurationMilliseconds, 300 ms).
    private static readonly TimeSpan ScrapeCacheExpiry = TimeSpan.FromMilliseconds(400);

    private readonly TempFolder _root = new();

    private string ModelsPath => _root.Combine("models");

    public Task InitializeAsync()
    {
        // Two real models from models/ (the server process waits for two).
        foreach (var name in new[] { "dcgan-mnist", "cdcgan-mnist" })
        {
            var source = Path.Combine(RepositoryRoot(), "models", name);
            var target = Path.Combine(ModelsPath, name);
            Directory.CreateDirectory(target);
            foreach (var file in Directory.GetFiles(source))
            {
                File.Copy(file, Path.Combine(target, Path.GetFileName(file)));
            }
        }

        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        _root.Dispose();
        return Task.CompletedTask;
    }

    [Fact]
    public async Task Bench_over_three_replicas_spreads_the_requests_within_15_percent_of_even()
    {
        // Policy fixed: a replica measuring its batch size profile when the load arrives would hold its queue for part
        // of this short run, and the spread would measure that instead of the balancing.
        await using var replicas = await Replicas.StartAsync(3, ModelsPath, withMetrics: true, "--Models:Batching:Policy=fixed");
        var json = _root.Combine("bench.json");

        var bench = CliRun.InvokeAsync(
            "bench", "--server", replicas[0].Address, "--server", replicas[1].Address, "--server", replicas[2].Address,
            "--metrics-url", replicas[0].HttpAddress + "/metrics", "--model", "dcgan-mnist", "--concurrency", "6", "--format", "raw-u8",
            "--warmup", "0.5s", "--duration", "4s", "--json", json);

        // The spread is measured from the moment every replica has served a call: round-robin picks among the connected
        // replicas, and on a loaded machine the first calls can all go to the one that connected first (CI: 19/12/12 of
        // 43 calls, warm-up included). The replicas are read together, and the window's start is read again once
        // their scrape caches (300 ms, the OpenTelemetry exporter's default) have expired: a cached count can be a
        // third of a second older than another replica's, and each replica serves over a hundred calls a second here.
        async Task<List<double>> ServedAsync() =>
            [.. await Task.WhenAll(replicas.Select(replica => MetricAsync(replica, "gan_inference_request_success_total", "dcgan-mnist")))];

        var first = await ServedAsync();
        while (first.Any(n => n == 0) && !bench.IsCompleted)
        {
            await Task.Delay(20);
            first = await ServedAsync();
        }

        if (!bench.IsCompleted)
        {
            await Task.Delay(ScrapeCacheExpiry);
            first = await ServedAsync();
        }

        var result = await bench;
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(first.All(n => n > 0), $"a replica served nothing during the run: {string.Join(", ", first)}");
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var sent = report.RootElement.GetProperty("sent").GetInt64();
        Assert.Equal(sent, report.RootElement.GetProperty("succeeded").GetInt64());
        Assert.Equal(string.Join(", ", replicas.Select(r => r.Address)), report.RootElement.GetProperty("server").GetString());

        // What each replica served, from its own /metrics (warm-up included, hence at least the measured requests).
        var last = await ServedAsync();
        Assert.True(last.Sum() >= sent, $"replicas served {string.Join(" + ", last)} < {sent} sent");
        var window = last.Zip(first, (end, start) => end - start).ToList();
        var even = window.Average();
        Assert.True(window.Sum() >= 90, $"only {window.Sum()} calls after every replica was connected: too few to judge a 15 % spread");
        Assert.All(window, n => Assert.InRange(n, even * 0.85, even * 1.15));
    }

    [Fact]
    public async Task Dataset_over_three_replicas_finishes_when_one_is_killed_and_one_terminated_byte_identical_to_one_server()
    {
        await using var replicas = await Replicas.StartAsync(3, ModelsPath, withMetrics: true, OneImagePerRun);

        // The reference: one server alone, no failure.
        var reference = _root.Combine("reference");
        var alone = await CliRun.InvokeAsync("dataset", "--server", replicas[2].Address, "--model", "cdcgan-mnist", "--count", "3000", "--out", reference);
        Assert.True(alone.ExitCode == 0, alone.ToString());

        var output = _root.Combine("balanced");
        var manifest = Path.Combine(output, "manifest.jsonl");
        var run = CliRun.InvokeAsync(
            "dataset", "--server", replicas[0].Address, "--server", replicas[1].Address, "--server", replicas[2].Address,
            "--model", "cdcgan-mnist", "--count", "3000", "--out", output);

        // After 600 images, SIGKILL the replica serving the stream while it is part-way through it; after 600 more,
        // SIGTERM the replica serving then (it drains: its call finishes, new calls go elsewhere).
        await WaitForLinesAsync(run, manifest, 600);
        var (killed, atKill) = await FreezeReplicaPartWayThroughAStreamAsync(run, manifest, replicas);
        await killed.KillAsync();
        foreach (var replica in replicas.Where(r => r != killed))
        {
            await replica.ResumeAsync();
        }

        await WaitForLinesAsync(run, manifest, atKill + 600);
        var terminated = await ServingAsync(run, replicas.Where(r => r != killed));
        await terminated.TerminateAsync();
        var atTerminate = CountLines(manifest);
        var result = await run;

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(atKill % DatasetGenerator.ImagesPerStream != 0 && atTerminate < 3000, $"the kill came between two streams ({atKill} images) or the run was complete before the SIGTERM ({atTerminate}): the test proves nothing");
        // The killed replica cut the stream it was serving; the rest of that stream came from another replica.
        // (The console wraps long lines: compare with the line breaks taken out.)
        Assert.True(string.Join(' ', result.Output.Split((char[])['\n', ' '], StringSplitOptions.RemoveEmptyEntries)).Contains("interrupted stream(s) resumed", StringComparison.Ordinal), result.ToString());
        await terminated.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);

        // Every image once, and every file (images and both manifests) byte for byte the single server's.
        var lines = File.ReadAllLines(manifest);
        Assert.Equal(3000, lines.Length);
        Assert.Equal(3000, lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("file").GetString()).Distinct().Count());
        var expected = Snapshot(reference);
        var actual = Snapshot(output);
        Assert.Equal(expected.Keys.Order(), actual.Keys.Order());
        var different = expected.Where(e => actual[e.Key] != e.Value).Select(e => e.Key).ToList();
        Assert.True(different.Count == 0, $"{different.Count} files differ from the single-server run, e.g. {string.Join(", ", different.Take(5))}");
    }

    [Fact]
    public async Task Queue_gauge_rises_with_offered_load_and_returns_to_zero()
    {
        await using var replicas = await Replicas.StartAsync(1, ModelsPath, withMetrics: true);
        var server = replicas[0];

        var light = await GaugeDuringBenchAsync(server, concurrency: 1, count: 1);
        var heavy = await GaugeDuringBenchAsync(server, concurrency: 32, count: 32);

        Assert.True(heavy.Mean > light.Mean && heavy.Max > light.Max, $"light load: mean {light.Mean:F1}, max {light.Max}; heavy load: mean {heavy.Mean:F1}, max {heavy.Max}");
        Assert.True(heavy.Max >= 64, $"32 clients x 32 images queued at most {heavy.Max} images");
        Assert.Equal((0, 0), (light.After, light.InflightAfter));
        Assert.Equal((0, 0), (heavy.After, heavy.InflightAfter));
        Assert.True(await MetricAsync(server, "gan_inference_count_total", "dcgan-mnist") >= await MetricAsync(server, "gan_inference_request_success_total", "dcgan-mnist"));
    }

    /// <summary>
    /// Runs `gan bench` while scraping gan_queue_images every 20 ms: the gauge's mean and max during the run, and once the
    /// server is idle again (or 10 s passed) the queue and in-flight gauges.
    /// </summary>
    private static async Task<(double Mean, double Max, double After, double InflightAfter)> GaugeDuringBenchAsync(ServerProcess server, int concurrency, int count)
    {
        var samples = new List<double>();
        var bench = CliRun.InvokeAsync(
            "bench", "--server", server.Address, "--metrics-url", server.HttpAddress + "/metrics", "--model", "dcgan-mnist",
            "--concurrency", concurrency.ToString(CultureInfo.InvariantCulture), "--count", count.ToString(CultureInfo.InvariantCulture), "--warmup", "0.3s", "--duration", "2s");
        while (!bench.IsCompleted)
        {
            samples.Add(await MetricAsync(server, "gan_queue_images", "dcgan-mnist"));
            await Task.Delay(20);
        }

        var result = await bench;
        Assert.True(result.ExitCode == 0, result.ToString());

        // The bench stops waiting at the end of its measured phase; what it left queued or running ends within seconds.
        async Task<(double Queued, double Inflight)> NowAsync() =>
            (await MetricAsync(server, "gan_queue_images", "dcgan-mnist"), await MetricAsync(server, "gan_requests_inflight", "dcgan-mnist"));
        var after = await NowAsync();
        for (var wait = Stopwatch.StartNew(); after != (0, 0) && wait.Elapsed < TimeSpan.FromSeconds(10); after = await NowAsync())
        {
            await Task.Delay(20);
        }

        return (samples.Average(), samples.Max(), after.Queued, after.Inflight);
    }

    /// <summary>One series of a replica's /metrics for <paramref name="model"/> (0 when the series does not exist yet), summed over its other labels.</summary>
    private static async Task<double> MetricAsync(ServerProcess server, string name, string model)
    {
        var text = await Http.GetStringAsync(server.HttpAddress + "/metrics");
        return text.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains($"model=\"{model}\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Finds the replica serving the run's current stream and leaves it frozen (SIGSTOP) part-way through it: freeze every
    /// replica, wait until the client has stored what had arrived, then let each run alone until the manifest grows again;
    /// the one that makes it grow is frozen again after a few images. The others are left frozen too (the caller resumes them).
    /// </summary>
    private static async Task<ServerProcess> FreezeServingReplicaAsync(Task run, string manifest, IReadOnlyList<ServerProcess> replicas)
    {
        // The likely one first: a replica with a call in flight just before the freeze (the scrape may be a little stale).
        var inflight = new Dictionary<ServerProcess, double>();
        foreach (var replica in replicas)
        {
            inflight[replica] = await MetricAsync(replica, "gan_requests_inflight", "cdcgan-mnist");
        }

        foreach (var replica in replicas)
        {
            await replica.PauseAsync();
        }

        var stored = await SettledLinesAsync(manifest);
        foreach (var replica in replicas.OrderByDescending(r => inflight[r]))
        {
            await replica.ResumeAsync();
            var deadline = DateTime.UtcNow.AddSeconds(5);
            while (CountLines(manifest) == stored && DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                await Task.Delay(2);
            }

            await replica.PauseAsync();
            if (CountLines(manifest) != stored)
            {
                // It served the stream; wait until the client has stored what it sent before the freeze.
                await SettledLinesAsync(manifest);
                return replica;
            }
        }

        throw new InvalidOperationException($"no replica made the run progress past {stored} images.");
    }

    /// <summary>
    /// <see cref="FreezeServingReplicaAsync"/> until the replica it leaves frozen is part-way through a stream: on a loaded
    /// machine the one that made the run progress may have sent the last image of its stream, and the next call then
    /// waits on another frozen replica, so killing the one found would cut nothing (seen in CI: 1,024 images, 4 streams).
    /// Then everyone runs again for a few images and the freeze is tried once more. Returns the replica and the images stored.
    /// </summary>
    private static async Task<(ServerProcess Replica, int Stored)> FreezeReplicaPartWayThroughAStreamAsync(Task run, string manifest, IReadOnlyList<ServerProcess> replicas)
    {
        for (var attempt = 1; ; attempt++)
        {
            var replica = await FreezeServingReplicaAsync(run, manifest, replicas);
            var stored = CountLines(manifest);
            if (stored % DatasetGenerator.ImagesPerStream != 0 || attempt == 5 || run.IsCompleted)
            {
                return (replica, stored);
            }

            foreach (var other in replicas)
            {
                await other.ResumeAsync();
            }

            await WaitForLinesAsync(run, manifest, stored + 40);
        }
    }

    /// <summary>The manifest's line count once it has not changed for 800 ms (the client has stored all that arrived).</summary>
    private static async Task<int> SettledLinesAsync(string manifest)
    {
        var lines = CountLines(manifest);
        for (var stable = Stopwatch.StartNew(); stable.Elapsed < TimeSpan.FromMilliseconds(800); await Task.Delay(20))
        {
            var now = CountLines(manifest);
            if (now != lines)
            {
                (lines, stable) = (now, Stopwatch.StartNew());
            }
        }

        return lines;
    }

    /// <summary>The replica with a call of the run in flight (polled until one has, while the run lasts).</summary>
    private static async Task<ServerProcess> ServingAsync(Task run, IEnumerable<ServerProcess> replicas)
    {
        while (!run.IsCompleted)
        {
            foreach (var replica in replicas)
            {
                if (await MetricAsync(replica, "gan_requests_inflight", "cdcgan-mnist") > 0)
                {
                    return replica;
                }
            }
        }

        throw new InvalidOperationException("the run ended before a replica could be found serving it.");
    }

    private static async Task WaitForLinesAsync(Task run, string file, int lines)
    {
        while (!run.IsCompleted && (!File.Exists(file) || CountLines(file) < lines))
        {
            await Task.Delay(5);
        }
    }

    private static int CountLines(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var count = 0;
        int b;
        while ((b = stream.ReadByte()) >= 0)
        {
            count += b == '\n' ? 1 : 0;
        }

        return count;
    }

    private static Dictionary<string, string> Snapshot(string root) =>
        Directory.GetFiles(root, "*", SearchOption.AllDirectories).ToDictionary(
            f => Path.GetRelativePath(root, f),
            f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "GanInference.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no GanInference.sln above {AppContext.BaseDirectory}.");
    }

    /// <summary>Server processes started together; disposing kills what is left of them.</summary>
    private sealed class Replicas(ServerProcess[] servers) : IAsyncDisposable, IReadOnlyList<ServerProcess>
    {
        public int Count => servers.Length;

        public ServerProcess this[int index] => servers[index];

        public static async Task<Replicas> StartAsync(int count, string modelsPath, bool withMetrics, params string[] settings)
        {
            // Short drain settings: a SIGTERMed replica refuses new calls (UNAVAILABLE) at once and exits when its running calls end.
            var starts = Enumerable.Range(0, count).Select(_ => ServerProcess.StartAsync(
                LoopbackPorts.Free(), modelsPath, withMetrics ? LoopbackPorts.Free() : null,
                ["--Models:Watch=false", "--Shutdown:NotServingDelaySeconds=0.5", "--Shutdown:DrainTimeoutSeconds=10", .. settings])).ToArray();
            try
            {
                return new Replicas(await Task.WhenAll(starts));
            }
            catch
            {
                foreach (var start in starts.Where(s => s.IsCompletedSuccessfully))
                {
                    await start.Result.DisposeAsync();
                }

                throw;
            }
        }

        public IEnumerator<ServerProcess> GetEnumerator() => ((IEnumerable<ServerProcess>)servers).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => servers.GetEnumerator();

        public async ValueTask DisposeAsync()
        {
            foreach (var server in servers)
            {
                await server.DisposeAsync();
            }
        }
    }
}
