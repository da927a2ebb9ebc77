using GanInference.Client;
using GanInference.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests.Commands;

/// <summary>A server with <c>Security:ApiKeys</c>: the client and the CLI send the key, and a missing or wrong key is one clear line.</summary>
public sealed class ApiKeyTests : IAsyncLifetime
{
    private const string Key = "test-key-0123456789";
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gan-cli-keys-" + Guid.NewGuid().ToString("N"));
    private InProcessGanServer? _server;
    private string _address = string.Empty;
    private string _httpAddress = string.Empty;

    public async Task InitializeAsync()
    {
        TinyModels.WriteRepository(Path.Combine(_root, "models"));
        _server = await InProcessGanServer.StartAsync(
            Path.Combine(_root, "models"),
            http: true,
            configure: builder => builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Security:ApiKeys:0"] = Key }),
            apiKey: Key);
        _address = _server.Address;
        _httpAddress = _server.HttpAddress!;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    [Fact]
    public async Task Cli_with_the_key_succeeds_from_the_option_and_from_GAN_API_KEY()
    {
        using var folder = new TempFolder();
        var withOption = await CliRun.InvokeAsync("models", "--server", _address, "--api-key", Key);
        var generate = await CliRun.InvokeAsync("generate", "--server", _address, "--api-key", Key, "--model", TinyModels.Unconditional, "--count", "2", "--out", folder.Path);

        var output = new StringWriter();
        var error = new StringWriter();
        var host = CliHost.ForWriters(output, error, name => name switch { "GAN_API_KEY" => Key, "GAN_SERVER" => _address, _ => null });
        var fromEnvironment = await GanCli.InvokeAsync(["models"], host);

        Assert.True(withOption.ExitCode == 0, withOption.ToString());
        Assert.Contains(TinyModels.Conditional, withOption.Output);
        Assert.True(generate.ExitCode == 0, generate.ToString());
        Assert.Equal(2, Directory.GetFiles(folder.Path).Length);
        Assert.True(fromEnvironment == 0, error.ToString());
        Assert.Contains(TinyModels.Conditional, output.ToString());
    }

    [Fact]
    public async Task Bench_and_dataset_send_the_key_too()
    {
        using var folder = new TempFolder();
        var bench = await CliRun.InvokeAsync("bench", "--server", _address, "--api-key", Key, "--model", TinyModels.Unconditional, "--duration", "1s", "--warmup", "0s", "--concurrency", "2");
        var dataset = await CliRun.InvokeAsync("dataset", "--server", _address, "--api-key", Key, "--model", TinyModels.Conditional, "--per-class", "1", "--out", folder.Path);

        Assert.True(bench.ExitCode == 0, bench.ToString());
        Assert.DoesNotContain("Unauthenticated", bench.Output);
        Assert.True(dataset.ExitCode == 0, dataset.ToString());
        Assert.Equal(10, File.ReadAllLines(Path.Combine(folder.Path, "manifest.jsonl")).Length);
    }

    [Theory]
    [InlineData("oip")]
    [InlineData("rest")]
    public async Task Bench_sends_the_key_over_the_open_inference_protocol(string protocol)
    {
        using var folder = new TempFolder();
        var json = folder.Combine("bench.json");

        string[] http = protocol == "rest" ? ["--http", _httpAddress] : [];

        var bench = await CliRun.InvokeAsync(
            ["bench", "--server", _address, .. http, "--protocol", protocol, "--api-key", Key, "--model", TinyModels.Unconditional, "--format", "raw-u8",
             "--duration", "1s", "--warmup", "0s", "--concurrency", "2", "--metrics-url", _httpAddress + "/metrics", "--json", json]);

        Assert.True(bench.ExitCode == 0, bench.ToString());
        using var report = System.Text.Json.JsonDocument.Parse(await File.ReadAllTextAsync(json));
        var root = report.RootElement;
        Assert.True(root.GetProperty("failed").GetInt64() == 0, root.GetProperty("errors").ToString());
        Assert.True(root.GetProperty("images").GetInt64() > 0);
    }

    [Fact]
    public async Task Cli_without_the_key_says_how_to_give_one()
    {
        var result = await CliRun.InvokeAsync("models", "--server", _address);

        Assert.Equal(ExitCodes.Unauthenticated, result.ExitCode);
        var line = Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Equal($"the server at {_address} requires an API key: set $GAN_API_KEY (or pass --api-key KEY) to a key its operator gave you.", line);
    }

    [Fact]
    public async Task Cli_with_a_wrong_key_names_where_the_key_came_from()
    {
        var result = await CliRun.InvokeAsync("models", "--server", _address, "--api-key", "wrong");

        Assert.Equal(ExitCodes.Unauthenticated, result.ExitCode);
        Assert.StartsWith($"the server at {_address} refused the API key from --api-key", result.Error);
    }

    [Fact]
    public async Task Client_sends_the_key_directly_and_through_dependency_injection()
    {
        using var direct = new GanClient(new GanClientOptions { Address = new Uri(_address), ApiKey = Key });
        Assert.NotEmpty(await direct.ListModelsAsync());

        var services = new ServiceCollection();
        services.AddGanClient(o => (o.Address, o.ApiKey) = (new Uri(_address), Key));
        await using var provider = services.BuildServiceProvider();
        var injected = provider.GetRequiredService<GanClient>();
        Assert.NotEmpty(await injected.ListModelsAsync());

        using var keyless = new GanClient(new GanClientOptions { Address = new Uri(_address) });
        var refused = await Assert.ThrowsAsync<Grpc.Core.RpcException>(() => keyless.ListModelsAsync());
        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, refused.StatusCode);
    }

    [Fact]
    public void An_empty_or_spaced_key_is_reported_by_name()
    {
        var e = Assert.Throws<ArgumentException>(() => new GanClient(new GanClientOptions { ApiKey = "two words" }));
        Assert.Contains("ApiKey", e.Message);
    }
}
