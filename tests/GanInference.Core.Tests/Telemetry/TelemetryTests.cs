using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Core.Repository;
using GanInference.Core.Telemetry;
using GanInference.Tests.TestModels;

namespace GanInference.Core.Tests.Telemetry;

public sealed class TelemetryTests : IAsyncLifetime
{
    private readonly TinyGanModels _models = new();
    private ModelRepository _repository = null!;

    public async Task InitializeAsync()
    {
        _models.AddUnconditional("traced");
        _repository = await RepositoryFactory.LoadAsync(_models.Root);
    }

    public async Task DisposeAsync()
    {
        await _repository.DisposeAsync();
        _models.Dispose();
    }

    [Fact]
    public async Task A_generation_emits_queue_wait_batch_inference_and_encode_spans_under_the_callers_trace()
    {
        var spans = new ConcurrentBag<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == GanTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Add,
        };
        ActivitySource.AddActivityListener(listener);
        using var callerSource = new ActivitySource("test-caller");
        using var callerListener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "test-caller",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
        };
        ActivitySource.AddActivityListener(callerListener);

        var model = _repository.Get("traced");
        var plan = GenerationPlan.Create("traced", model.Signature, 0, new GenerationSpec { Count = 3, Seed = 1 }, 10);
        ActivityTraceId traceId;
        using (var caller = callerSource.StartActivity("caller"))
        {
            traceId = caller!.TraceId;
            await foreach (var _ in RepositoryFactory.Generator().GenerateAsync(model, plan, new ImageEncoding(ImageFormatKind.Png), DateTime.MaxValue, CancellationToken.None))
            {
            }
        }

        // Other test classes generate in parallel; only this model's spans count.
        var ours = spans.Where(s => s.GetTagItem(GanTelemetry.ModelTag) as string == "traced").ToList();
        Assert.Contains(ours, s => s.OperationName == "gan.encode");
        Assert.Equal(traceId, Assert.Single(ours, s => s.OperationName == "gan.queue.wait").TraceId);
        Assert.Equal(3, Assert.Single(ours, s => s.OperationName == "gan.batch.inference").GetTagItem("gan.batch.size"));
    }

    [Fact]
    public async Task Instruments_record_batch_size_queue_and_inference_duration_and_images_per_model()
    {
        var measurements = new ConcurrentBag<(string Name, double Value, string? Model)>();
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == GanTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => measurements.Add((instrument.Name, value, ModelOf(tags))));
        listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => measurements.Add((instrument.Name, value, ModelOf(tags))));
        listener.Start();

        var telemetry = GanTelemetry.CreateStandalone();
        await using var repository = await RepositoryFactory.LoadAsync(_models.Root);
        var model = repository.Get("traced");
        var plan = GenerationPlan.Create("traced", model.Signature, 0, new GenerationSpec { Count = 5, Seed = 1 }, 10);
        var generator = new ImageGenerator(telemetry, Microsoft.Extensions.Options.Options.Create(new GenerationOptions()));
        await foreach (var _ in generator.GenerateAsync(model, plan, new ImageEncoding(ImageFormatKind.RawU8), DateTime.MaxValue, CancellationToken.None))
        {
        }

        // The 5 images may run as one batch or, with both of the model's runs in flight idle, as two shares (3 + 2).
        Assert.Equal(5, measurements.Where(m => m is { Name: "gan.batch.size", Model: "traced" }).Sum(m => m.Value));
        Assert.Contains(measurements, m => m is { Name: "gan.queue.duration", Model: "traced" } && m.Value >= 0);
        Assert.Contains(measurements, m => m is { Name: "gan.inference.duration", Model: "traced" } && m.Value > 0);
        Assert.Contains(measurements, m => m is { Name: "gan.images", Value: 5, Model: "traced" });
    }

    private static string? ModelOf(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        foreach (var tag in tags)
        {
            if (tag.Key == GanTelemetry.ModelTag)
            {
                return tag.Value as string;
            }
        }

        return null;
    }
}
