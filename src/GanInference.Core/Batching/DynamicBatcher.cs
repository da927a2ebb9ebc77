using System.Diagnostics;
using System.Threading.Channels;
using System.Threading.Tasks.Sources;
using GanInference.Core.Errors;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging;

namespace GanInference.Core.Batching;

/// <summary>
/// Dynamic batching for one model, as Triton's dynamic batcher: requests of N items wait in a bounded
/// queue; a batch loop takes what is queued, up to <see cref="BatchingSettings.MaxBatchSize"/> items or
/// until the oldest has waited <see cref="BatchingSettings.MaxQueueDelay"/>, and runs them as one batch.
/// A request larger than the batch is split over several batches; small ones are coalesced.
/// Up to <see cref="BatchingSettings.MaxRunsInFlight"/> loops (lanes) share the queue: they take turns to form a
/// batch (one at a time, under a gather gate) and run their batches at the same time on the one executor, so the
/// next batch starts as soon as it is formed instead of when the previous one ends.
/// </summary>
/// <remarks>
/// Under <see cref="BatchingPolicy.Measured"/> the batch size is capped by the model's <see cref="BatchProfile"/>: the
/// loop measures it through its own executor when load first arrives (the first time more than one item is waiting:
/// until then every batch holds one request anyway, and an idle model never pays for it), and
/// <see cref="ProfileAsync"/> measures it again on demand; the profile also says how many lanes may run at once
/// (<see cref="EffectiveRunsInFlight"/>). A lane takes a run slot before it forms its batch; a profile takes every
/// slot, so it measures alone.
/// <para>
/// The loops own a request's output buffer until they complete the request, so requests are completed
/// only from the loops: a request cancelled (or past its deadline) while queued is dropped when a loop
/// reaches it, before it costs compute, and its caller is released then. A request split over batches that run at
/// once completes (or fails) only when the last of them has returned, so its buffer is never written after its caller
/// was released. A full queue is refused at once with <see cref="QueueFullException"/>.
/// </para>
/// </remarks>
/// <typeparam name="TInput">Per-item input description (e.g. seed, label).</typeparam>
/// <typeparam name="TOutput">Element type of the per-item output.</typeparam>
public sealed partial class DynamicBatcher<TInput, TOutput> : IAsyncDisposable
{
    private readonly string _model;
    private readonly BatchingSettings _settings;
    private readonly int _outputsPerItem;
    private readonly IBatchExecutor<TInput, TOutput> _executor;
    private readonly GanTelemetry _telemetry;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<PendingRequest> _queue;
    private readonly CancellationTokenSource _abort = new();
    private readonly KeyValuePair<string, object?> _modelTag;
    private readonly Task _loop;
    private readonly BatchProfiling<TInput>? _profiling;

    // One profile at a time (the first on load, and those asked for through ProfileAsync).
    private readonly SemaphoreSlim _profileGate = new(1, 1);

    // One lane at a time reads the queue and forms a batch: it guards _carry and _pendingWait.
    private readonly SemaphoreSlim _gatherGate = new(1, 1);

    // A lane holds one slot while it forms and runs a batch; a profile holds every active slot. Slots beyond
    // _activeRuns (what the profile says pays) are held back, never released.
    private readonly SemaphoreSlim _runSlots;
    private int _activeRuns;

    // Items queued and not yet taken into a batch (what the gan.queue.images gauge shows), for sharing work between lanes.
    private int _queuedItems;
    private BatchProfile? _profile;
    private bool _profileOnLoad;
    private PendingRequest? _carry;
    private Task<bool>? _pendingWait;
    private int _closed;

    /// <summary>Starts the batch loop.</summary>
    /// <param name="model">Model name, for errors, logs and metric tags.</param>
    /// <param name="settings">Batch size, delay and queue bounds.</param>
    /// <param name="outputsPerItem">Output values each item produces.</param>
    /// <param name="executor">Runs a coalesced batch.</param>
    /// <param name="telemetry">Metrics sink.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="timeProvider">Clock; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="profiling">
    /// How to measure the batch size profile (a sample item and the budget); null: never profiled, so the measured
    /// policy behaves as the fixed one.
    /// </param>
    public DynamicBatcher(
        string model,
        BatchingSettings settings,
        int outputsPerItem,
        IBatchExecutor<TInput, TOutput> executor,
        GanTelemetry telemetry,
        ILogger logger,
        TimeProvider? timeProvider = null,
        BatchProfiling<TInput>? profiling = null)
    {
        ArgumentNullException.ThrowIfNull(settings);
        settings.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(outputsPerItem, 1);
        _model = model;
        _settings = settings;
        _outputsPerItem = outputsPerItem;
        _executor = executor;
        _telemetry = telemetry;
        _logger = logger;
        _time = timeProvider ?? TimeProvider.System;
        _modelTag = new(GanTelemetry.ModelTag, model);
        _profiling = profiling;
        _profileOnLoad = profiling is not null && settings.Policy == BatchingPolicy.Measured;
        _activeRuns = settings.MaxRunsInFlight;
        _runSlots = new SemaphoreSlim(settings.MaxRunsInFlight, settings.MaxRunsInFlight);
        _queue = Channel.CreateBounded<PendingRequest>(new BoundedChannelOptions(settings.MaxQueueSize)
        {
            SingleReader = false,
            FullMode = BoundedChannelFullMode.Wait,
        });

        // The loop outlives whoever built the batcher (a start-up, or a reload RPC): it must not carry that caller's
        // execution context, or every batch span would sit in the trace that happened to load the model.
        using (ExecutionContext.SuppressFlow())
        {
            _loop = Task.Run(RunLanesAsync);
        }
    }

    /// <summary>The settings this batcher runs with.</summary>
    public BatchingSettings Settings => _settings;

    /// <summary>Output values per item.</summary>
    public int OutputsPerItem => _outputsPerItem;

    /// <summary>The latest batch size profile; null until the model has been profiled.</summary>
    public BatchProfile? Profile => Volatile.Read(ref _profile);

    /// <summary>
    /// The most items the loop puts in one batch now: under <see cref="BatchingPolicy.Measured"/> the profile's chosen
    /// size (never above <see cref="BatchingSettings.MaxBatchSize"/>), otherwise, or before a profile, the maximum.
    /// </summary>
    public int EffectiveMaxBatchSize => _settings.Policy == BatchingPolicy.Measured && Profile is { } profile
        ? Math.Min(profile.ChosenBatchSize, _settings.MaxBatchSize)
        : _settings.MaxBatchSize;

    /// <summary>
    /// How many batches may run at once now: under <see cref="BatchingPolicy.Measured"/> the profile's
    /// <see cref="BatchProfile.ChosenRunsInFlight"/> (never above <see cref="BatchingSettings.MaxRunsInFlight"/>),
    /// otherwise, or before a profile, the maximum.
    /// </summary>
    public int EffectiveRunsInFlight => Volatile.Read(ref _activeRuns);

    /// <summary>
    /// How long the oldest queued item may wait for others now: <see cref="BatchingSettings.MaxQueueDelay"/>, except
    /// under <see cref="BatchingPolicy.Measured"/> (with profiling) until a profile says waiting pays
    /// (<see cref="BatchProfile.WaitsForCompany"/>): before that, what is queued runs at once. A model that one client
    /// calls at a time is never profiled (nothing else ever waits), and waiting would only cost it the delay each call.
    /// </summary>
    public TimeSpan EffectiveMaxQueueDelay => _settings.Policy == BatchingPolicy.Measured && _profiling is not null && Profile is not { WaitsForCompany: true }
        ? TimeSpan.Zero
        : _settings.MaxQueueDelay;

    /// <summary>
    /// Measures the batch size profile now, through the executor, between two batches (queued requests wait for it),
    /// and makes it the one the measured policy follows.
    /// </summary>
    /// <exception cref="InvalidOperationException">The batcher was built without profiling.</exception>
    /// <exception cref="ServiceUnavailableException">The batcher is shutting down.</exception>
    public async Task<BatchProfile> ProfileAsync(CancellationToken cancellationToken)
    {
        if (_profiling is null)
        {
            throw new InvalidOperationException($"model '{_model}' has no batch profiling");
        }

        if (Volatile.Read(ref _closed) != 0)
        {
            throw new ServiceUnavailableException($"model '{_model}' is shutting down");
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _abort.Token);
        try
        {
            // Not under the gather gate: an idle lane holds it while it waits for requests.
            return await MeasureProfileAsync(linked.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new ServiceUnavailableException($"model '{_model}' is shutting down");
        }
    }

    /// <summary>
    /// Takes every active run slot (waiting for the batches in flight to end), measures and publishes a profile, then
    /// releases as many slots as the profile says pay. One profile at a time: two taking slots at once could each end
    /// up holding some and waiting for the rest. A lane that holds a slot waits for nothing but its own batch, so the
    /// slots in use always come back.
    /// </summary>
    private async Task<BatchProfile> MeasureProfileAsync(CancellationToken cancellationToken)
    {
        await _profileGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var held = 0;
        var active = _activeRuns;
        try
        {
            for (; held < active; held++)
            {
                await _runSlots.WaitAsync(cancellationToken).ConfigureAwait(false);
            }

            var profiling = _profiling!;
            var profile = await BatchProfiler.MeasureAsync(
                _executor, profiling.Sample, _outputsPerItem, _settings.MaxBatchSize, _settings.MaxRunsInFlight, profiling.Settings, _time, cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _profile, profile);
            _profileOnLoad = false;
            held = _settings.Policy == BatchingPolicy.Measured ? Math.Clamp(profile.ChosenRunsInFlight, 1, _settings.MaxRunsInFlight) : _settings.MaxRunsInFlight;
            Volatile.Write(ref _activeRuns, held);
            return PublishProfile(profile);
        }
        finally
        {
            if (held > 0)
            {
                _runSlots.Release(held);
            }

            _profileGate.Release();
        }
    }

    private BatchProfile PublishProfile(BatchProfile profile)
    {
        foreach (var size in profile.Sizes)
        {
            _telemetry.BatchProfileThroughput.Record(size.ImagesPerSecond, _modelTag, new(GanTelemetry.BatchSizeTag, size.BatchSize));
        }

        _telemetry.ChosenBatchSize.Record(EffectiveMaxBatchSize, _modelTag);
        _telemetry.RunsInFlight.Record(EffectiveRunsInFlight, _modelTag);
        LogProfiled(
            _logger,
            _model,
            string.Join(", ", profile.Sizes.Select(s => $"{s.BatchSize}: {s.ImagesPerSecond:F0}/s")),
            string.Join(", ", profile.RunsInFlight.Select(r => $"{r.Runs}: {r.ImagesPerSecond:F0}/s")),
            EffectiveMaxBatchSize,
            EffectiveRunsInFlight,
            _settings.Policy.ToName());
        return profile;
    }

    /// <summary>
    /// Load has arrived when more than one item waits: then the batch size matters, so the first such moment is
    /// when the loop measures the profile (the requests wait for it, a few hundred milliseconds per size).
    /// </summary>
    private bool LoadHasArrived() =>
        _carry is not null || _queue.Reader.Count > 1 || (_queue.Reader.TryPeek(out var first) && first.RemainingItems > 1);

    /// <summary>Measures the first profile; the caller holds the gather gate and no run slot (the queue waits meanwhile).</summary>
    private async ValueTask ProfileOnLoadAsync()
    {
        try
        {
            if (Profile is null)
            {
                await MeasureProfileAsync(_abort.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !_abort.IsCancellationRequested)
        {
            // The model still serves, with its batches capped by the maximum only.
            LogProfileFailed(_logger, ex, _model);
        }
        finally
        {
            _profileOnLoad = false;
        }
    }

    /// <summary>
    /// Queues a request and completes when all its items have been computed into <paramref name="outputs"/>.
    /// </summary>
    /// <param name="inputs">The request's items.</param>
    /// <param name="outputs">Destination, at least <c>inputs.Length * OutputsPerItem</c> long; owned by the batcher until the task completes.</param>
    /// <param name="deadlineUtc">When the caller stops waiting; <see cref="DateTime.MaxValue"/> for none.</param>
    /// <param name="cancellationToken">Cancels the request; it is dropped before its next batch.</param>
    /// <param name="waitForRoom">
    /// When the queue is full, wait for room (until the deadline or cancellation) instead of refusing at once:
    /// streams use it, so backpressure slows them down instead of failing their images.
    /// </param>
    /// <exception cref="QueueFullException">The queue holds <see cref="BatchingSettings.MaxQueueSize"/> requests (and <paramref name="waitForRoom"/> is false).</exception>
    /// <exception cref="RequestExpiredException">The deadline passed while waiting for room.</exception>
    /// <exception cref="ServiceUnavailableException">The batcher is shutting down.</exception>
    public ValueTask SubmitAsync(ReadOnlyMemory<TInput> inputs, Memory<TOutput> outputs, DateTime deadlineUtc, CancellationToken cancellationToken, bool waitForRoom = false)
    {
        if (outputs.Length < (long)inputs.Length * _outputsPerItem)
        {
            throw new ArgumentException($"outputs holds {outputs.Length} values; {inputs.Length} items need {(long)inputs.Length * _outputsPerItem}", nameof(outputs));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (inputs.IsEmpty)
        {
            return ValueTask.CompletedTask;
        }

        if (Volatile.Read(ref _closed) != 0)
        {
            throw new ServiceUnavailableException($"model '{_model}' is shutting down");
        }

        var request = new PendingRequest(inputs, outputs, deadlineUtc, cancellationToken, _time.GetTimestamp(), _time.GetUtcNow(), Activity.Current?.Context ?? default);
        CountQueued(inputs.Length);
        if (!_queue.Writer.TryWrite(request))
        {
            if (!waitForRoom || Volatile.Read(ref _closed) != 0)
            {
                CountQueued(-inputs.Length);
            }

            if (Volatile.Read(ref _closed) != 0)
            {
                throw new ServiceUnavailableException($"model '{_model}' is shutting down");
            }

            if (waitForRoom)
            {
                return EnqueueWhenRoomAsync(request);
            }

            _telemetry.DroppedRequests.Add(1, _modelTag, new("reason", "queue_full"));
            throw new QueueFullException(_model, _settings.MaxQueueSize);
        }

        return request.AsValueTask();
    }

    /// <summary>Waits for room in the queue (bounded by the request's deadline), then for the request to complete.</summary>
    private async ValueTask EnqueueWhenRoomAsync(PendingRequest request)
    {
        var left = request.DeadlineUtc == DateTime.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromTicks(Math.Max(0, (request.DeadlineUtc - _time.GetUtcNow().UtcDateTime).Ticks));
        using (var deadline = new CancellationTokenSource(left, _time))
        using (var wait = CancellationTokenSource.CreateLinkedTokenSource(request.CancellationToken, deadline.Token))
        {
            try
            {
                // Until this write succeeds the request is not queued, so its buffers are still the caller's.
                await _queue.Writer.WriteAsync(request, wait.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Never queued: off the gauge again, and the reason in the service's own terms.
                CountQueued(-request.Inputs.Length);
                if (ex is OperationCanceledException && deadline.IsCancellationRequested && !request.CancellationToken.IsCancellationRequested)
                {
                    _telemetry.DroppedRequests.Add(1, _modelTag, new("reason", "deadline"));
                    throw new RequestExpiredException($"the deadline passed while the request waited for room in model '{_model}''s queue (maxQueueSize {_settings.MaxQueueSize})");
                }

                if (ex is ChannelClosedException)
                {
                    throw new ServiceUnavailableException($"model '{_model}' is shutting down");
                }

                throw;
            }
        }

        await request.AsValueTask().ConfigureAwait(false);
    }

    /// <summary>
    /// Stops accepting requests and lets the loop finish what is queued. When
    /// <paramref name="cancellationToken"/> fires first, what is still queued fails with
    /// <see cref="ServiceUnavailableException"/>.
    /// </summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        Interlocked.Exchange(ref _closed, 1);
        _queue.Writer.TryComplete();
        await using (cancellationToken.Register(static state => ((CancellationTokenSource)state!).Cancel(), _abort))
        {
            await _loop.ConfigureAwait(false);
        }
    }

    /// <summary>Stops at once: queued requests fail with <see cref="ServiceUnavailableException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(new CancellationToken(canceled: true)).ConfigureAwait(false);
        _abort.Dispose();
    }

    /// <summary>Runs the lanes until the queue is completed and drained (or aborted), then fails what is left.</summary>
    private async Task RunLanesAsync()
    {
        var lanes = new Task[_settings.MaxRunsInFlight];
        for (var i = 0; i < lanes.Length; i++)
        {
            lanes[i] = RunLaneAsync();
        }

        await Task.WhenAll(lanes).ConfigureAwait(false);
        FailRemaining();
    }

    /// <summary>
    /// One lane: under the gather gate, wait for work, take a run slot and form a batch (dropping the dead); then run it
    /// outside the gate, so the next lane forms the next batch meanwhile.
    /// </summary>
    private async Task RunLaneAsync()
    {
        var slices = new BatchSlice<TInput, TOutput>[_settings.MaxBatchSize];
        var owners = new PendingRequest[_settings.MaxBatchSize];
        try
        {
            while (!_abort.IsCancellationRequested)
            {
                int sliceCount, itemCount;
                await _gatherGate.WaitAsync(_abort.Token).ConfigureAwait(false);
                var slotHeld = false;
                try
                {
                    // Block until there is work; false means the queue was completed and is drained.
                    if (_carry is null && !await WaitForRequestsAsync(timeout: null).ConfigureAwait(false))
                    {
                        break;
                    }

                    if (_profileOnLoad && LoadHasArrived())
                    {
                        await ProfileOnLoadAsync().ConfigureAwait(false);
                    }

                    // The slot first, the batch after: what arrives while every slot is busy still joins this batch.
                    await _runSlots.WaitAsync(_abort.Token).ConfigureAwait(false);
                    slotHeld = true;
                    (sliceCount, itemCount) = await GatherBatchAsync(slices, owners, EffectiveMaxBatchSize).ConfigureAwait(false);
                    (sliceCount, itemCount) = DropDeadSlices(slices, owners, sliceCount);
                }
                catch
                {
                    if (slotHeld)
                    {
                        _runSlots.Release();
                    }

                    // Requests already taken into the batch are no longer in the queue: fail them here, or their callers would wait for ever.
                    FailGathered(owners, slices, new ServiceUnavailableException($"model '{_model}' is shutting down"));
                    throw;
                }
                finally
                {
                    _gatherGate.Release();
                }

                try
                {
                    if (sliceCount > 0)
                    {
                        await ExecuteBatchAsync(slices, owners, sliceCount, itemCount).ConfigureAwait(false);
                    }
                }
                finally
                {
                    _runSlots.Release();
                }
            }
        }
        catch (OperationCanceledException) when (_abort.IsCancellationRequested)
        {
            // Aborted by StopAsync's token: RunLanesAsync fails what is left once every lane has stopped.
        }
        catch (Exception ex)
        {
            LogLoopFailed(_logger, ex, _model);
        }
    }

    /// <summary>Fails the requests of a batch that was formed but will not run.</summary>
    private void FailGathered(PendingRequest[] owners, BatchSlice<TInput, TOutput>[] slices, Exception failure)
    {
        for (var i = 0; i < owners.Length && owners[i] is { } owner; i++)
        {
            owner.FinishSlice(slices[i].Inputs.Length, failure, out var firstFailure);
            if (firstFailure)
            {
                CountQueued(-owner.RemainingItems);
            }
        }

        Array.Clear(owners);
        Array.Clear(slices);
    }

    /// <summary>Takes requests into one batch of at most <paramref name="maxItems"/> items (see the class summary).</summary>
    private async ValueTask<(int SliceCount, int ItemCount)> GatherBatchAsync(BatchSlice<TInput, TOutput>[] slices, PendingRequest[] owners, int maxItems)
    {
        var queueDelay = EffectiveMaxQueueDelay;
        if (queueDelay == TimeSpan.Zero)
        {
            maxItems = ShareForIdleRuns(maxItems);
        }

        var sliceCount = 0;
        var itemCount = 0;
        var oldest = long.MaxValue;
        while (itemCount < maxItems)
        {
            var request = TakeNextLiveRequest();
            if (request is null)
            {
                if (itemCount == 0)
                {
                    // Everything queued was dropped; wait for more (or the end).
                    if (!await WaitForRequestsAsync(timeout: null).ConfigureAwait(false))
                    {
                        break;
                    }

                    continue;
                }

                if (IsPreferredSize(itemCount))
                {
                    break;
                }

                var remaining = queueDelay - _time.GetElapsedTime(oldest);
                if (remaining <= TimeSpan.Zero || !await WaitForRequestsAsync(remaining).ConfigureAwait(false))
                {
                    break;
                }

                continue;
            }

            if (request.DispatchedItems == 0)
            {
                RecordQueueWait(request);
            }

            oldest = Math.Min(oldest, request.EnqueuedTimestamp);
            var take = Math.Min(request.RemainingItems, maxItems - itemCount);
            slices[sliceCount] = request.TakeSlice(take, _outputsPerItem);
            CountQueued(-take);
            owners[sliceCount] = request;
            sliceCount++;
            itemCount += take;
            if (request.RemainingItems > 0)
            {
                // The batch is full; the rest of this request leads the next one.
                _carry = request;
            }
        }

        return (sliceCount, itemCount);
    }

    /// <summary>
    /// With run slots free besides this lane's, what is queued is shared out instead of taken whole: this batch takes
    /// its share (queued items over the free slots, rounded up), and the next lanes take theirs and run at the same
    /// time. Where a second run pays (the profile kept it), two batches of one beat one batch of two (on a 2-core CPU,
    /// batch 1 twice at once did 1.3-1.75x batch 1 once); under load every slot is busy and batches fill to the cap.
    /// Only where the batcher does not wait for company (<see cref="EffectiveMaxQueueDelay"/> zero): where it waits,
    /// waiting was configured or measured to pay, and batches are meant to fill.
    /// </summary>
    private int ShareForIdleRuns(int maxItems)
    {
        var idle = _runSlots.CurrentCount;
        if (idle == 0)
        {
            return maxItems;
        }

        var queued = Volatile.Read(ref _queuedItems);
        return Math.Clamp((queued + idle) / (idle + 1), 1, maxItems);
    }

    private void CountQueued(int delta)
    {
        Interlocked.Add(ref _queuedItems, delta);
        _telemetry.QueuedImages.Add(delta, _modelTag);
    }

    private async ValueTask ExecuteBatchAsync(BatchSlice<TInput, TOutput>[] slices, PendingRequest[] owners, int sliceCount, int itemCount)
    {
        var started = _time.GetTimestamp();
        using (var activity = StartBatchActivity(owners, sliceCount))
        {
            activity?.SetTag(GanTelemetry.ModelTag, _model);
            activity?.SetTag("gan.batch.size", itemCount);
            activity?.SetTag("gan.batch.requests", sliceCount);
            try
            {
                await _executor.ExecuteAsync(slices.AsMemory(0, sliceCount), itemCount, _abort.Token).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                activity?.SetStatus(ActivityStatusCode.Error, ex.Message);
                var failure = ex is OperationCanceledException && _abort.IsCancellationRequested
                    ? new ServiceUnavailableException($"model '{_model}' is shutting down")
                    : ex;
                if (failure == ex)
                {
                    LogBatchFailed(_logger, ex, _model, itemCount);
                }

                // The rest of a split request is not run (the lane forming the next batch skips it); the request
                // fails when its last batch in flight returns.
                FailGathered(owners, slices, failure);
                return;
            }
        }

        var elapsed = _time.GetElapsedTime(started);
        _telemetry.BatchSize.Record(itemCount, _modelTag);
        _telemetry.InferenceDuration.Record(elapsed.TotalSeconds, _modelTag);
        _telemetry.InferenceCount.Add(itemCount, _modelTag);
        _telemetry.InferenceExecCount.Add(1, _modelTag);
        _telemetry.InferenceComputeTime.Add(elapsed.TotalSeconds, _modelTag);
        for (var i = 0; i < sliceCount; i++)
        {
            owners[i].FinishSlice(slices[i].Inputs.Length, failure: null, out _);
        }

        Array.Clear(owners, 0, sliceCount);
        Array.Clear(slices, 0, sliceCount);
    }

    /// <summary>
    /// The batch's span is a root of its own (the loop carries no caller's context) that links to the trace of
    /// every request it serves: one batch serves many traces, which is what links are for.
    /// </summary>
    private static Activity? StartBatchActivity(PendingRequest[] owners, int sliceCount)
    {
        if (!GanTelemetry.ActivitySource.HasListeners())
        {
            return null;
        }

        var links = new List<ActivityLink>(sliceCount);
        for (var i = 0; i < sliceCount; i++)
        {
            if (owners[i].ParentContext != default && (i == 0 || owners[i] != owners[i - 1]))
            {
                links.Add(new ActivityLink(owners[i].ParentContext));
            }
        }

        return GanTelemetry.ActivitySource.StartActivity("gan.batch.inference", ActivityKind.Internal, parentContext: default, tags: null, links: links);
    }

    /// <summary>
    /// A request taken early in a batch may be cancelled or pass its deadline while the batch waits for
    /// <see cref="BatchingSettings.MaxQueueDelay"/>; it is dropped here, the last moment before it costs compute.
    /// </summary>
    private (int SliceCount, int ItemCount) DropDeadSlices(BatchSlice<TInput, TOutput>[] slices, PendingRequest[] owners, int sliceCount)
    {
        var kept = 0;
        var items = 0;
        for (var i = 0; i < sliceCount; i++)
        {
            var owner = owners[i];
            if (owner.IsDone || TryDropDead(owner))
            {
                // Its failure is recorded; the slice that will not run is returned, so the request can complete.
                owner.FinishSlice(slices[i].Inputs.Length, failure: null, out _);
                continue;
            }

            slices[kept] = slices[i];
            owners[kept] = owner;
            items += slices[i].Inputs.Length;
            kept++;
        }

        Array.Clear(owners, kept, sliceCount - kept);
        Array.Clear(slices, kept, sliceCount - kept);
        if (_carry is { IsDone: true })
        {
            _carry = null;
        }

        return (kept, items);
    }

    /// <summary>Fails the request when it was cancelled or its deadline passed; true when it was dropped.</summary>
    private bool TryDropDead(PendingRequest request)
    {
        // The deadline first: a call past its deadline is usually cancelled by the transport too, and "deadline" is the truer reason.
        if (request.DeadlineUtc <= _time.GetUtcNow().UtcDateTime)
        {
            _telemetry.DroppedRequests.Add(1, _modelTag, new("reason", "deadline"));
            FailQueued(request, new RequestExpiredException($"the deadline passed while the request waited in model '{_model}''s queue"));
            return true;
        }

        if (request.CancellationToken.IsCancellationRequested)
        {
            _telemetry.DroppedRequests.Add(1, _modelTag, new("reason", "cancelled"));
            FailQueued(request, new OperationCanceledException("the request was cancelled while queued", innerException: null, request.CancellationToken));
            return true;
        }

        return false;
    }

    /// <summary>The carried-over request first, then the queue; drops cancelled and expired requests on the way.</summary>
    private PendingRequest? TakeNextLiveRequest()
    {
        while (true)
        {
            PendingRequest? request;
            if (_carry is not null)
            {
                request = _carry;
                _carry = null;
            }
            else if (!_queue.Reader.TryRead(out request))
            {
                return null;
            }

            if (request.IsDone || TryDropDead(request))
            {
                continue;
            }

            return request;
        }
    }

    private bool IsPreferredSize(int itemCount)
    {
        foreach (var size in _settings.PreferredBatchSizes)
        {
            if (size == itemCount)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Waits until the queue has a request; false on timeout or when the queue is completed and empty.</summary>
    private async ValueTask<bool> WaitForRequestsAsync(TimeSpan? timeout)
    {
        // One outstanding wait is kept across timeouts, so a timed-out wait is not orphaned.
        _pendingWait ??= _queue.Reader.WaitToReadAsync(_abort.Token).AsTask();
        if (timeout is { } delay && !_pendingWait.IsCompleted)
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(_abort.Token);
            await Task.WhenAny(_pendingWait, Task.Delay(delay, _time, timer.Token)).ConfigureAwait(false);
            await timer.CancelAsync().ConfigureAwait(false);
            if (!_pendingWait.IsCompleted)
            {
                return false;
            }
        }

        var wait = _pendingWait;
        _pendingWait = null;
        return await wait.ConfigureAwait(false);
    }

    private void RecordQueueWait(PendingRequest request)
    {
        var waited = _time.GetElapsedTime(request.EnqueuedTimestamp).TotalSeconds;
        _telemetry.QueueDuration.Record(waited, _modelTag);
        _telemetry.InferenceQueueTime.Add(waited, _modelTag);
        if (GanTelemetry.ActivitySource.HasListeners())
        {
            // The span starts when the request was queued and ends now, under the caller's trace.
            using var activity = GanTelemetry.ActivitySource.StartActivity(
                "gan.queue.wait", ActivityKind.Internal, request.ParentContext, startTime: request.EnqueuedAt);
            activity?.SetTag(GanTelemetry.ModelTag, _model);
            activity?.SetTag("gan.items", request.Inputs.Length);
        }
    }

    private void FailRemaining()
    {
        var failure = new ServiceUnavailableException($"model '{_model}' is shutting down");
        if (_carry is not null)
        {
            FailQueued(_carry, failure);
        }

        _carry = null;
        while (_queue.Reader.TryRead(out var request))
        {
            FailQueued(request, failure);
        }
    }

    /// <summary>Fails a request and takes the items it still had queued off the gauge.</summary>
    private void FailQueued(PendingRequest request, Exception failure)
    {
        if (request.Fail(failure) && request.RemainingItems > 0)
        {
            CountQueued(-request.RemainingItems);
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Error, Message = "Batch of {ItemCount} items failed on model {Model}")]
    private static partial void LogBatchFailed(ILogger logger, Exception exception, string model, int itemCount);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Critical, Message = "Batch loop of model {Model} stopped unexpectedly")]
    private static partial void LogLoopFailed(ILogger logger, Exception exception, string model);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Information, Message = "Batch size profile of model {Model} (images/s): {Profile}; runs in flight at batch 1: {RunsProfile}; batches of up to {BatchSize} items, {RunsInFlight} at once (policy {Policy})")]
    private static partial void LogProfiled(ILogger logger, string model, string profile, string runsProfile, int batchSize, int runsInFlight, string policy);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "Batch size profile of model {Model} failed; its batches grow to the maximum")]
    private static partial void LogProfileFailed(ILogger logger, Exception exception, string model);

    /// <summary>
    /// A queued request; completed only by the batch loops. Its slices may run in several batches at once: it completes
    /// when every item has been computed, or fails once a failure is recorded and none of its slices is still running.
    /// </summary>
    private sealed class PendingRequest(
        ReadOnlyMemory<TInput> inputs,
        Memory<TOutput> outputs,
        DateTime deadlineUtc,
        CancellationToken cancellationToken,
        long enqueuedTimestamp,
        DateTimeOffset enqueuedAt,
        ActivityContext parentContext) : IValueTaskSource
    {
        // Continuations run on the thread pool, never inline on a batch loop.
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
        private readonly Lock _sync = new();
        private bool _completed;
        private Exception? _failure;
        private int _inFlight;
        private int _finishedItems;

        public ReadOnlyMemory<TInput> Inputs { get; } = inputs;

        public DateTime DeadlineUtc { get; } = deadlineUtc;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public long EnqueuedTimestamp { get; } = enqueuedTimestamp;

        public DateTimeOffset EnqueuedAt { get; } = enqueuedAt;

        public ActivityContext ParentContext { get; } = parentContext;

        /// <summary>Items taken into batches so far (only the lane holding the gather gate takes them).</summary>
        public int DispatchedItems { get; private set; }

        public int RemainingItems => Inputs.Length - DispatchedItems;

        /// <summary>Whether no more of it should run: it failed (perhaps still waiting for a batch in flight) or completed.</summary>
        public bool IsDone
        {
            get
            {
                lock (_sync)
                {
                    return _completed || _failure is not null;
                }
            }
        }

        public ValueTask AsValueTask() => new(this, _core.Version);

        public BatchSlice<TInput, TOutput> TakeSlice(int count, int outputsPerItem)
        {
            var slice = new BatchSlice<TInput, TOutput>(
                Inputs.Slice(DispatchedItems, count),
                outputs.Slice(DispatchedItems * outputsPerItem, count * outputsPerItem),
                outputsPerItem);
            DispatchedItems += count;
            lock (_sync)
            {
                _inFlight++;
            }

            return slice;
        }

        /// <summary>
        /// A slice taken by <see cref="TakeSlice"/> has returned: computed (<paramref name="failure"/> null), or failed.
        /// <paramref name="firstFailure"/> says whether this call recorded the request's failure.
        /// </summary>
        public void FinishSlice(int items, Exception? failure, out bool firstFailure)
        {
            lock (_sync)
            {
                _inFlight--;
                firstFailure = failure is not null && !_completed && _failure is null;
                if (firstFailure)
                {
                    _failure = failure;
                }
                else if (failure is null)
                {
                    _finishedItems += items;
                }

                TryCompleteLocked();
            }
        }

        /// <summary>Fails the request; false when it had already completed or failed.</summary>
        public bool Fail(Exception exception)
        {
            lock (_sync)
            {
                if (_completed || _failure is not null)
                {
                    return false;
                }

                _failure = exception;
                TryCompleteLocked();
                return true;
            }
        }

        public void GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
            => _core.OnCompleted(continuation, state, token, flags);

        // Releases the caller only when no slice of it is still running: its buffer is the batcher's until then.
        private void TryCompleteLocked()
        {
            if (_completed || _inFlight > 0)
            {
                return;
            }

            if (_failure is not null)
            {
                _completed = true;
                _core.SetException(_failure);
            }
            else if (_finishedItems == Inputs.Length)
            {
                _completed = true;
                _core.SetResult(true);
            }
        }
    }
}
