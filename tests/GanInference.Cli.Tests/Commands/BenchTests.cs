using System.Text.Json;
using SkiaSharp;

namespace GanInference.Cli.Tests.Commands;

[Collection(ServerCollection.Name)]
public sealed class BenchTests(ServerFixture server)
{
    [Fact]
    public async Task Closed_loop_report_adds_up_and_reads_the_server_batching()
    {
        using var folder = new TempFolder();
        var json = folder.Combine("bench.json");
        var plot = folder.Combine("bench.png");
        var ceiling = folder.Combine("ceiling.json");
        var ceilingRun = await CliRun.InvokeAsync(
            "bench", "--in-process", "--model-dir", Path.Combine(server.ModelsPath, TinyModels.Conditional), "--batch", "1,4",
            "--warmup", "0.1s", "--duration", "0.3s", "--json", ceiling);
        Assert.True(ceilingRun.ExitCode == 0, ceilingRun.ToString());

        var result = await CliRun.InvokeAsync(
            "bench", "--server", server.Address, "--metrics-url", server.HttpAddress + "/metrics", "--model", TinyModels.Conditional, "--concurrency", "4", "--connections", "2", "--count", "2",
            "--warmup", "0.5s", "--duration", "3s", "--json", json, "--plot", plot, "--ceiling", ceiling);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.Equal(2, root.GetProperty("connections").GetInt32());
        var sent = root.GetProperty("sent").GetInt64();
        var succeeded = root.GetProperty("succeeded").GetInt64();
        Assert.True(sent > 10, $"only {sent} requests in 3 s");
        Assert.Equal(sent, succeeded + root.GetProperty("failed").GetInt64());
        Assert.Equal(succeeded, root.GetProperty("statusCodes").GetProperty("OK").GetInt64());
        Assert.Equal(2 * succeeded, root.GetProperty("images").GetInt64());
        var latency = root.GetProperty("latencyMs");
        var (p50, p99, max) = (latency.GetProperty("p50").GetDouble(), latency.GetProperty("p99").GetDouble(), latency.GetProperty("max").GetDouble());
        Assert.True(latency.GetProperty("min").GetDouble() > 0);
        Assert.True(p50 <= p99 && p99 <= max, $"p50 {p50} p99 {p99} max {max}");
        Assert.Equal(sent, root.GetProperty("latencyHistogram").EnumerateArray().Sum(b => b.GetProperty("count").GetInt64()));
        var rps = root.GetProperty("requestsPerSecond").GetDouble();
        Assert.InRange(rps, sent / root.GetProperty("elapsedSeconds").GetDouble() * 0.999, sent / root.GetProperty("elapsedSeconds").GetDouble() * 1.001);

        // The server's batch-size histogram grew by at least one batch per request it served (2 images each).
        var serverSide = root.GetProperty("serverMetrics");
        Assert.False(serverSide.TryGetProperty("error", out var error), error.ToString());
        var batchSize = serverSide.GetProperty("histograms").EnumerateArray().Single(h => h.GetProperty("name").GetString()!.Contains("batch_size"));
        Assert.True(batchSize.GetProperty("count").GetDouble() >= 1);
        Assert.InRange(batchSize.GetProperty("mean").GetDouble(), 1, 16);
        Assert.Contains(serverSide.GetProperty("histograms").EnumerateArray(), h => h.GetProperty("name").GetString()!.Contains("queue"));

        // The server's .NET runtime during the run, from its /metrics counters: it allocated (at least the reply bytes) and was measured.
        var runtime = serverSide.GetProperty("runtime");
        Assert.True(runtime.GetProperty("allocatedBytesPerImage").GetDouble() > TinyModels.Size * TinyModels.Size, runtime.ToString());
        Assert.True(runtime.GetProperty("gcPauseMs").GetDouble() >= 0, runtime.ToString());
        Assert.True(runtime.GetProperty("workingSetBytes").GetDouble() > 0, runtime.ToString());
        Assert.Contains("Server runtime during the measured phase:", result.Output);

        var ratio = root.GetProperty("ceiling").GetProperty("ratio").GetDouble();
        Assert.True(ratio > 0);
        Assert.Contains("Ratio to ceiling", result.Output);
        Assert.Contains("p99.9", result.Output);

        using var image = SKBitmap.Decode(plot);
        Assert.Equal(1200, image.Width);
    }

    [Fact]
    public async Task The_in_process_ceiling_can_keep_several_runs_in_flight_and_sums_them()
    {
        using var folder = new TempFolder();
        var json = folder.Combine("ceiling.json");

        var result = await CliRun.InvokeAsync(
            "bench", "--in-process", "--model-dir", Path.Combine(server.ModelsPath, TinyModels.Unconditional), "--batch", "1,2",
            "--parallel-runs", "3", "--warmup", "0.1s", "--duration", "0.3s", "--json", json);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("3 runs in flight", result.Output);
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        Assert.Equal(3, report.RootElement.GetProperty("parallelRuns").GetInt32());
        var results = report.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal([1, 2], results.Select(r => r.GetProperty("batch").GetInt32()));

        // Each of the three copies makes at least one timed run per size, and the sums agree with each other.
        Assert.All(results, r => Assert.True(r.GetProperty("runs").GetInt64() >= 3, r.ToString()));
        Assert.All(results, r => Assert.Equal(
            r.GetProperty("runsPerSecond").GetDouble() * r.GetProperty("batch").GetInt32(), r.GetProperty("imagesPerSecond").GetDouble(), 6));

        var refused = await CliRun.InvokeAsync("bench", "--in-process", "--model-dir", Path.Combine(server.ModelsPath, TinyModels.Unconditional), "--parallel-runs", "0");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("--parallel-runs", refused.Output);
    }

    [Fact]
    public async Task Open_loop_sends_on_schedule_and_counts_every_request()
    {
        using var folder = new TempFolder();
        var json = folder.Combine("open.json");

        var result = await CliRun.InvokeAsync(
            "bench", "--server", server.Address, "--model", TinyModels.Unconditional, "--rate", "100", "--format", "raw-u8",
            "--warmup", "0.5s", "--duration", "2s", "--json", json);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.Equal("open", root.GetProperty("mode").GetString());
        // 100 requests/s for 2 s: the schedule fixes the count, whatever the latency.
        Assert.InRange(root.GetProperty("sent").GetInt64(), 198, 201);
        Assert.Equal(root.GetProperty("sent").GetInt64(), root.GetProperty("succeeded").GetInt64() + root.GetProperty("failed").GetInt64());
        Assert.Equal(50, root.GetProperty("warmupRequests").GetInt64());

        // The header says the phases as given (it printed "0s warmup" for half a second).
        Assert.Contains("0.5s warmup, 2s measured", result.Output);
    }

    [Theory]
    [InlineData("gan", "raw-u8", "gan.v1.GanInference/Generate")]
    [InlineData("oip", "raw-u8", "inference.GRPCInferenceService/ModelInfer")]
    [InlineData("oip", "png", "inference.GRPCInferenceService/ModelInfer")]
    [InlineData("rest", "raw-u8", "POST /v2/models/{model}/infer")]
    [InlineData("rest", "png", "POST /v2/models/{model}/infer")]
    public async Task Each_protocol_drives_its_surface_and_counts_the_images(string protocol, string format, string rpc)
    {
        using var folder = new TempFolder();
        var json = folder.Combine("bench.json");
        string[] http = protocol == "rest" ? ["--http", server.HttpAddress] : [];

        var result = await CliRun.InvokeAsync(
            ["bench", "--server", server.Address, "--metrics-url", server.HttpAddress + "/metrics", .. http, "--protocol", protocol,
             "--model", TinyModels.Conditional, "--format", format, "--count", "3", "--concurrency", "4", "--connections", "2",
             "--warmup", "0.3s", "--duration", "1.5s", "--json", json]);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.Equal(protocol, root.GetProperty("protocol").GetString());
        Assert.Equal(rpc, root.GetProperty("rpc").GetString());
        Assert.Equal(protocol == "rest" ? server.HttpAddress : server.Address, root.GetProperty("server").GetString());
        var sent = root.GetProperty("sent").GetInt64();
        var succeeded = root.GetProperty("succeeded").GetInt64();
        Assert.True(sent > 5, $"only {sent} requests in 1.5 s");
        Assert.True(root.GetProperty("failed").GetInt64() == 0, root.GetProperty("errors").ToString());
        Assert.Equal(sent, succeeded);
        Assert.Equal(succeeded, root.GetProperty("statusCodes").GetProperty("OK").GetInt64());
        Assert.Equal(3 * succeeded, root.GetProperty("images").GetInt64());
        Assert.Contains(rpc, result.Output);
    }

    [Theory]
    [InlineData("oip")]
    [InlineData("rest")]
    public async Task Oip_protocols_refuse_jpeg_naming_the_option(string protocol)
    {
        var result = await CliRun.InvokeAsync(
            "bench", "--server", server.Address, "--protocol", protocol, "--model", TinyModels.Conditional, "--format", "jpeg", "--duration", "1s");

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.StartsWith($"--format jpeg: --protocol {protocol} has no such output", result.Error);
    }

    [Fact]
    public async Task Rest_failures_are_counted_by_the_grpc_status_they_stand_for()
    {
        // Nothing listens on port 1: every request fails to connect, counted as UNAVAILABLE as a gRPC call would be.
        using var folder = new TempFolder();
        var json = folder.Combine("bench.json");

        var result = await CliRun.InvokeAsync(
            "bench", "--server", server.Address, "--http", "http://127.0.0.1:1", "--protocol", "rest", "--model", TinyModels.Conditional,
            "--format", "raw-u8", "--concurrency", "2", "--warmup", "0s", "--duration", "0.5s", "--metrics-url", server.HttpAddress + "/metrics", "--json", json);

        Assert.True(result.ExitCode == 0, result.ToString());
        using var report = JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        var sent = root.GetProperty("sent").GetInt64();
        Assert.True(sent > 0);
        Assert.Equal(sent, root.GetProperty("failed").GetInt64());
        Assert.Equal(sent, root.GetProperty("statusCodes").GetProperty("UNAVAILABLE").GetInt64());
        Assert.Contains(root.GetProperty("errors").EnumerateObject(), e => e.Name.Contains("127.0.0.1:1"));
    }

    [Fact]
    public async Task Rate_and_concurrency_together_are_refused()
    {
        var result = await CliRun.InvokeAsync("bench", "--server", server.Address, "--model", TinyModels.Conditional, "--rate", "10", "--concurrency", "4");

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("exclusive", result.Error);
    }

    [Fact]
    public async Task Stream_window_out_of_range_is_refused_naming_the_flag_and_range()
    {
        var result = await CliRun.InvokeAsync("bench", "--server", server.Address, "--model", TinyModels.Conditional, "--stream-window", "1000", "--duration", "1s");

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.Contains("--stream-window must be 65535..16777216 bytes", result.Error);
        Assert.Contains("not 1000", result.Error);
    }

    [Fact]
    public async Task In_process_bench_names_a_bad_model_folder()
    {
        using var folder = new TempFolder();

        var missing = await CliRun.InvokeAsync("bench", "--in-process", "--model-dir", folder.Path);
        await File.WriteAllTextAsync(folder.Combine("gan.json"), "{ \"name\": ");
        var malformed = await CliRun.InvokeAsync("bench", "--in-process", "--model-dir", folder.Path);

        Assert.Equal(ExitCodes.BadInput, missing.ExitCode);
        Assert.StartsWith($"--model-dir '{folder.Path}': gan.json not found", missing.Error);
        Assert.Equal(ExitCodes.BadInput, malformed.ExitCode);
        Assert.StartsWith($"--model-dir '{folder.Path}': gan.json: invalid JSON", malformed.Error);
    }
}
