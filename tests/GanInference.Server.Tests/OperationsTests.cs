using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Reflection.V1Alpha;

namespace GanInference.Server.Tests;

[Collection(ServerCollection.Name)]
public sealed class OperationsTests(ServerFixture fixture)
{
    [Fact]
    public async Task Health_is_serving_overall_and_per_model_and_unknown_names_are_not_found()
    {
        var health = new Health.HealthClient(fixture.Server.Channel);

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = string.Empty })).Status);
        foreach (var model in new[] { ServerFixture.Unconditional, ServerFixture.Conditional, ServerFixture.ImageToImage })
        {
            Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest { Service = model })).Status);
        }

        var error = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "broken" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, error.StatusCode);
    }

    [Fact]
    public async Task Reflection_lists_the_inference_service()
    {
        var reflection = new ServerReflection.ServerReflectionClient(fixture.Server.Channel);
        using var call = reflection.ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = string.Empty });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext(CancellationToken.None));

        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("gan.v1.GanInference", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }

    [Fact]
    public async Task Metrics_are_served_as_prometheus_text_on_the_http_listener_and_not_on_the_grpc_port()
    {
        await fixture.Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Count = 5, Seed = 11 });

        using var http = new HttpClient();
        var text = await ScrapeUntilAsync(http, fixture.Server.HttpAddress + "/metrics", "gan_images");
        foreach (var metric in new[] { "gan_requests_total", "gan_images_total", "gan_request_duration_seconds_bucket", "gan_queue_duration_seconds_bucket", "gan_batch_size_bucket", "gan_inference_duration_seconds_bucket", "gan_encode_duration_seconds_bucket", "gan_queue_images", "gan_requests_inflight" })
        {
            Assert.Contains(metric, text);
        }

        Assert.Contains($"model=\"{ServerFixture.Unconditional}\"", text);
        Assert.Contains("status=\"OK\"", text);

        // Only the HTTP/1.1 listener serves it: the gRPC port (cleartext HTTP/2) is for gRPC alone.
        using var request = new HttpRequestMessage(HttpMethod.Get, fixture.Server.Address + "/metrics")
        {
            Version = System.Net.HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        using var h2 = await http.SendAsync(request);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, h2.StatusCode);
    }

    [Fact]
    public async Task Triton_shaped_counters_count_calls_images_and_runs_per_model()
    {
        using var http = new HttpClient();
        var url = fixture.Server.HttpAddress + "/metrics";
        var model = ServerFixture.Unconditional;
        var before = Counters(await http.GetStringAsync(url), model);

        await fixture.Client.GenerateAsync(new GenerateRequest { Model = model, Count = 5, Seed = 21 });
        await fixture.Client.GetModelAsync(new GetModelRequest { Model = model });
        var refused = await Assert.ThrowsAsync<RpcException>(() => fixture.Client.GenerateAsync(new GenerateRequest { Model = model, Count = 1, Truncation = -1 }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, refused.StatusCode);

        // The exporter caches a scrape briefly: read until both calls show.
        var after = before;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); DateTime.UtcNow < deadline; await Task.Delay(100))
        {
            after = Counters(await http.GetStringAsync(url), model);
            if (after["gan_inference_request_failure_total"] > before["gan_inference_request_failure_total"] && after["gan_inference_request_success_total"] > before["gan_inference_request_success_total"])
            {
                break;
            }
        }

        double Added(string name) => after[name] - before[name];
        Assert.Equal(1, Added("gan_inference_request_success_total")); // GetModel is not an inference
        Assert.Equal(1, Added("gan_inference_request_failure_total"));
        Assert.Equal(5, Added("gan_inference_count_total"));
        Assert.InRange(Added("gan_inference_exec_count_total"), 1, 5);
        Assert.True(Added("gan_inference_compute_duration_seconds_total") > 0);
        Assert.True(Added("gan_inference_queue_duration_seconds_total") >= 0);
        Assert.True(Added("gan_inference_request_duration_seconds_total") >= Added("gan_inference_compute_duration_seconds_total"));
        Assert.Contains($"gan_inference_request_failure_total{{otel_scope_name=\"GanInference\",model=\"{model}\",status=\"InvalidArgument\"}}", await http.GetStringAsync(url));
    }

    /// <summary>The Triton-shaped counters of one model in a Prometheus text (0 for a series not there yet).</summary>
    [Fact]
    public async Task Encode_time_is_recorded_for_every_image_by_format()
    {
        using var http = new HttpClient();
        var url = fixture.Server.HttpAddress + "/metrics";
        var model = ServerFixture.Unconditional;
        var before = EncodeSeries(await http.GetStringAsync(url), model, "JPEG");

        await fixture.Client.GenerateAsync(new GenerateRequest { Model = model, Count = 3, Seed = 31, Format = ImageFormat.Jpeg });

        // The exporter caches a scrape briefly: read until the three images show up (or the deadline passes).
        var after = before;
        for (var deadline = DateTime.UtcNow.AddSeconds(10); after.Count < before.Count + 3 && DateTime.UtcNow < deadline; await Task.Delay(200))
        {
            after = EncodeSeries(await http.GetStringAsync(url), model, "JPEG");
        }

        Assert.Equal(before.Count + 3, after.Count);
        Assert.True(after.Sum > before.Sum, "three JPEG encodes took no time at all");
    }

    private static (double Count, double Sum) EncodeSeries(string text, string model, string format)
    {
        double Read(string name) => text.Split('\n')
            .Where(l => l.StartsWith(name + "{", StringComparison.Ordinal) && l.Contains($"model=\"{model}\"", StringComparison.Ordinal) && l.Contains($"format=\"{format}\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        return (Read("gan_encode_duration_seconds_count"), Read("gan_encode_duration_seconds_sum"));
    }

    private static Dictionary<string, double> Counters(string text, string model)
    {
        string[] names =
        [
            "gan_inference_request_success_total", "gan_inference_request_failure_total", "gan_inference_count_total", "gan_inference_exec_count_total",
            "gan_inference_request_duration_seconds_total", "gan_inference_queue_duration_seconds_total", "gan_inference_compute_duration_seconds_total",
        ];
        var lines = text.Split('\n');
        return names.ToDictionary(n => n, n => lines
            .Where(l => l.StartsWith(n + "{", StringComparison.Ordinal) && l.Contains($"model=\"{model}\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture)));
    }

    private static async Task<string> ScrapeUntilAsync(HttpClient http, string url, string expected)
    {
        // The exporter caches a scrape briefly; retry until the fresh values show up.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var text = await http.GetStringAsync(url);
            if (text.Contains(expected, StringComparison.Ordinal) || DateTime.UtcNow > deadline)
            {
                return text;
            }

            await Task.Delay(200);
        }
    }
}
