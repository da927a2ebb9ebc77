using System.Collections.Concurrent;
using GanInference.Core.Batching;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace GanInference.Core.Tests.Batching;

/// <summary>Several batches in flight at once on one executor (<c>batching.maxRunsInFlight</c>).</summary>
public sealed class RunsInFlightTests
{
    private const int Sample = -1;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task With_two_runs_in_flight_the_next_batch_starts_while_the_first_still_runs()
    {
        var executor = new HeldExecutor();
        await using var batcher = Create(executor, maxBatch: 1, runs: 2);
        var first = Submit(batcher, 1, 1);
        var second = Submit(batcher, 2, 1);

        // Both batches are inside the executor at once; with one run in flight the second would wait for the first.
        await executor.WaitForStartedAsync(2);
        Assert.Equal(2, executor.MostAtOnce);
        executor.ReleaseAll();
        await Task.WhenAll(first, second).WaitAsync(Patience);
    }

    [Fact]
    public async Task A_third_batch_waits_for_a_free_run_slot()
    {
        var executor = new HeldExecutor();
        await using var batcher = Create(executor, maxBatch: 1, runs: 2);
        var tasks = new[] { Submit(batcher, 1, 1), Submit(batcher, 2, 1), Submit(batcher, 3, 1) };
        await executor.WaitForStartedAsync(2);

        executor.Release(1);
        await executor.WaitForStartedAsync(3);
        executor.ReleaseAll();
        await Task.WhenAll(tasks).WaitAsync(Patience);
        Assert.Equal(2, executor.MostAtOnce);
    }

    [Fact]
    public async Task With_a_run_slot_free_besides_its_own_a_lane_takes_its_share_of_the_queue_and_leaves_the_rest_to_the_other_run()
    {
        var executor = new HeldExecutor();
        await using var batcher = Create(executor, maxBatch: 8, runs: 2);
        var (inputs, outputs) = Request(0, 6);
        var request = batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask();

        // Both runs idle: 3 + 3 at once, not one batch of 6.
        await executor.WaitForStartedAsync(2);
        executor.ReleaseAll();
        await request.WaitAsync(Patience);
        Assert.Equal([3, 3], executor.BatchSizes.Order());
        Assert.Equal(inputs.SelectMany(v => new[] { v * v, v * v }), outputs);
    }

    [Fact]
    public async Task With_every_other_run_slot_busy_a_lane_fills_its_batch_to_the_cap()
    {
        var executor = new HeldExecutor();
        await using var batcher = Create(executor, maxBatch: 8, runs: 2);
        var blocker = Submit(batcher, 100, 1);
        await executor.WaitForStartedAsync(1);
        var (inputs, outputs) = Request(0, 6);
        var request = batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask();

        await executor.WaitForStartedAsync(2);
        executor.ReleaseAll();
        await Task.WhenAll(blocker, request).WaitAsync(Patience);
        Assert.Equal([1, 6], executor.BatchSizes);
    }

    [Fact]
    public async Task A_request_split_over_two_runs_completes_only_when_both_have_returned()
    {
        var executor = new HeldExecutor();
        await using var batcher = Create(executor, maxBatch: 2, runs: 2);
        var (inputs, outputs) = Request(0, 4);
        var request = batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask();
        await executor.WaitForStartedAsync(2);

        executor.Release(batchIndex: 1); // [2, 3] returns first
        await executor.WaitForFinishedAsync(1);
        await Task.Delay(50);
        Assert.False(request.IsCompleted, "the request completed while its first half was still running");

        executor.Release(batchIndex: 0);
        await request.WaitAsync(Patience);
        Assert.Equal([0, 0, 1, 1, 4, 4, 9, 9], outputs);
    }

    [Fact]
    public async Task A_split_request_whose_one_run_fails_is_released_only_after_its_other_run_returns()
    {
        var executor = new HeldExecutor { FailOn = 2 };
        await using var batcher = Create(executor, maxBatch: 2, runs: 2);
        var (inputs, outputs) = Request(0, 4);
        var request = batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask();
        await executor.WaitForStartedAsync(2);

        executor.Release(batchIndex: 1); // [2, 3] fails
        await executor.WaitForFinishedAsync(1);
        await Task.Delay(50);

        // Its caller would reuse the buffer the first half is still writing into.
        Assert.False(request.IsCompleted, "the request failed while its first half was still running");
        executor.Release(batchIndex: 0);
        await Assert.ThrowsAsync<InvalidOperationException>(() => request.WaitAsync(Patience));
    }

    [Fact]
    public async Task A_split_request_cancelled_while_part_of_it_runs_is_dropped_and_released_after_that_part_returns()
    {
        var executor = new HeldExecutor();
        await using var batcher = Create(executor, maxBatch: 1, runs: 2);
        using var cancel = new CancellationTokenSource();
        var (inputs, outputs) = Request(0, 3);
        var request = batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, cancel.Token).AsTask();
        await executor.WaitForStartedAsync(2);

        cancel.Cancel();
        executor.Release(batchIndex: 1); // the lane that ran [1] now reaches the cancelled rest, [2], and drops it
        await executor.WaitForFinishedAsync(1);
        await Task.Delay(50);
        Assert.False(request.IsCompleted, "the request was released while [0] was still running");

        executor.Release(batchIndex: 0);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => request.WaitAsync(Patience));
        Assert.Equal(2, executor.Started); // [2] never ran
    }

    [Fact]
    public async Task Many_requests_over_four_runs_each_get_their_own_outputs()
    {
        var executor = new HeldExecutor { Held = false };
        await using var batcher = Create(executor, maxBatch: 8, runs: 4);
        var requests = Enumerable.Range(0, 300).Select(i => Request(i * 1000, 1 + (i % 11))).ToArray();

        await Task.WhenAll(requests.Select(r => Task.Run(() => batcher.SubmitAsync(r.Inputs, r.Outputs, DateTime.MaxValue, default).AsTask()))).WaitAsync(Patience);

        foreach (var (inputs, outputs) in requests)
        {
            Assert.Equal(inputs.SelectMany(v => new[] { v * v, v * v }), outputs);
        }
    }

    [Fact]
    public async Task Where_a_second_run_adds_throughput_the_measured_policy_runs_two_at_once()
    {
        // Each batch costs wall time but no CPU (a timer), so two at once do twice the work.
        var executor = new TimedExecutor(TimeSpan.FromMilliseconds(2), serialise: false);
        await using var batcher = Create(executor, maxBatch: 4, runs: 2, BatchingPolicy.Measured, Profiling(TimeSpan.FromMilliseconds(300)));

        var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);

        Assert.Equal([1, 2], profile.RunsInFlight.Select(r => r.Runs));
        Assert.Equal(2, profile.ChosenRunsInFlight);
        Assert.Equal(2, batcher.EffectiveRunsInFlight);
        Assert.Equal(2, executor.MostAtOnce);
        Assert.Equal([1, 2, 4], profile.SizesAtChosenRuns.Select(x => x.BatchSize));
        Assert.Equal(4, profile.ChosenBatchSize); // a batch costs the same at any size here, so the largest pays most
    }

    [Fact]
    public async Task With_two_runs_chosen_the_batch_size_comes_from_the_sizes_measured_two_at_once()
    {
        // Batch 1 runs freely beside another; larger batches take the one "device" (20 ms per item, long beside a loaded
        // machine's scheduling gaps): alone every size does 50 images/s, so alone the largest would be chosen, but
        // beside a second run only batch 1 doubles.
        var executor = new TimedExecutor(TimeSpan.FromMilliseconds(20), serialise: false, serialiseAbove: 1, perItem: true);
        await using var batcher = Create(executor, maxBatch: 4, runs: 2, BatchingPolicy.Measured, Profiling(TimeSpan.FromMilliseconds(150)));

        var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);

        Assert.Equal(4, BatchProfile.Choose(profile.Sizes, profile.Tolerance));
        Assert.Equal(2, profile.ChosenRunsInFlight);
        Assert.Equal(1, profile.ChosenBatchSize);
        Assert.Equal(1, batcher.EffectiveMaxBatchSize);
    }

    [Fact]
    public async Task Where_a_second_run_only_queues_behind_the_first_the_measured_policy_keeps_one_and_the_fixed_keeps_both()
    {
        // One batch at a time however many are in flight (a device that serialises them): a second run adds nothing.
        foreach (var (policy, expected) in new[] { (BatchingPolicy.Measured, 1), (BatchingPolicy.Fixed, 2) })
        {
            // 20 ms a batch, so that a loaded machine's scheduling gap between one run's batches (which a second run
            // would fill) stays small beside it.
            var executor = new TimedExecutor(TimeSpan.FromMilliseconds(20), serialise: true);
            await using var batcher = Create(executor, maxBatch: 4, runs: 2, policy, Profiling(TimeSpan.FromMilliseconds(300)));

            var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);

            Assert.Equal(1, profile.ChosenRunsInFlight);
            Assert.Equal(expected, batcher.EffectiveRunsInFlight);

            // The held-back slot is really held back: a burst of single items never runs two batches at once.
            executor.ResetMostAtOnce();
            await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Submit(batcher, i, 1))).WaitAsync(Patience);
            Assert.Equal(expected, executor.MostAtOnce);
        }
    }

    [Fact]
    public void The_fewest_runs_within_the_tolerance_of_the_best_are_chosen()
    {
        Assert.Equal(2, BatchProfile.ChooseRuns([new(1, 100, 10), new(2, 125, 10), new(3, 128, 10)], tolerance: 0.10));
        Assert.Equal(1, BatchProfile.ChooseRuns([new(1, 100, 10), new(2, 104, 10)], tolerance: 0.05));
        Assert.Equal(1, BatchProfile.ChooseRuns([], tolerance: 0.05));
    }

    // A wide tolerance: the cases differ by 2x by construction, while a loaded machine's scheduling gaps between timer
    // waits could tilt a near tie by tens of per cent.
    private static BatchProfiling<int> Profiling(TimeSpan perSize) =>
        new(Sample, new BatchProfilingSettings { TimePerSize = perSize, Tolerance = 0.30 });

    private static DynamicBatcher<int, int> Create(IBatchExecutor<int, int> executor, int maxBatch, int runs, BatchingPolicy policy = BatchingPolicy.Fixed, BatchProfiling<int>? profiling = null) =>
        new(
            "runs",
            new BatchingSettings { MaxBatchSize = maxBatch, MaxQueueDelay = TimeSpan.Zero, MaxQueueSize = 1024, MaxRunsInFlight = runs, Policy = policy },
            outputsPerItem: 2,
            executor,
            GanTelemetry.CreateStandalone(),
            NullLogger.Instance,
            profiling: profiling);

    private static (int[] Inputs, int[] Outputs) Request(int first, int count) =>
        (Enumerable.Range(first, count).ToArray(), new int[count * 2]);

    private static Task Submit(DynamicBatcher<int, int> batcher, int first, int count)
    {
        var (inputs, outputs) = Request(first, count);
        return batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask();
    }

    /// <summary>Squares; each batch waits until the test releases it (by the order batches started), and counts overlap.</summary>
    private sealed class HeldExecutor : IBatchExecutor<int, int>
    {
        private readonly ConcurrentDictionary<int, TaskCompletionSource> _gates = new();
        private readonly ConcurrentQueue<int> _sizes = new();
        private int _started;
        private int _finished;
        private int _running;
        private int _mostAtOnce;

        public bool Held { get; init; } = true;

        public int? FailOn { get; init; }

        public int Started => Volatile.Read(ref _started);

        public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

        public List<int> BatchSizes => _sizes.ToList();

        public async ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<int, int>> slices, int itemCount, CancellationToken cancellationToken)
        {
            _sizes.Enqueue(itemCount);
            var index = Interlocked.Increment(ref _started) - 1;
            var running = Interlocked.Increment(ref _running);
            InterlockedMax(ref _mostAtOnce, running);
            try
            {
                if (Held)
                {
                    await Gate(index).Task.WaitAsync(cancellationToken);
                }

                if (FailOn is { } poison && slices.ToArray().Any(s => s.Inputs.ToArray().Contains(poison)))
                {
                    throw new InvalidOperationException("poisoned batch");
                }

                SquaringBatches.WriteSquares(slices);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
                Interlocked.Increment(ref _finished);
            }
        }

        public void Release(int batchIndex) => Gate(batchIndex).TrySetResult();

        public void ReleaseAll()
        {
            for (var i = 0; i < 64; i++)
            {
                Release(i);
            }
        }

        public Task WaitForStartedAsync(int count) => SquaringBatches.WaitForAsync(() => Volatile.Read(ref _started), count, Patience);

        public Task WaitForFinishedAsync(int count) => SquaringBatches.WaitForAsync(() => Volatile.Read(ref _finished), count, Patience);

        private TaskCompletionSource Gate(int index) => _gates.GetOrAdd(index, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
    }

    /// <summary>
    /// Squares after a delay (per batch, or per item); optionally one batch at a time whatever the callers, or only
    /// batches larger than <c>serialiseAbove</c>.
    /// </summary>
    private sealed class TimedExecutor(TimeSpan perBatch, bool serialise, int serialiseAbove = int.MaxValue, bool perItem = false) : IBatchExecutor<int, int>
    {
        private readonly SemaphoreSlim _device = new(1, 1);
        private int _running;
        private int _mostAtOnce;

        public int MostAtOnce => Volatile.Read(ref _mostAtOnce);

        public void ResetMostAtOnce() => Volatile.Write(ref _mostAtOnce, 0);

        public async ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<int, int>> slices, int itemCount, CancellationToken cancellationToken)
        {
            var running = Interlocked.Increment(ref _running);
            InterlockedMax(ref _mostAtOnce, running);
            try
            {
                var exclusive = serialise || itemCount > serialiseAbove;
                if (exclusive)
                {
                    await _device.WaitAsync(cancellationToken);
                }

                try
                {
                    await Task.Delay(perItem ? perBatch * itemCount : perBatch, cancellationToken);
                }
                finally
                {
                    if (exclusive)
                    {
                        _device.Release();
                    }
                }

                SquaringBatches.WriteSquares(slices);
            }
            finally
            {
                Interlocked.Decrement(ref _running);
            }
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        var seen = Volatile.Read(ref target);
        while (value > seen)
        {
            var previous = Interlocked.CompareExchange(ref target, value, seen);
            if (previous == seen)
            {
                return;
            }

            seen = previous;
        }
    }
}
