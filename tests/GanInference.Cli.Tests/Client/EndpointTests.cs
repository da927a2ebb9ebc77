using GanInference.Api.V1;
using GanInference.Client;
using GanInference.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace GanInference.Cli.Tests.Client;

/// <summary>
/// The addresses a client accepts besides one http(s):// server: a Unix domain socket (against a Kestrel listening on
/// one, configured here), dns:/// and several replicas, and the messages for addresses that cannot work.
/// </summary>
public sealed class EndpointTests : IAsyncLifetime
{
    // Unix socket paths are limited to ~108 bytes: keep the folder short.
    private readonly string _root = Path.Combine(Path.GetTempPath(), "gan-ep-" + Guid.NewGuid().ToString("N")[..8]);
    private InProcessGanServer? _server;

    private string SocketPath => Path.Combine(_root, "gan.sock");

    private string Address => _server!.Address;

    public async Task InitializeAsync()
    {
        TinyModels.WriteRepository(Path.Combine(_root, "models"));
        _server = await InProcessGanServer.StartAsync(
            Path.Combine(_root, "models"),
            configure: builder => builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenUnixSocket(SocketPath, listen => listen.Protocols = HttpProtocols.Http2)));
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
    public async Task Client_and_cli_reach_a_server_on_a_unix_socket()
    {
        using var client = new GanClient(new GanClientOptions { Address = new Uri($"unix://{SocketPath}") });
        var response = await client.GenerateAsync(new GenerateRequest { Model = TinyModels.Unconditional, Seeds = { 7, 8 }, Format = ImageFormat.RawU8 });
        using var overTcp = new GanClient(new GanClientOptions { Address = new Uri(Address) });
        var reference = await overTcp.GenerateAsync(new GenerateRequest { Model = TinyModels.Unconditional, Seeds = { 7, 8 }, Format = ImageFormat.RawU8 });

        Assert.Equal(reference.Images.Select(i => i.Data), response.Images.Select(i => i.Data));
        var cli = await CliRun.InvokeAsync("models", "--server", $"unix://{SocketPath}");
        Assert.True(cli.ExitCode == 0, cli.ToString());
        Assert.Contains(TinyModels.Conditional, cli.Output);
    }

    [Fact]
    public async Task Dns_name_and_several_replicas_reach_the_server()
    {
        var port = new Uri(Address).Port;
        using var dns = new GanClient(new GanClientOptions { Address = new Uri($"dns:///localhost:{port}") });
        Assert.Equal(2, (await dns.ListModelsAsync()).Count);

        // The same server listed twice under two names: both are balanced over, both answer.
        using var several = new GanClient(new GanClientOptions { Addresses = [new Uri(Address), new Uri($"http://localhost:{port}")] });
        for (var i = 0; i < 4; i++)
        {
            Assert.Single((await several.GenerateAsync(new GenerateRequest { Model = TinyModels.Unconditional, Seed = (ulong)i, Count = 1 })).Images);
        }

        Assert.Equal($"{Address}, http://localhost:{port}", several.Endpoints);
    }

    [Theory]
    [InlineData("ftp://example.com:21", "'ftp://example.com:21' is not an http://, https://, dns:///host:port or unix:///path/to.sock address")]
    [InlineData("dns:///localhost", "must be dns:///host:port")]
    [InlineData("dns://8.8.8.8/localhost:5000", "must be dns:///host:port")]
    [InlineData("http://127.0.0.1:1,https://127.0.0.1:2", "mixes http:// and https://")]
    [InlineData("http://127.0.0.1:1,dns:///localhost:5000", "cannot be combined with other addresses")]
    [InlineData("http://127.0.0.1:1,http://127.0.0.1:1", "names the same address twice")]
    public async Task Unusable_server_addresses_are_bad_input_naming_the_option(string server, string message)
    {
        var result = await CliRun.InvokeAsync("models", "--server", server);

        Assert.Equal(ExitCodes.BadInput, result.ExitCode);
        Assert.StartsWith("--server: ", result.Error);
        Assert.Contains(message, result.Error);
    }
}
