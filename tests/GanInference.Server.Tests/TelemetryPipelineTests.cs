using GanInference.Api.V1;
using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Server.Services;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace GanInference.Server.Tests;

/// <summary>
/// What the per-call path keeps and what it no longer allocates: spans are recorded only when they are exported
/// (Telemetry:OtlpEndpoint), metrics always; a stream's one reused message describes each image alone.
/// </summary>
public sealed class TelemetryPipelineTests
{
    [Fact]
    public async Task Without_an_OTLP_endpoint_no_tracer_records_spans_but_metrics_are_served()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models);

        Assert.Null(server.App.Services.GetService<TracerProvider>());
        Assert.NotNull(server.App.Services.GetService<MeterProvider>());

        await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = 2, Seed = 1 });
        using var http = new HttpClient();
        var metrics = await http.GetStringAsync($"{server.HttpAddress}/metrics");
        Assert.Contains("gan_requests_total{", metrics);
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_the_tracer_is_registered()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");

        // Nothing listens there: the exporter's sends fail in the background, which is all this needs.
        await using var server = await RunningServer.StartAsync(models, "--Telemetry:OtlpEndpoint=http://127.0.0.1:9");

        Assert.NotNull(server.App.Services.GetService<TracerProvider>());
    }

    [Fact]
    public void A_reused_stream_message_keeps_none_of_the_previous_images_optional_fields()
    {
        var geometry = new ImageGeometry(1, 2, 2, -1, 1);
        var message = new GeneratedImage();

        ProtoMapper.Fill(message, new EncodedImage(0, new byte[] { 1, 2, 3, 4 }, Seed: 7, Label: 3, TextIndex: 1), geometry, ImageFormat.RawU8);
        Assert.True(message.HasSeed && message.HasLabel && message.HasTextIndex);

        ProtoMapper.Fill(message, new EncodedImage(1, new byte[] { 5, 6, 7, 8 }, Seed: null, Label: null), geometry, ImageFormat.RawU8);

        Assert.Equal(ProtoMapper.ToProto(new EncodedImage(1, new byte[] { 5, 6, 7, 8 }, Seed: null, Label: null), geometry, ImageFormat.RawU8), message);
        Assert.False(message.HasSeed || message.HasLabel || message.HasTextIndex);
        Assert.Equal(1u, message.Index);
        Assert.Equal(new byte[] { 5, 6, 7, 8 }, message.Data.ToByteArray());
    }
}
