using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using GanInference.Api.V1;
using GanInference.Tests.Shared;
using GanInference.Tests.TestModels;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace GanInference.Server.Tests;

/// <summary>
/// The real process under load receives SIGTERM: every call is answered (OK, or UNAVAILABLE from the server
/// or from a refused connection), none hangs or is lost, and the process exits cleanly within the drain time.
/// </summary>
public sealed class SigtermTests(Xunit.Abstractions.ITestOutputHelper log)
{
    [Fact]
    public async Task Sigterm_during_load_answers_every_accepted_call_and_the_process_exits_within_the_drain_time()
    {
        Assert.True(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS(), "SIGTERM is a POSIX signal");
        using var models = new TinyGanModels();
        models.AddUnconditional("m", size: 16);
        models.AddConditional("c", size: 8);
        var port = LoopbackPorts.Free();
        using var server = StartServer(models.Root, port);
        var output = new ConcurrentQueue<string>();
        server.OutputDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        server.ErrorDataReceived += (_, e) => output.Enqueue(e.Data ?? string.Empty);
        server.BeginOutputReadLine();
        server.BeginErrorReadLine();
        try
        {
            using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{port}");
            await WaitUntilServingAsync(channel, server, output);
            var client = new Api.V1.GanInference.GanInferenceClient(channel);

            var outcomes = new ConcurrentBag<Outcome>();
            using var stopLoad = new CancellationTokenSource();
            var workers = Enumerable.Range(0, 12).Select(w => Task.Run(() => UnaryLoadAsync(client, w, outcomes, stopLoad.Token))).ToList();
            workers.AddRange(Enumerable.Range(0, 2).Select(w => Task.Run(() => StreamLoadAsync(client, w, outcomes, stopLoad.Token))));
            await Task.Delay(1500);
            var beforeSignal = outcomes.Count(o => o.Kind == OutcomeKind.Ok);

            Assert.Equal(0, Kill(server.Id, "TERM"));
            var signalled = Stopwatch.StartNew();
            Assert.True(await WaitForExitAsync(server, TimeSpan.FromSeconds(25)), "the server did not exit within 25 s of SIGTERM");
            var exitTime = signalled.Elapsed;
            await stopLoad.CancelAsync();
            await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30));

            log.WriteLine($"exit after SIGTERM: {exitTime.TotalSeconds:F2} s, exit code {server.ExitCode}; calls: " +
                string.Join(", ", outcomes.GroupBy(o => o.Kind).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}")));
            var unexpected = outcomes.Where(o => o.Kind == OutcomeKind.Unexpected).Select(o => o.Detail).ToList();
            Assert.True(unexpected.Count == 0, "calls lost or answered wrongly:\n" + string.Join('\n', unexpected.Take(10)) + "\nserver output:\n" + string.Join('\n', output));
            Assert.True(beforeSignal > 0, "no call succeeded before the signal");
            Assert.Contains(outcomes, o => o.Kind == OutcomeKind.RefusedByServer || o.Kind == OutcomeKind.ConnectionRefused);
            Assert.Equal(0, server.ExitCode);
            Assert.True(exitTime < TimeSpan.FromSeconds(20), $"exit took {exitTime}");
            Assert.Contains(output, line => line.Contains("Shutting down", StringComparison.Ordinal));
        }
        finally
        {
            if (!server.HasExited)
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    private static async Task UnaryLoadAsync(Api.V1.GanInference.GanInferenceClient client, int worker, ConcurrentBag<Outcome> outcomes, CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var outcome = await CallAsync(async () =>
            {
                var request = worker % 2 == 0
                    ? new GenerateRequest { Model = "m", Count = 8, Seed = (ulong)i }
                    : new GenerateRequest { Model = "c", Count = 4, Seed = (ulong)i, Labels = { 1 } };
                var response = await client.GenerateAsync(request, deadline: DateTime.UtcNow.AddSeconds(30));
                return response.Images.Count == request.Count ? null : $"{response.Images.Count} of {request.Count} images";
            });
            outcomes.Add(outcome);
            if (outcome.Kind == OutcomeKind.ConnectionRefused)
            {
                return;
            }
        }
    }

    private static async Task StreamLoadAsync(Api.V1.GanInference.GanInferenceClient client, int worker, ConcurrentBag<Outcome> outcomes, CancellationToken stop)
    {
        for (var i = 0; !stop.IsCancellationRequested; i++)
        {
            var outcome = await CallAsync(async () =>
            {
                using var call = client.GenerateStream(new GenerateRequest { Model = "m", Count = 3000, Seed = (ulong)(worker * 100_000 + i), Format = ImageFormat.RawU8 }, deadline: DateTime.UtcNow.AddSeconds(30));
                var received = 0;
                while (await call.ResponseStream.MoveNext(CancellationToken.None))
                {
                    if (call.ResponseStream.Current.Index != received)
                    {
                        return $"image {call.ResponseStream.Current.Index} arrived in place of {received}";
                    }

                    received++;
                }

                return received == 3000 ? null : $"stream ended OK after {received} of 3000 images";
            });
            outcomes.Add(outcome);
            if (outcome.Kind == OutcomeKind.ConnectionRefused)
            {
                return;
            }
        }
    }

    /// <summary>Classifies one call: OK, refused by the draining server, refused connection (never accepted), or anything else.</summary>
    private static async Task<Outcome> CallAsync(Func<Task<string?>> call)
    {
        try
        {
            var problem = await call();
            return problem is null ? new Outcome(OutcomeKind.Ok, "OK") : new Outcome(OutcomeKind.Unexpected, problem);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && ex.Status.Detail.Contains("shutting down", StringComparison.Ordinal))
        {
            return new Outcome(OutcomeKind.RefusedByServer, ex.Status.Detail);
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unavailable && IsConnectionRefused(ex))
        {
            return new Outcome(OutcomeKind.ConnectionRefused, ex.Status.Detail);
        }
        catch (RpcException ex)
        {
            return new Outcome(OutcomeKind.Unexpected, $"{ex.StatusCode}: {ex.Status.Detail} {ex.Status.DebugException?.GetType().Name}: {ex.Status.DebugException?.Message}");
        }
    }

    private static bool IsConnectionRefused(RpcException ex)
    {
        for (var inner = ex.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException { SocketErrorCode: SocketError.ConnectionRefused })
            {
                return true;
            }
        }

        return false;
    }

    private static Process StartServer(string modelsRoot, int port)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "GanInference.Server.dll");
        Assert.True(File.Exists(dll), $"{dll} not found");
        var start = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = modelsRoot,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[]
        {
            dll, "--urls", $"http://127.0.0.1:{port}", $"--Models:Path={modelsRoot}", "--Http:Urls=",
            "--Shutdown:DrainTimeoutSeconds=10", "--Models:Watch=false", "--Inference:IntraOpThreads=1",
            "--Generation:ChunkSize=16", "--Logging:LogLevel:Default=Information",

            // The batch size profile holds the queue while it measures, when the load arrives: keep it short.
            "--Models:Profiling:MillisecondsPerSize=5",
        })
        {
            start.ArgumentList.Add(arg);
        }

        return Process.Start(start) ?? throw new InvalidOperationException("could not start the server");
    }

    private static async Task WaitUntilServingAsync(GrpcChannel channel, Process server, ConcurrentQueue<string> output)
    {
        var health = new Health.HealthClient(channel);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            Assert.False(server.HasExited, "the server exited at start:\n" + string.Join('\n', output));
            try
            {
                if ((await health.CheckAsync(new HealthCheckRequest(), deadline: DateTime.UtcNow.AddSeconds(2))).Status == HealthCheckResponse.Types.ServingStatus.Serving)
                {
                    return;
                }
            }
            catch (RpcException)
            {
                // Not listening yet.
            }

            Assert.True(DateTime.UtcNow < deadline, "the server did not start serving within 30 s:\n" + string.Join('\n', output));
            await Task.Delay(100);
        }
    }

    private static async Task<bool> WaitForExitAsync(Process process, TimeSpan timeout)
    {
        using var timer = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(timer.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Sends a signal the way an orchestrator does, with kill(1).</summary>
    private static int Kill(int pid, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        return kill.ExitCode;
    }

    private enum OutcomeKind
    {
        Ok,
        RefusedByServer,
        ConnectionRefused,
        Unexpected,
    }

    private sealed record Outcome(OutcomeKind Kind, string Detail);
}
