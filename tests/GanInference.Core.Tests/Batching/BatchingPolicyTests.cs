using System.Collections.Concurrent;
using GanInference.Core.Batching;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace GanInference.Core.Tests.Batching;

/// <summary>
/// The batcher's policies over an executor whose cost per batch is set on a manual clock: the profile it measures is
/// then exact, so which size pays is known without timing anything.
/// </summary>
public sealed class BatchingPolicyTests
{
    private const int Sample = -1;
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task The_profile_measures_every_power_of_two_up_to_the_maximum_through_the_executor()
    {
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, size => TimeSpan.FromMilliseconds(size * size));
        await using var batcher = Create(executor, clock, maxBatch: 12, BatchingPolicy.Measured);

        var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);

        Assert.Equal([1, 2, 4, 8, 12], profile.Sizes.Select(s => s.BatchSize));
        Assert.All(profile.Sizes, s => Assert.Equal(3, s.Runs)); // 1 ms per size: one timed run per round after the untimed one
        Assert.Equal(1000.0, profile.Sizes[0].ImagesPerSecond, precision: 6);
        Assert.Equal(1000.0 / 12, profile.Sizes[^1].ImagesPerSecond, precision: 6);
        Assert.Equal([1, 1, 2, 2, 4, 4, 8, 8, 12, 12, 1, 2, 4, 8, 12, 1, 2, 4, 8, 12], executor.ProfileRuns); // untimed + round 1, rounds 2 and 3
        Assert.Same(profile, batcher.Profile);
    }

    [Fact]
    public async Task Under_the_measured_policy_batches_never_grow_past_the_size_that_pays()
    {
        // A batch of n costs n² ms: batch 1 is the fastest per image, as on a CPU where batching does not pay.
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, size => TimeSpan.FromMilliseconds(size * size)) { Gate = new SemaphoreSlim(0) };
        await using var batcher = Create(executor, clock, maxBatch: 8, BatchingPolicy.Measured);
        executor.Gate.Release(ProfileRuns(4)); // the profile's runs at 1, 2, 4 and 8
        var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);
        Assert.Equal(1, profile.ChosenBatchSize);
        Assert.Equal(1, batcher.EffectiveMaxBatchSize);

        var submitted = await SubmitBehindABlockerAsync(batcher, executor);

        Assert.Equal(Enumerable.Repeat(1, 1 + 3 + 2 + 1), executor.BatchSizes);
        Assert.Equal([0, 0, 1, 1], submitted[1].Outputs);
        Assert.Equal([100, 100, 121, 121, 144, 144], submitted[0].Outputs);
    }

    [Fact]
    public async Task The_fixed_policy_keeps_coalescing_up_to_the_maximum_whatever_the_profile_says()
    {
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, size => TimeSpan.FromMilliseconds(size * size)) { Gate = new SemaphoreSlim(0) };
        await using var batcher = Create(executor, clock, maxBatch: 8, BatchingPolicy.Fixed);
        executor.Gate.Release(ProfileRuns(4));
        var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);
        Assert.Equal(1, profile.ChosenBatchSize);
        Assert.Equal(8, batcher.EffectiveMaxBatchSize);

        await SubmitBehindABlockerAsync(batcher, executor);

        // The blocker alone, then the three queued requests (3 + 2 + 1 items) as one batch: today's behaviour.
        Assert.Equal([1, 6], executor.BatchSizes);
    }

    [Fact]
    public async Task When_larger_batches_pay_the_measured_policy_fills_them()
    {
        // A run costs the same whatever its size, as on a GPU with room to spare: the largest size wins.
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, _ => TimeSpan.FromMilliseconds(5)) { Gate = new SemaphoreSlim(0) };
        await using var batcher = Create(executor, clock, maxBatch: 4, BatchingPolicy.Measured);
        executor.Gate.Release(ProfileRuns(3));
        var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);
        Assert.Equal(4, profile.ChosenBatchSize);

        await SubmitBehindABlockerAsync(batcher, executor);

        Assert.Equal([1, 4, 2], executor.BatchSizes);
    }

    [Fact]
    public async Task The_profile_is_taken_when_load_first_arrives_and_then_caps_the_batches()
    {
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, size => TimeSpan.FromMilliseconds(size * size));
        await using var batcher = Create(executor, clock, maxBatch: 4, BatchingPolicy.Measured);

        // One item alone is not load: no profile, no cost.
        await Submit(batcher, 7, 1).WaitAsync(Patience);
        Assert.Null(batcher.Profile);
        Assert.Empty(executor.ProfileRuns);

        // A request of several items is: the loop profiles first, then runs it in batches of the chosen size.
        await Submit(batcher, 0, 3).WaitAsync(Patience);

        Assert.Equal(1, batcher.Profile?.ChosenBatchSize);
        Assert.Equal([1, 1, 2, 2, 4, 4, 1, 2, 4, 1, 2, 4], executor.ProfileRuns);
        Assert.Equal([1, 1, 1, 1], executor.BatchSizes);
    }

    [Fact]
    public async Task Without_profiling_the_measured_policy_behaves_as_the_fixed_one()
    {
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, size => TimeSpan.FromMilliseconds(size * size));
        await using var batcher = new DynamicBatcher<int, int>(
            "plain", Settings(4, BatchingPolicy.Measured), 2, executor, GanTelemetry.CreateStandalone(), NullLogger.Instance, clock);

        await Submit(batcher, 0, 6).WaitAsync(Patience);

        Assert.Equal([4, 2], executor.BatchSizes);
        Assert.Null(batcher.Profile);
        await Assert.ThrowsAsync<InvalidOperationException>(() => batcher.ProfileAsync(default));
    }

    [Fact]
    public async Task Where_batching_speeds_the_model_up_little_a_lone_request_runs_at_once_instead_of_waiting_the_queue_delay()
    {
        // A batch of n costs 0.8·n + 0.2 ms: batch 4 is the best, but only 1.18 times batch 1 per image (a CPU).
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, size => TimeSpan.FromMilliseconds((0.8 * size) + 0.2));
        await using var batcher = Create(executor, clock, maxBatch: 4, BatchingPolicy.Measured, queueDelay: TimeSpan.FromSeconds(30));
        var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);
        Assert.Equal(4, profile.ChosenBatchSize);
        Assert.InRange(profile.Speedup, 1.17, 1.18);
        Assert.False(profile.WaitsForCompany);
        Assert.Equal(TimeSpan.Zero, batcher.EffectiveMaxQueueDelay);

        // Waiting for company would hold it for the 30 s queue delay, past the patience of this test.
        await Submit(batcher, 7, 1).WaitAsync(Patience);

        Assert.Equal([1], executor.BatchSizes);
    }

    [Fact]
    public async Task Before_a_profile_a_lone_request_runs_at_once_and_is_not_load()
    {
        // One client calling at a time never makes a second item wait, so the model is never profiled: it must not
        // pay the queue delay on every call meanwhile.
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, _ => TimeSpan.FromMilliseconds(5));
        await using var batcher = Create(executor, clock, maxBatch: 4, BatchingPolicy.Measured, queueDelay: TimeSpan.FromSeconds(30));
        Assert.Equal(TimeSpan.Zero, batcher.EffectiveMaxQueueDelay);

        await Submit(batcher, 7, 1).WaitAsync(Patience);
        await Submit(batcher, 8, 1).WaitAsync(Patience);

        Assert.Null(batcher.Profile);
        Assert.Equal([1, 1], executor.BatchSizes);
    }

    [Fact]
    public async Task Where_batching_pays_a_lone_request_waits_the_queue_delay_for_company()
    {
        // A run costs the same whatever its size: batch 4 is 4 times batch 1 per image (a GPU with room to spare).
        var clock = new ManualClock();
        var executor = new CostedExecutor(clock, _ => TimeSpan.FromMilliseconds(5));
        await using var batcher = Create(executor, clock, maxBatch: 4, BatchingPolicy.Measured, queueDelay: TimeSpan.FromSeconds(30));
        var profile = await batcher.ProfileAsync(default).WaitAsync(Patience);
        Assert.Equal(4.0, profile.Speedup, precision: 6);
        Assert.True(profile.WaitsForCompany);

        var lone = Submit(batcher, 7, 1);
        await Task.Delay(300);
        Assert.False(lone.IsCompleted, "the lone request ran without waiting for company");

        // Company arrives: the batch fills to the chosen size and runs.
        await Task.WhenAll(lone, Submit(batcher, 0, 3)).WaitAsync(Patience);
        Assert.Equal([4], executor.BatchSizes);
    }

    [Theory]
    [InlineData(new[] { 100.0, 190.0, 200.0, 150.0 }, 0.05, 4)]
    [InlineData(new[] { 100.0, 190.0, 200.0, 150.0 }, 0.0, 4)]
    [InlineData(new[] { 100.0, 196.0, 200.0, 199.0 }, 0.05, 8)]
    [InlineData(new[] { 300.0, 200.0, 100.0, 50.0 }, 0.05, 1)]
    [InlineData(new[] { 300.0, 290.0, 100.0, 50.0 }, 0.05, 2)]
    public void The_chosen_size_is_the_largest_within_the_tolerance_of_the_best(double[] imagesPerSecond, double tolerance, int expected)
    {
        var sizes = imagesPerSecond.Select((ips, i) => new BatchSizeThroughput(1 << i, ips, 1)).ToArray();

        Assert.Equal(expected, BatchProfile.Choose(sizes, tolerance));
    }

    private static async Task<List<(Task Task, int[] Outputs)>> SubmitBehindABlockerAsync(DynamicBatcher<int, int> batcher, CostedExecutor executor)
    {
        executor.ClearBatches();
        var blocker = Start(batcher, 50, 1);
        await executor.WaitForBatchesAsync(1);
        var queued = new List<(Task Task, int[] Outputs)> { Start(batcher, 10, 3), Start(batcher, 0, 2), Start(batcher, 20, 1) };
        executor.Gate!.Release(100);
        await Task.WhenAll(queued.Select(q => q.Task).Append(blocker.Task)).WaitAsync(Patience);
        return queued;
    }

    /// <summary>Runs of a profile whose sizes each take one run per round (a cost of at least 1 ms): one untimed run, one per round.</summary>
    private static int ProfileRuns(int sizes) => sizes * (1 + BatchProfiler.Rounds);

    private static (Task Task, int[] Outputs) Start(DynamicBatcher<int, int> batcher, int first, int count)
    {
        var outputs = new int[count * 2];
        return (batcher.SubmitAsync(Enumerable.Range(first, count).ToArray(), outputs, DateTime.MaxValue, default).AsTask(), outputs);
    }

    private static Task Submit(DynamicBatcher<int, int> batcher, int first, int count) => Start(batcher, first, count).Task;

    private static BatchingSettings Settings(int maxBatch, BatchingPolicy policy, TimeSpan? queueDelay = null) => new()
    {
        MaxBatchSize = maxBatch,
        MaxQueueDelay = queueDelay ?? TimeSpan.Zero,
        MaxQueueSize = 64,
        Policy = policy,
    };

    private static DynamicBatcher<int, int> Create(CostedExecutor executor, ManualClock clock, int maxBatch, BatchingPolicy policy, TimeSpan? queueDelay = null) =>
        new(
            "costed",
            Settings(maxBatch, policy, queueDelay),
            2,
            executor,
            GanTelemetry.CreateStandalone(),
            NullLogger.Instance,
            clock,
            new BatchProfiling<int>(Sample, new BatchProfilingSettings { TimePerSize = TimeSpan.FromMilliseconds(1), Tolerance = 0.05 }));

    /// <summary>A clock that only moves when told: timestamps in ticks.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    /// <summary>
    /// Squares each input (twice); each run advances the manual clock by its cost. Profile runs (all inputs are the
    /// sample) are recorded apart from real batches; real batches can be held on a gate.
    /// </summary>
    private sealed class CostedExecutor(ManualClock clock, Func<int, TimeSpan> cost) : IBatchExecutor<int, int>
    {
        private readonly ConcurrentQueue<int> _profileRuns = new();
        private readonly ConcurrentQueue<int> _batches = new();

        public SemaphoreSlim? Gate { get; init; }

        public List<int> ProfileRuns => _profileRuns.ToList();

        public List<int> BatchSizes => _batches.ToList();

        public void ClearBatches() => _batches.Clear();

        public async ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<int, int>> slices, int itemCount, CancellationToken cancellationToken)
        {
            var isProfile = slices.Span[0].Inputs.Span[0] == Sample;
            (isProfile ? _profileRuns : _batches).Enqueue(itemCount);
            if (Gate is not null)
            {
                await Gate.WaitAsync(cancellationToken);
            }

            clock.Advance(cost(itemCount));
            SquaringBatches.WriteSquares(slices);
        }

        public Task WaitForBatchesAsync(int count) => SquaringBatches.WaitForAsync(() => _batches.Count, count, Patience);
    }
}
