using System.Diagnostics;
using System.Text.Json.Nodes;
using GanInference.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests.Commands;

/// <summary>
/// `gan` as a real process receiving real signals: the first Ctrl-C stops a benchmark and waits for its requests in
/// flight, a second abandons them and still prints the partial report (issue 18, item 15).
/// </summary>
public sealed class InterruptTests : IAsyncLifetime
{
    private const string SlowModel = TinyModels.Unconditional;
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gan-cli-interrupt-" + Guid.NewGuid().ToString("N"));
    private InProcessGanServer? _server;
    private string _address = string.Empty;

    public async Task InitializeAsync()
    {
        // Requests of a lone client wait the whole 10 s queue delay for a batch that never fills (policy fixed: the
        // measured policy could cap the batch at what the request already fills).
        var models = Path.Combine(_root, "models");
        TinyModels.WriteRepository(models);
        var manifestPath = Path.Combine(models, SlowModel, "gan.json");
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!;
        manifest["batching"] = new JsonObject { ["maxBatchSize"] = 16, ["maxQueueDelayMs"] = 10_000, ["maxQueueSize"] = 64, ["policy"] = "fixed" };
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());
        _server = await InProcessGanServer.StartAsync(models);
        _address = _server.Address;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task A_second_ctrl_c_abandons_the_requests_in_flight_and_prints_the_partial_report()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            ArgumentList =
            {
                GanDll(), "bench", "--server", _address, "--model", SlowModel,
                "--concurrency", "2", "--duration", "1s", "--warmup", "0s", "--timeout", "2m",
            },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(start)!;
        var output = new System.Text.StringBuilder();
        var started = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) =>
        {
            lock (output)
            {
                output.AppendLine(e.Data);
            }

            if (e.Data?.StartsWith("warming up", StringComparison.Ordinal) == true)
            {
                started.TrySetResult();
            }
        };
        var error = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) =>
        {
            lock (error)
            {
                error.AppendLine(e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        if (await Task.WhenAny(started.Task, process.WaitForExitAsync(), Task.Delay(TimeSpan.FromSeconds(60))) != started.Task)
        {
            Assert.Fail($"gan bench did not start measuring: stdout:\n{output}\nstderr:\n{error}");
        }

        await Task.Delay(TimeSpan.FromSeconds(2)); // the 1 s measured phase is over; its 2 requests wait in the queue
        var interruptedAt = Stopwatch.StartNew();
        await SignalAsync(process.Id);
        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.False(process.HasExited, "the first Ctrl-C waits for the requests in flight");
        await SignalAsync(process.Id);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        var report = $"stdout:\n{output}\nstderr:\n{error}";
        Assert.True(process.ExitCode == ExitCodes.Interrupted, report);
        Assert.True(interruptedAt.Elapsed < TimeSpan.FromSeconds(6), $"took {interruptedAt.Elapsed} after the first Ctrl-C: the queued requests were awaited\n{report}");
        Assert.Contains("Cancelled", output.ToString());
        Assert.Contains("2 requests in flight were abandoned by the second interrupt", error.ToString());
    }

    /// <summary>The CLI's own build output (the copy next to the tests runs with the test host's dependencies).</summary>
    private static string GanDll()
    {
        // tests/GanInference.Cli.Tests/bin/<configuration>/<framework>/
        var framework = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var configuration = framework.Parent!;
        var repository = configuration.Parent!.Parent!.Parent!.Parent!.FullName;
        var path = Path.Combine(repository, "src", "GanInference.Cli", "bin", configuration.Name, framework.Name, "gan.dll");
        Assert.True(File.Exists(path), $"{path} is missing (the test project builds it)");
        return path;
    }

    private static async Task SignalAsync(int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill") { ArgumentList = { "-INT", pid.ToString(System.Globalization.CultureInfo.InvariantCulture) } })!;
        await kill.WaitForExitAsync();
    }
}
