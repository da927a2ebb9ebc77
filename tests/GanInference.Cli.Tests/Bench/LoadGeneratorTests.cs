using GanInference.Cli.Bench;
using Grpc.Core;

namespace GanInference.Cli.Tests.Bench;

/// <summary>The load loops on their own, with a send function whose timing the test controls.</summary>
public sealed class LoadGeneratorTests
{
    [Fact]
    public async Task Open_loop_charges_a_stall_to_every_request_scheduled_during_it()
    {
        // 100 requests/s, one in flight at a time; the 20th request stalls 300 ms. A closed-loop or
        // send-time measurement would record one slow request; from intended send times, the ~30
        // requests due during the stall all wait, so the p90 must reflect it.
        var calls = 0;
        async Task<int> Send(CancellationToken cancellationToken)
        {
            var call = Interlocked.Increment(ref calls);
            await Task.Delay(call == 20 ? 300 : 1, cancellationToken);
            return 1;
        }

        var generator = new LoadGenerator(Send, new LoadSettings(TimeSpan.FromSeconds(1), TimeSpan.Zero, 1, 100, MaxInFlight: 1));
        var result = await generator.RunAsync(null, CancellationToken.None);

        var latencies = result.Recorder.Samples().Select(s => s.LatencyMicroseconds / 1000.0).Order().ToArray();
        Assert.InRange(result.Recorder.Sent, 99, 101);
        Assert.Equal(result.Recorder.Sent, latencies.Length);
        Assert.True(latencies.Count(l => l >= 100) >= 15, $"only {latencies.Count(l => l >= 100)} requests show the stall");
        Assert.True(result.Recorder.Latencies.GetValueAtPercentile(90) >= 100_000);
    }

    [Fact]
    public async Task Closed_loop_counts_failures_by_status_and_stops_on_cancellation()
    {
        var calls = 0;
        async Task<int> Send(CancellationToken cancellationToken)
        {
            await Task.Delay(2, cancellationToken);
            if (Interlocked.Increment(ref calls) % 4 == 0)
            {
                throw new RpcException(new Status(StatusCode.ResourceExhausted, "queue full"));
            }

            return 3;
        }

        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(400));
        var generator = new LoadGenerator(Send, new LoadSettings(TimeSpan.FromSeconds(30), TimeSpan.Zero, 4, null, 1));
        var result = await generator.RunAsync(null, cancellation.Token);

        Assert.True(result.Interrupted);
        Assert.InRange(result.Elapsed.TotalSeconds, 0.3, 5);
        var recorder = result.Recorder;
        var ok = recorder.StatusCounts[StatusCode.OK];
        var exhausted = recorder.StatusCounts[StatusCode.ResourceExhausted];
        Assert.Equal(recorder.Sent, ok + exhausted);
        Assert.Equal(3 * ok, recorder.Images);
        Assert.InRange(exhausted, (recorder.Sent / 4) - 4, (recorder.Sent / 4) + 4);
        Assert.Equal(exhausted, recorder.Errors["ResourceExhausted: queue full"]);
    }

    [Fact]
    public async Task A_second_interrupt_abandons_requests_in_flight_and_still_reports()
    {
        // Replies never come: the first interrupt stops sending and waits for them, the second abandons them.
        static async Task<int> Send(CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return 1;
        }

        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        using var abandon = new CancellationTokenSource(TimeSpan.FromMilliseconds(600));
        var generator = new LoadGenerator(Send, new LoadSettings(TimeSpan.FromSeconds(30), TimeSpan.Zero, 4, null, 1), abandon.Token);
        var result = await generator.RunAsync(null, stop.Token).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.True(result.Interrupted);
        Assert.Equal(4, result.Recorder.Sent);
        Assert.Equal(4, result.Recorder.StatusCounts[StatusCode.Cancelled]);
        Assert.Equal(4, result.Recorder.Errors[$"Cancelled: {LoadGenerator.AbandonedMessage}"]);
    }
}
