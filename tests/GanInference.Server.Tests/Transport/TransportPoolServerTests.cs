using System.Globalization;
using System.Text.RegularExpressions;
using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Server.Transport;
using GanInference.Tests.TestModels;
using Grpc.Core;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;

namespace GanInference.Server.Tests.Transport;

/// <summary>
/// <c>Limits:TransportBlockBytes</c> on a real server: Kestrel's connections take their pipe segments from the large-block
/// pool (its counters move with the calls, on TCP, the Unix socket and the HTTP/1.1 listener), and large RAW replies
/// arrive byte for byte as over Kestrel's own 4 KiB pool.
/// </summary>
public sealed partial class TransportPoolServerTests : IDisposable
{
    private const int Size = 256;
    private const int Count = 16;
    private readonly string _folder = Directory.CreateTempSubdirectory("gan-pool-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task Large_raw_u8_replies_unary_and_streamed_arrive_byte_exact_through_the_64_KiB_pool_that_kestrel_rents_from()
    {
        var expected = await RepliesAsync("--Limits:TransportBlockBytes=0", pooled: false);
        var actual = await RepliesAsync(null, pooled: true);

        Assert.Equal(Count * 2, actual.Count);
        Assert.All(actual, image => Assert.Equal(Size * Size * 3, image.Length));
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].AsSpan().SequenceEqual(actual[i]), $"image {i} differs from the one sent over Kestrel's own pool");
        }
    }

    [Fact]
    public async Task The_unix_socket_and_the_http_listener_also_run_on_the_pool_with_a_configured_block_size()
    {
        var socketPath = Path.Combine(_folder, "grpc.sock");
        var models = new TinyGanModels();
        models.AddUnconditional("m", channels: 3, size: 64);
        await using var server = await RunningServer.StartAsync(models, $"--Grpc:UnixSocket={socketPath}", "--Limits:TransportBlockBytes=16384");
        var factory = Assert.IsType<LargeBlockMemoryPoolFactory>(server.App.Services.GetRequiredService<IMemoryPoolFactory<byte>>());
        Assert.Equal(16384, factory.BlockSize);

        // One pool per I/O queue of each of the three listeners (TCP gRPC, Unix socket, HTTP/1.1).
        Assert.True(factory.Statistics.Pools >= 3, $"{factory.Statistics.Pools} pools");
        using var http = new HttpClient();
        var before = factory.Statistics.Rented;
        var scraped = await http.GetStringAsync(server.HttpAddress + "/metrics");
        Assert.True(factory.Statistics.Rented > before, "the HTTP/1.1 scrape rented no block");
        Assert.Contains("gan_transport_blocks_rented", scraped);

        using var channel = UnixSocketTests.UnixChannel(socketPath);
        var client = new Api.V1.GanInference.GanInferenceClient(channel);
        before = factory.Statistics.Rented;
        var overSocket = await client.GenerateAsync(new GenerateRequest { Model = "m", Count = 4, Seed = 9, Format = ImageFormat.RawU8 });
        Assert.True(factory.Statistics.Rented > before, "the Unix socket call rented no block");
        var overTcp = await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = 4, Seed = 9, Format = ImageFormat.RawU8 });
        Assert.Equal(overTcp.Images.Select(i => i.Data), overSocket.Images.Select(i => i.Data));
    }

    /// <summary>16 images unary then the same 16 streamed, each client reading concurrently with a second call.</summary>
    private static async Task<List<byte[]>> RepliesAsync(string? argument, bool pooled)
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", channels: 3, size: Size);
        await using var server = await RunningServer.StartAsync(models, argument is null ? [] : [argument]);
        var factory = server.App.Services.GetRequiredService<IMemoryPoolFactory<byte>>() as LargeBlockMemoryPoolFactory;
        Assert.Equal(pooled, factory is not null);

        var unary = server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = Count, Seed = 100, Format = ImageFormat.RawU8 }).ResponseAsync;
        var streamed = ReadStreamAsync(server.Client, seed: 100);
        var images = (await unary).Images.Select(i => i.Data.ToByteArray()).ToList();
        images.AddRange(await streamed);

        if (factory is not null)
        {
            // A 3 MiB unary reply and a 3 MiB stream went through pipes whose every segment is one of these blocks.
            Assert.Equal(ServerLimitsDefaultBlock, factory.BlockSize);
            Assert.True(factory.Statistics.Rented >= 2L * Count * Size * Size * 3 / factory.BlockSize, $"{factory.Statistics.Rented} blocks rented");

            // And /metrics shows the counter. (Not checked absent on the other server: OpenTelemetry listens to every
            // meter named GanInference in the process, so in a test process it also sees the other servers' pools.)
            using var http = new HttpClient();
            var rented = await ScrapeRentedAsync(http, server.HttpAddress + "/metrics");
            Assert.True(rented > 0, $"/metrics says {rented} blocks rented");
        }

        return images;
    }

    private const int ServerLimitsDefaultBlock = Options.ServerLimitsOptions.DefaultTransportBlockBytes;

    private static async Task<List<byte[]>> ReadStreamAsync(Api.V1.GanInference.GanInferenceClient client, ulong seed)
    {
        using var stream = client.GenerateStream(new GenerateRequest { Model = "m", Count = Count, Seed = seed, Format = ImageFormat.RawU8 });
        var images = new List<byte[]>();
        await foreach (var image in stream.ResponseStream.ReadAllAsync())
        {
            images.Add(image.Data.ToByteArray());
            await Task.Yield();
        }

        return images;
    }

    /// <summary>gan_transport_blocks_rented from /metrics (retried while the exporter serves its cached scrape), or null when absent.</summary>
    private static async Task<long?> ScrapeRentedAsync(HttpClient http, string url)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            var match = RentedLine().Match(await http.GetStringAsync(url));
            long? rented = match.Success ? long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
            if (rented > 0 || DateTime.UtcNow > deadline || !match.Success)
            {
                return rented;
            }

            await Task.Delay(200);
        }
    }

    [GeneratedRegex(@"^gan_transport_blocks_rented\S*(?:\{[^}]*\})? (\d+)", RegexOptions.Multiline)]
    private static partial Regex RentedLine();
}
