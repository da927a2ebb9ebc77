using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;
using Grpc.Health.V1;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace GanInference.Server.Tests;

public sealed class ShutdownTests
{
    [Fact]
    public async Task Stopping_marks_health_not_serving_refuses_new_calls_and_drains_running_ones()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", size: 16);
        await using var server = await RunningServer.StartAsync(models, "--Generation:ChunkSize=16");
        var health = new Health.HealthClient(server.Channel);

        using var running = server.Client.GenerateStream(new GenerateRequest { Model = "m", Count = 2000, Seed = 1, Format = ImageFormat.RawU8 });
        Assert.True(await running.ResponseStream.MoveNext(CancellationToken.None));

        // What SIGTERM does first: ApplicationStopping fires (the host then waits for Kestrel to drain).
        server.App.Services.GetRequiredService<IHostApplicationLifetime>().StopApplication();

        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest { Service = "m" })).Status);
        var refused = await Assert.ThrowsAsync<RpcException>(() => server.Client.GenerateAsync(new GenerateRequest { Model = "m" }).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        Assert.Contains("shutting down", refused.Status.Detail);

        var received = 1;
        while (await running.ResponseStream.MoveNext(CancellationToken.None))
        {
            Assert.Equal((uint)received, running.ResponseStream.Current.Index);
            received++;
        }

        Assert.Equal(2000, received);
        Assert.Equal(StatusCode.OK, running.GetStatus().StatusCode);
    }

    [Fact]
    public async Task A_call_still_running_when_the_drain_time_runs_out_ends_with_unavailable_and_the_host_stops_on_time()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", size: 16);
        await using var server = await RunningServer.StartAsync(models, "--Shutdown:DrainTimeoutSeconds=1", "--Generation:ChunkSize=16", "--Models:Watch=false");

        // A million float images: far more than can be produced within the one-second drain time.
        using var endless = server.Client.GenerateStream(new GenerateRequest { Model = "m", Count = 1_000_000, Seed = 1, Format = ImageFormat.RawF32 });
        Assert.True(await endless.ResponseStream.MoveNext(CancellationToken.None));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var stopping = server.App.StopAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await endless.ResponseStream.MoveNext(CancellationToken.None))
            {
            }
        });
        await stopping.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.True(error.StatusCode == StatusCode.Unavailable, $"{error.StatusCode}: {error.Status.Detail} {error.Status.DebugException}");
        Assert.Contains("Shutdown:DrainTimeoutSeconds", error.Status.Detail);
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(1 + 5 + 2));
    }

    [Fact]
    public async Task A_slow_reader_still_reading_when_the_drain_time_runs_out_gets_the_unavailable_status_with_its_message()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", size: 16);
        await using var server = await RunningServer.StartAsync(models, "--Shutdown:DrainTimeoutSeconds=1", "--Generation:ChunkSize=16", "--Models:Watch=false");

        // The reader keeps reading, but slower than the server writes: when the drain time runs out a write is
        // almost always waiting on HTTP/2 flow control. That reader frees the window within moments, so it must get
        // the status and its message, not a reset stream (which a loaded CI machine turned into a flaky test).
        using var slow = server.Client.GenerateStream(new GenerateRequest { Model = "m", Count = 1_000_000, Seed = 1, Format = ImageFormat.RawF32 });
        Assert.True(await slow.ResponseStream.MoveNext(CancellationToken.None));
        var stopping = server.App.StopAsync();

        var error = await Assert.ThrowsAsync<RpcException>(async () =>
        {
            while (await slow.ResponseStream.MoveNext(CancellationToken.None))
            {
                await Task.Delay(2);
            }
        });
        await stopping.WaitAsync(TimeSpan.FromSeconds(15));

        Assert.True(error.StatusCode == StatusCode.Unavailable, $"{error.StatusCode}: {error.Status.Detail} {error.Status.DebugException}");
        Assert.Contains("Shutdown:DrainTimeoutSeconds", error.Status.Detail);
    }

    [Fact]
    public async Task Asking_for_cuda_on_the_cpu_build_fails_at_start_with_a_clear_message()
    {
        using var models = new TinyGanModels();
        var app = GanServer.Create(["--urls=http://127.0.0.1:0", "--Http:Urls=", $"--Models:Path={models.Root}", "--Inference:ExecutionProvider=cuda"]);

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => app.StartAsync());

        Assert.Contains("built with the CPU package of ONNX Runtime", error.Message);
        Assert.Contains("AllowCpuFallback", error.Message);
        await app.DisposeAsync();
    }

    [Fact]
    public async Task Cuda_with_fallback_allowed_runs_on_cpu_and_says_so()
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m");
        await using var server = await RunningServer.StartAsync(models, "--Inference:ExecutionProvider=cuda", "--Inference:AllowCpuFallback=true");

        var info = await server.Client.GetModelAsync(new GetModelRequest { Model = "m" });

        Assert.Equal("cpu", info.ExecutionProvider);
    }
}
