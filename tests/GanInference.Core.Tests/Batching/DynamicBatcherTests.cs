using System.Collections.Concurrent;
using GanInference.Core.Batching;
using GanInference.Core.Errors;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;

namespace GanInference.Core.Tests.Batching;

public sealed class DynamicBatcherTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Small_requests_queued_together_run_as_one_batch()
    {
        var executor = new SquaringExecutor();
        await using var batcher = Create(executor, maxBatch: 64, delay: TimeSpan.FromSeconds(1)); // wide enough for a stalled CI thread
        var (a, outA) = Request(1, 2);
        var (b, outB) = Request(10, 3);
        var (c, outC) = Request(100, 1);

        await Task.WhenAll(
            batcher.SubmitAsync(a, outA, DateTime.MaxValue, default).AsTask(),
            batcher.SubmitAsync(b, outB, DateTime.MaxValue, default).AsTask(),
            batcher.SubmitAsync(c, outC, DateTime.MaxValue, default).AsTask()).WaitAsync(Patience);

        Assert.Equal([6], executor.BatchSizes);
        Assert.Equal([1, 1, 4, 4], outA);
        Assert.Equal([100, 100, 121, 121, 144, 144], outB);
        Assert.Equal([10000, 10000], outC);
    }

    [Fact]
    public async Task A_request_larger_than_the_batch_is_split_in_order()
    {
        var executor = new SquaringExecutor();
        await using var batcher = Create(executor, maxBatch: 4, delay: TimeSpan.Zero);
        var (inputs, outputs) = Request(0, 10);

        await batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask().WaitAsync(Patience);

        Assert.Equal([4, 4, 2], executor.BatchSizes);
        Assert.Equal(Enumerable.Range(0, 10).SelectMany(i => new[] { i * i, i * i }), outputs);
    }

    [Fact]
    public async Task The_remainder_of_a_split_request_is_coalesced_with_the_next_request()
    {
        var executor = new SquaringExecutor { Gate = new SemaphoreSlim(0) };
        await using var batcher = Create(executor, maxBatch: 4, delay: TimeSpan.FromMilliseconds(100));
        var (blocker, outBlocker) = Request(50, 1);
        var first = batcher.SubmitAsync(blocker, outBlocker, DateTime.MaxValue, default).AsTask();
        await executor.WaitForBatchesAsync(1);

        var (a, outA) = Request(0, 6);
        var (b, outB) = Request(20, 2);
        var taskA = batcher.SubmitAsync(a, outA, DateTime.MaxValue, default).AsTask();
        var taskB = batcher.SubmitAsync(b, outB, DateTime.MaxValue, default).AsTask();
        executor.Gate.Release(100);
        await Task.WhenAll(first, taskA, taskB).WaitAsync(Patience);

        // [blocker], then a[0..4], then a[4..6] + b[0..2]: FIFO, split, and the tail shares a batch.
        Assert.Equal([1, 4, 4], executor.BatchSizes);
        Assert.Equal([[50], [0, 1, 2, 3], [4, 5, 20, 21]], executor.BatchInputs);
        Assert.Equal([400, 400, 441, 441], outB);
    }

    [Fact]
    public async Task A_lone_request_waits_for_the_queue_delay_but_not_much_longer()
    {
        var executor = new SquaringExecutor();
        var delay = TimeSpan.FromMilliseconds(150);
        await using var batcher = Create(executor, maxBatch: 64, delay: delay);
        var (inputs, outputs) = Request(3, 1);
        var started = TimeProvider.System.GetTimestamp();

        await batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask().WaitAsync(Patience);

        var elapsed = TimeProvider.System.GetElapsedTime(started);
        Assert.InRange(elapsed, delay * 0.9, delay + TimeSpan.FromSeconds(2));
        Assert.Equal([1], executor.BatchSizes);
    }

    [Fact]
    public async Task A_full_batch_does_not_wait_for_the_delay()
    {
        var executor = new SquaringExecutor();
        await using var batcher = Create(executor, maxBatch: 4, delay: TimeSpan.FromSeconds(30));
        var (inputs, outputs) = Request(0, 4);

        await batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask().WaitAsync(Patience);

        Assert.Equal([4], executor.BatchSizes);
    }

    [Fact]
    public async Task A_preferred_batch_size_is_dispatched_without_waiting_for_the_delay()
    {
        var executor = new SquaringExecutor();
        await using var batcher = Create(executor, maxBatch: 64, delay: TimeSpan.FromSeconds(30), preferred: [2, 8]);
        var (inputs, outputs) = Request(0, 2);

        await batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask().WaitAsync(Patience);

        Assert.Equal([2], executor.BatchSizes);
    }

    [Fact]
    public async Task A_full_queue_refuses_at_once()
    {
        var executor = new SquaringExecutor { Gate = new SemaphoreSlim(0) };
        await using var batcher = Create(executor, maxBatch: 1, delay: TimeSpan.Zero, queueSize: 2);
        var running = Submit(batcher, 0, 1);
        await executor.WaitForBatchesAsync(1);
        var queued1 = Submit(batcher, 1, 1);
        var queued2 = Submit(batcher, 2, 1);

        var error = Assert.Throws<QueueFullException>(() => { _ = batcher.SubmitAsync(new[] { 3 }, new int[2], DateTime.MaxValue, default); });
        Assert.Contains("2 requests queued", error.Message);
        Assert.Equal(GanErrorKind.ResourceExhausted, error.Kind);

        executor.Gate.Release(100);
        await Task.WhenAll(running, queued1, queued2).WaitAsync(Patience);
    }

    [Fact]
    public async Task A_request_cancelled_while_queued_is_dropped_before_it_runs()
    {
        var executor = new SquaringExecutor { Gate = new SemaphoreSlim(0) };
        await using var batcher = Create(executor, maxBatch: 1, delay: TimeSpan.Zero);
        var running = Submit(batcher, 0, 1);
        await executor.WaitForBatchesAsync(1);
        using var cancel = new CancellationTokenSource();
        var doomed = batcher.SubmitAsync(new[] { 77 }, new int[2], DateTime.MaxValue, cancel.Token).AsTask();
        var survivor = Submit(batcher, 5, 1);
        await cancel.CancelAsync();

        executor.Gate.Release(100);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => doomed.WaitAsync(Patience));
        await Task.WhenAll(running, survivor).WaitAsync(Patience);
        Assert.DoesNotContain(executor.BatchInputs, batch => batch.Contains(77));
        Assert.Equal([[0], [5]], executor.BatchInputs);
    }

    [Fact]
    public async Task A_request_past_its_deadline_is_dropped_before_it_runs()
    {
        var executor = new SquaringExecutor { Gate = new SemaphoreSlim(0) };
        await using var batcher = Create(executor, maxBatch: 1, delay: TimeSpan.Zero);
        var running = Submit(batcher, 0, 1);
        await executor.WaitForBatchesAsync(1);
        var expired = batcher.SubmitAsync(new[] { 88 }, new int[2], DateTime.UtcNow.AddMilliseconds(20), default).AsTask();
        await Task.Delay(100);

        executor.Gate.Release(100);
        await Assert.ThrowsAsync<RequestExpiredException>(() => expired.WaitAsync(Patience));
        await running.WaitAsync(Patience);
        Assert.DoesNotContain(executor.BatchInputs, batch => batch.Contains(88));
    }

    [Fact]
    public async Task A_request_that_expires_or_is_cancelled_while_its_batch_waits_for_the_delay_is_left_out_of_the_run()
    {
        var executor = new SquaringExecutor();
        // The batch (3 of 8) waits the whole delay; 2 s leaves a loaded CI machine ample time to cancel inside it
        // (at 300 ms the 100 ms pause below once overran it and the cancelled request ran).
        await using var batcher = Create(executor, maxBatch: 8, delay: TimeSpan.FromSeconds(2));
        using var cancel = new CancellationTokenSource();
        var expiring = batcher.SubmitAsync(new[] { 21 }, new int[2], DateTime.UtcNow.AddMilliseconds(50), default).AsTask();
        var cancelled = batcher.SubmitAsync(new[] { 22 }, new int[2], DateTime.MaxValue, cancel.Token).AsTask();
        var (inputs, outputs) = Request(3, 2);
        var survivor = batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask();
        await Task.Delay(100);
        await cancel.CancelAsync();

        await Assert.ThrowsAsync<RequestExpiredException>(() => expiring.WaitAsync(Patience));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled.WaitAsync(Patience));
        await survivor.WaitAsync(Patience);
        Assert.Equal([9, 9, 16, 16], outputs);
        Assert.Equal([[3, 4]], executor.BatchInputs);
    }

    [Fact]
    public async Task An_executor_failure_fails_every_request_in_the_batch_and_the_batcher_goes_on()
    {
        var executor = new SquaringExecutor { FailOn = 13 };
        await using var batcher = Create(executor, maxBatch: 8, delay: TimeSpan.FromSeconds(1)); // both requests must share the batch
        var poisoned = batcher.SubmitAsync(new[] { 13 }, new int[2], DateTime.MaxValue, default).AsTask();
        var neighbour = batcher.SubmitAsync(new[] { 2 }, new int[2], DateTime.MaxValue, default).AsTask();

        await Assert.ThrowsAsync<InvalidOperationException>(() => poisoned.WaitAsync(Patience));
        await Assert.ThrowsAsync<InvalidOperationException>(() => neighbour.WaitAsync(Patience));

        var (inputs, outputs) = Request(3, 1);
        await batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask().WaitAsync(Patience);
        Assert.Equal([9, 9], outputs);
    }

    [Fact]
    public async Task Disposing_aborts_the_running_batch_fails_queued_requests_and_refuses_new_ones()
    {
        var executor = new SquaringExecutor { Gate = new SemaphoreSlim(0) };
        var batcher = Create(executor, maxBatch: 1, delay: TimeSpan.Zero);
        var running = Submit(batcher, 0, 1);
        await executor.WaitForBatchesAsync(1);
        var queued = Submit(batcher, 1, 1);

        // The executor waits on the batcher's token, which disposal cancels: nothing is released by hand.
        await batcher.DisposeAsync().AsTask().WaitAsync(Patience);

        await Assert.ThrowsAsync<ServiceUnavailableException>(() => running.WaitAsync(Patience));
        await Assert.ThrowsAsync<ServiceUnavailableException>(() => queued.WaitAsync(Patience));
        Assert.Throws<ServiceUnavailableException>(() => { _ = batcher.SubmitAsync(new[] { 1 }, new int[2], DateTime.MaxValue, default); });
        Assert.Equal([[0]], executor.BatchInputs);
    }

    [Fact]
    public async Task Stopping_gracefully_finishes_what_is_queued()
    {
        var executor = new SquaringExecutor { Gate = new SemaphoreSlim(0) };
        var batcher = Create(executor, maxBatch: 1, delay: TimeSpan.Zero);
        var running = Submit(batcher, 0, 1);
        await executor.WaitForBatchesAsync(1);
        var queued = Submit(batcher, 4, 1);

        var stopping = batcher.StopAsync(CancellationToken.None);
        executor.Gate.Release(100);
        await Task.WhenAll(stopping, running, queued).WaitAsync(Patience);
        Assert.Equal([[0], [4]], executor.BatchInputs);
        await batcher.DisposeAsync();
    }

    [Fact]
    public async Task Many_concurrent_requests_each_get_their_own_outputs()
    {
        var executor = new SquaringExecutor();
        await using var batcher = Create(executor, maxBatch: 16, delay: TimeSpan.FromMilliseconds(1));
        var requests = Enumerable.Range(0, 200).Select(i => Request(i * 1000, 1 + (i % 7))).ToArray();

        await Task.WhenAll(requests.Select(r => Task.Run(() => batcher.SubmitAsync(r.Inputs, r.Outputs, DateTime.MaxValue, default).AsTask()))).WaitAsync(Patience);

        foreach (var (inputs, outputs) in requests)
        {
            Assert.Equal(inputs.SelectMany(v => new[] { v * v, v * v }), outputs);
        }

        Assert.All(executor.BatchSizes, size => Assert.InRange(size, 1, 16));
        Assert.Equal(requests.Sum(r => r.Inputs.Length), executor.BatchSizes.Sum());
    }

    private static DynamicBatcher<int, int> Create(SquaringExecutor executor, int maxBatch, TimeSpan delay, int queueSize = 1024, int[]? preferred = null) =>
        new("test-model", new BatchingSettings { MaxBatchSize = maxBatch, MaxQueueDelay = delay, MaxQueueSize = queueSize, PreferredBatchSizes = preferred ?? [] },
            outputsPerItem: 2, executor, GanTelemetry.CreateStandalone(), NullLogger.Instance);

    private static (int[] Inputs, int[] Outputs) Request(int first, int count) =>
        (Enumerable.Range(first, count).ToArray(), new int[count * 2]);

    private static Task Submit(DynamicBatcher<int, int> batcher, int first, int count)
    {
        var (inputs, outputs) = Request(first, count);
        return batcher.SubmitAsync(inputs, outputs, DateTime.MaxValue, default).AsTask();
    }

    /// <summary>Writes each input's square twice; records every batch; can be held on a gate or fail on a value.</summary>
    private sealed class SquaringExecutor : IBatchExecutor<int, int>
    {
        private readonly ConcurrentQueue<int[]> _batches = new();

        public SemaphoreSlim? Gate { get; init; }

        public int? FailOn { get; init; }

        public List<int> BatchSizes => _batches.Select(b => b.Length).ToList();

        public List<int[]> BatchInputs => _batches.ToList();

        public async ValueTask ExecuteAsync(ReadOnlyMemory<BatchSlice<int, int>> slices, int itemCount, CancellationToken cancellationToken)
        {
            var inputs = new List<int>();
            foreach (var slice in slices.ToArray())
            {
                inputs.AddRange(slice.Inputs.ToArray());
            }

            Assert.Equal(itemCount, inputs.Count);
            _batches.Enqueue(inputs.ToArray());
            if (Gate is not null)
            {
                await Gate.WaitAsync(cancellationToken);
            }

            if (FailOn is { } poison && inputs.Contains(poison))
            {
                throw new InvalidOperationException("poisoned batch");
            }

            SquaringBatches.WriteSquares(slices);
        }

        public Task WaitForBatchesAsync(int count) => SquaringBatches.WaitForAsync(() => _batches.Count, count, Patience);
    }
}
