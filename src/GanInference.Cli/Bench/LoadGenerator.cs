using System.Diagnostics;
using Grpc.Core;

namespace GanInference.Cli.Bench;

/// <param name="Duration">Length of the measured phase (send times inside it are measured).</param>
/// <param name="Warmup">Load applied before the measured phase, not recorded.</param>
/// <param name="Concurrency">Closed loop: requests kept in flight.</param>
/// <param name="Rate">Open loop: requests per second on a fixed schedule; null for a closed loop.</param>
/// <param name="MaxInFlight">Open loop: cap on outstanding requests, so a stalled server cannot exhaust the client; waiting for a slot still counts against latency.</param>
internal sealed record LoadSettings(TimeSpan Duration, TimeSpan Warmup, int Concurrency, double? Rate, int MaxInFlight);

/// <param name="Recorder">Outcomes of the measured requests.</param>
/// <param name="Elapsed">From the start of the measured phase until its last request finished.</param>
/// <param name="WarmupRequests">Requests sent during warmup (not measured).</param>
/// <param name="Interrupted">The run was stopped early (Ctrl-C); the figures cover what was measured until then.</param>
internal sealed record LoadResult(LatencyRecorder Recorder, TimeSpan Elapsed, long WarmupRequests, bool Interrupted);

/// <summary>
/// Drives requests in a closed loop (each of C workers sends its next request when the last one returns)
/// or an open loop (request k is due at start + k/R whatever happened before). In the open loop latency
/// is measured from the request's intended send time, so a server stall that delays sending shows up in
/// the latencies instead of silently lowering the offered load (coordinated omission).
/// </summary>
/// <param name="send">Sends one request and returns its image count; throws <see cref="RpcException"/> on failure.</param>
/// <param name="settings">Duration, warmup, concurrency or rate.</param>
/// <param name="abandon">
/// A second interruption (a second Ctrl-C): cancels the requests still in flight, which are counted as
/// <c>Cancelled</c> failures, so the partial report comes at once instead of after their deadlines.
/// </param>
internal sealed class LoadGenerator(Func<CancellationToken, Task<int>> send, LoadSettings settings, CancellationToken abandon = default)
{
    /// <summary>The error message of a request cancelled by <c>abandon</c>.</summary>
    public const string AbandonedMessage = "abandoned in flight by a second interrupt";

    private static readonly double TicksPerSecond = Stopwatch.Frequency;

    private long _warmupRequests;

    // Stopwatch timestamp after which nothing new is sent; moved forward to "now" by cancellation.
    private long _stopAt = long.MaxValue;

    /// <param name="onMeasuredPhaseStart">Runs (without blocking the load) when the measured phase begins, e.g. a metrics scrape.</param>
    /// <param name="cancellationToken">
    /// Stops sending (like the end of the duration); requests in flight still finish, within their deadline,
    /// so an interrupted run reports what it measured.
    /// </param>
    public async Task<LoadResult> RunAsync(Func<Task>? onMeasuredPhaseStart, CancellationToken cancellationToken)
    {
        var recorder = new LatencyRecorder();
        var start = Stopwatch.GetTimestamp();
        var measureStart = start + ToTicks(settings.Warmup);
        var end = measureStart + ToTicks(settings.Duration);
        using var registration = cancellationToken.Register(() => Interlocked.Exchange(ref _stopAt, Stopwatch.GetTimestamp()));
        var phaseHook = RunHookAtAsync(measureStart, onMeasuredPhaseStart, cancellationToken);

        var load = settings.Rate is { } rate
            ? OpenLoopAsync(recorder, rate, start, measureStart, end, cancellationToken)
            : ClosedLoopAsync(recorder, measureStart, end);
        await load.ConfigureAwait(false);
        try
        {
            await phaseHook.ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Interrupted during warmup: there is no measured phase to scrape for.
        }

        var elapsed = Stopwatch.GetElapsedTime(measureStart);
        return new LoadResult(recorder, elapsed < TimeSpan.Zero ? TimeSpan.Zero : elapsed, Interlocked.Read(ref _warmupRequests), cancellationToken.IsCancellationRequested);
    }

    private bool Stopped(long now, long end) => now >= end || now >= Interlocked.Read(ref _stopAt);

    private Task ClosedLoopAsync(LatencyRecorder recorder, long measureStart, long end)
    {
        var workers = new Task[settings.Concurrency];
        for (var i = 0; i < workers.Length; i++)
        {
            workers[i] = Task.Run(async () =>
            {
                while (true)
                {
                    var sentAt = Stopwatch.GetTimestamp();
                    if (Stopped(sentAt, end))
                    {
                        return;
                    }

                    await SendOneAsync(recorder, sentAt, measureStart).ConfigureAwait(false);
                }
            });
        }

        return Task.WhenAll(workers);
    }

    private async Task OpenLoopAsync(LatencyRecorder recorder, double rate, long start, long measureStart, long end, CancellationToken cancellationToken)
    {
        var interval = TicksPerSecond / rate;
        using var slots = new SemaphoreSlim(settings.MaxInFlight, settings.MaxInFlight);
        var running = new HashSet<Task>();
        try
        {
            for (long k = 0; ; k++)
            {
                var intended = start + (long)(k * interval);
                if (Stopped(intended, end))
                {
                    break;
                }

                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), intended);
                if (wait > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
                }

                await slots.WaitAsync(cancellationToken).ConfigureAwait(false);
                running.Add(SendAndReleaseAsync(recorder, intended, measureStart, slots));
                if (running.Count >= 4096)
                {
                    running.RemoveWhere(t => t.IsCompleted);
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Interrupted: stop scheduling; what is in flight is awaited below and reported.
        }
        finally
        {
            await Task.WhenAll(running).ConfigureAwait(false);
        }
    }

    private async Task SendAndReleaseAsync(LatencyRecorder recorder, long intended, long measureStart, SemaphoreSlim slots)
    {
        try
        {
            await SendOneAsync(recorder, intended, measureStart).ConfigureAwait(false);
        }
        finally
        {
            slots.Release();
        }
    }

    /// <summary>
    /// Sends one request; measured only when its intended send time falls in the measured phase. Not
    /// cancelled by the caller's token: each request ends by its reply or its deadline.
    /// </summary>
    private async Task SendOneAsync(LatencyRecorder recorder, long intended, long measureStart)
    {
        var measured = intended >= measureStart;
        if (measured)
        {
            recorder.RecordSent();
        }
        else
        {
            Interlocked.Increment(ref _warmupRequests);
        }

        // Late (the schedule slipped, or a slot was busy): latency counts from the intended time. Early (the
        // dispatcher does not sleep for less than a timer tick): from the real send. The earlier of the two.
        var from = Math.Min(intended, Stopwatch.GetTimestamp());
        try
        {
            var images = await send(abandon).ConfigureAwait(false);
            if (measured)
            {
                var now = Stopwatch.GetTimestamp();
                recorder.RecordSuccess(Seconds(now - measureStart), Microseconds(now - from), images);
            }
        }
        catch (RpcException e)
        {
            if (measured)
            {
                var now = Stopwatch.GetTimestamp();
                var detail = abandon.IsCancellationRequested && e.StatusCode == StatusCode.Cancelled ? AbandonedMessage : e.Status.Detail;
                recorder.RecordFailure(Seconds(now - measureStart), Microseconds(now - from), e.StatusCode, detail);
            }
        }
        catch (OperationCanceledException) when (abandon.IsCancellationRequested)
        {
            if (measured)
            {
                var now = Stopwatch.GetTimestamp();
                recorder.RecordFailure(Seconds(now - measureStart), Microseconds(now - from), StatusCode.Cancelled, AbandonedMessage);
            }
        }
    }

    private async Task RunHookAtAsync(long at, Func<Task>? hook, CancellationToken cancellationToken)
    {
        if (hook is null)
        {
            return;
        }

        var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), at);
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait, cancellationToken).ConfigureAwait(false);
        }

        await hook().ConfigureAwait(false);
    }

    private static long ToTicks(TimeSpan span) => (long)(span.TotalSeconds * TicksPerSecond);

    private static double Seconds(long ticks) => ticks / TicksPerSecond;

    private static long Microseconds(long ticks) => (long)(ticks * 1_000_000.0 / TicksPerSecond);
}
