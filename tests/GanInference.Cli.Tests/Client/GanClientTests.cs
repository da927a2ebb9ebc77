using GanInference.Api.V1;
using GanInference.Client;
using Grpc.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace GanInference.Cli.Tests.Client;

[Collection(ServerCollection.Name)]
public sealed class GanClientTests(ServerFixture server)
{
    [Fact]
    public async Task Client_from_dependency_injection_is_bound_from_configuration()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GanClient:Address"] = server.Address,
            ["GanClient:UnaryDeadline"] = "00:00:10",
            ["GanClient:Retry:MaxAttempts"] = "3",
        }).Build();
        var services = new ServiceCollection();
        services.AddGanClient(configuration.GetSection(GanClientOptions.SectionName));
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<GanClient>();
        var response = await client.GenerateAsync(new GenerateRequest { Model = TinyModels.Conditional, Seeds = { 3, 4 }, Labels = { 5 }, Format = ImageFormat.RawU8 });

        Assert.Equal(new Uri(server.Address), client.Address);
        Assert.Equal(2, response.Images.Count);
        Assert.All(response.Images, image => Assert.Equal(5, image.Label));
        Assert.Equal([3UL, 4UL], response.Images.Select(i => i.Seed));
        Assert.Equal(TinyModels.Size * TinyModels.Size, response.Images[0].Data.Length);
    }

    [Fact]
    public async Task Client_from_dependency_injection_balances_over_addresses_bound_from_configuration()
    {
        // Two names of the one test server: the factory's channel resolves both (static:///) and balances over them.
        var port = new Uri(server.Address).Port;
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GanClient:Addresses:0"] = server.Address,
            ["GanClient:Addresses:1"] = $"http://localhost:{port}",
        }).Build();
        var services = new ServiceCollection();
        services.AddGanClient(configuration.GetSection(GanClientOptions.SectionName));
        await using var provider = services.BuildServiceProvider();

        var client = provider.GetRequiredService<GanClient>();
        for (var i = 0; i < 4; i++)
        {
            Assert.Single((await client.GenerateAsync(new GenerateRequest { Model = TinyModels.Unconditional, Seed = (ulong)i, Count = 1 })).Images);
        }

        Assert.Equal([new Uri(server.Address), new Uri($"http://localhost:{port}")], client.Addresses);
    }

    [Fact]
    public void Invalid_options_name_the_setting()
    {
        var services = new ServiceCollection();
        services.AddGanClient(o => o.Retry.MaxAttempts = 9);
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(() => provider.GetRequiredService<GanClient>());
        Assert.Contains("Retry.MaxAttempts must be between 1 and 5", error.Message);
    }

    [Theory]
    [InlineData(65_534)]
    [InlineData(16 * 1024 * 1024 + 1)]
    public void Stream_window_out_of_range_is_refused_naming_the_setting_and_range(int bytes)
    {
        var options = new GanClientOptions { InitialStreamWindowBytes = bytes };

        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("InitialStreamWindowBytes must be 65,535..16,777,216 bytes", error.Message);
    }

    [Fact]
    public void Stream_window_is_bound_from_configuration_and_reaches_the_socket_handler()
    {
        // HTTP/2's own 64 KiB window made the server await a window update every 64 KiB of an image reply.
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["GanClient:InitialStreamWindowBytes"] = "1048576",
        }).Build();
        var options = configuration.GetSection(GanClientOptions.SectionName).Get<GanClientOptions>()!;

        var bound = Assert.IsType<SocketsHttpHandler>(GanChannelOptions.CreateHandler(options));
        var defaulted = Assert.IsType<SocketsHttpHandler>(GanChannelOptions.CreateHandler(new GanClientOptions()));

        Assert.Equal(1024 * 1024, bound.InitialHttp2StreamWindowSize);
        Assert.Equal(GanClientOptions.DefaultInitialStreamWindowBytes, defaulted.InitialHttp2StreamWindowSize);
    }

    [Fact]
    public async Task Stream_yields_images_in_index_order_with_their_seeds()
    {
        using var client = new GanClient(new GanClientOptions { Address = new Uri(server.Address) });

        var images = new List<GeneratedImage>();
        await foreach (var image in client.GenerateStreamAsync(new GenerateRequest { Model = TinyModels.Unconditional, Count = 40, Seed = 500 }))
        {
            images.Add(image);
        }

        Assert.Equal(Enumerable.Range(0, 40).Select(i => (uint)i), images.Select(i => i.Index));
        Assert.Equal(Enumerable.Range(500, 40).Select(i => (ulong)i), images.Select(i => i.Seed));
    }

    [Fact]
    public async Task Deadline_is_enforced()
    {
        using var client = new GanClient(new GanClientOptions { Address = new Uri(server.Address) });

        var error = await Assert.ThrowsAsync<RpcException>(() =>
            client.GenerateAsync(new GenerateRequest { Model = TinyModels.Unconditional, Count = 1000 }, TimeSpan.FromTicks(1)));

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }
}
