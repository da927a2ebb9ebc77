using GanInference.Tests.TestModels;
using Microsoft.Extensions.Options;

namespace GanInference.Server.Tests;

/// <summary>Every options class is checked at start: the server does not listen with a value out of range, and says which key.</summary>
public sealed class StartupValidationTests
{
    [Theory]
    [InlineData("--Shutdown:DrainTimeoutSeconds=-1", "Shutdown:DrainTimeoutSeconds is -1")]
    [InlineData("--Shutdown:NotServingDelaySeconds=-0.5", "Shutdown:NotServingDelaySeconds is -0.5")]
    [InlineData("--Models:PollIntervalSeconds=-3", "Models:PollIntervalSeconds is -3")]
    [InlineData("--Models:RetireTimeoutSeconds=-1", "Models:RetireTimeoutSeconds is -1")]
    [InlineData("--Models:Batching:MaxBatchSize=0", "Models:Batching:MaxBatchSize is 0")]
    [InlineData("--Models:Overrides:m:MaxQueueSize=0", "Models:Overrides:m:MaxQueueSize is 0")]
    [InlineData("--Models:Batching:Policy=greedy", "Models:Batching:Policy is 'greedy'; it must be one of: measured, fixed")]
    [InlineData("--Models:Overrides:m:Policy=largest", "Models:Overrides:m:Policy is 'largest'")]
    [InlineData("--Models:Profiling:MillisecondsPerSize=0", "Models:Profiling:MillisecondsPerSize is 0; it must lie in 1..5000")]
    [InlineData("--Models:Profiling:MillisecondsPerSize=60000", "Models:Profiling:MillisecondsPerSize is 60000")]
    [InlineData("--Models:Profiling:Tolerance=-0.1", "Models:Profiling:Tolerance is -0.1")]
    [InlineData("--Models:Profiling:Tolerance=1", "Models:Profiling:Tolerance is 1")]
    [InlineData("--Models:Profiling:WaitSpeedup=0.5", "Models:Profiling:WaitSpeedup is 0.5")]
    [InlineData("--Generation:ChunkSize=-4", "Generation:ChunkSize is -4")]
    [InlineData("--Translation:StreamWindow=-1", "Translation:StreamWindow is -1")]
    [InlineData("--Limits:MaxSendMessageBytes=0", "Limits:MaxSendMessageBytes is 0")]
    [InlineData("--Limits:MaxPixelsPerRequest=-1", "Limits:MaxPixelsPerRequest is -1")]
    [InlineData("--Limits:TransportBlockBytes=5000", "Limits:TransportBlockBytes is 5000; it must be 0 (Kestrel's own 4 KiB pool) or a power of two in 4096..1048576 bytes")]
    [InlineData("--Limits:TransportBlockBytes=2048", "Limits:TransportBlockBytes is 2048")]
    [InlineData("--Limits:TransportBlockBytes=2097152", "Limits:TransportBlockBytes is 2097152")]
    [InlineData("--Limits:TransportBlockBytes=-65536", "Limits:TransportBlockBytes is -65536")]
    [InlineData("--Security:ApiKeys:0= ", "Security:ApiKeys:0 is empty")]
    [InlineData("--Telemetry:OtlpEndpoint=not a url", "Telemetry:OtlpEndpoint 'not a url' is not an absolute URL")]
    public async Task A_value_out_of_range_stops_the_server_at_start_naming_its_key(string argument, string expected)
    {
        using var models = new TinyGanModels();
        models.AddUnconditional("m");
        // Some options are read while the host is built (Kestrel's and the host's own), the rest when it starts.
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GanServer.Create(["--urls=http://127.0.0.1:0", "--Http:Urls=", $"--Models:Path={models.Root}", "--Models:Watch=false", argument]);
            await app.StartAsync();
        });

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void An_http_listener_address_that_is_not_a_url_is_refused_when_the_server_is_built()
    {
        var error = Assert.Throws<FormatException>(() => GanServer.Create(["--urls=http://127.0.0.1:0", "--Http:Urls=localhost-8000"]));

        Assert.Contains("Http:Urls: 'localhost-8000' is not an address to listen on", error.Message);
    }

    [Fact]
    public async Task An_admin_key_that_is_also_an_inference_key_is_refused()
    {
        using var models = new TinyGanModels();
        var error = await Assert.ThrowsAsync<OptionsValidationException>(async () =>
        {
            await using var app = GanServer.Create(["--urls=http://127.0.0.1:0", "--Http:Urls=", $"--Models:Path={models.Root}", "--Security:ApiKeys:0=same", "--Security:AdminKeys:0=same"]);
            await app.StartAsync();
        });

        Assert.Contains("Security:AdminKeys:0 is also one of Security:ApiKeys", error.Message);
    }
}
