using GanInference.Api.V1;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;

namespace GanInference.Server.Tests;

/// <summary>
/// RAW replies are slices of pooled chunk buffers (unary and streams): under concurrent load every reply still holds
/// its own images, byte for byte, so no buffer went back to the pool while a reply still read it.
/// </summary>
public sealed class PooledReplyTests
{
    [Theory]
    [InlineData(ImageFormat.RawU8)]
    [InlineData(ImageFormat.RawF32)]
    public async Task Concurrent_raw_replies_unary_and_streamed_hold_exactly_their_own_images(ImageFormat format)
    {
        var models = new TinyGanModels();
        models.AddUnconditional("m", channels: 3, size: 48);
        await using var server = await RunningServer.StartAsync(models, "--Generation:ChunkSize=4");

        // The reference: each seed alone, one after another (nothing shared).
        const int Requests = 24;
        const int Count = 6;
        var expected = new Dictionary<ulong, byte[]>();
        for (ulong seed = 0; seed < Requests * Count; seed++)
        {
            var alone = await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Seeds = { seed }, Format = format });
            expected[seed] = alone.Images[0].Data.ToByteArray();
        }

        // Many calls at once, unary and streamed, each reading its reply only after the others have had time to reuse buffers.
        var calls = Enumerable.Range(0, Requests).Select(async r =>
        {
            var first = (ulong)(r * Count);
            var images = new List<GeneratedImage>();
            if (r % 2 == 0)
            {
                images.AddRange((await server.Client.GenerateAsync(new GenerateRequest { Model = "m", Count = Count, Seed = first, Format = format })).Images);
            }
            else
            {
                using var stream = server.Client.GenerateStream(new GenerateRequest { Model = "m", Count = Count, Seed = first, Format = format });
                await foreach (var image in stream.ResponseStream.ReadAllAsync())
                {
                    images.Add(image);
                    await Task.Yield();
                }
            }

            return (First: first, Images: images);
        }).ToArray();

        foreach (var (first, images) in await Task.WhenAll(calls))
        {
            Assert.Equal(Count, images.Count);
            for (var i = 0; i < Count; i++)
            {
                Assert.Equal(first + (ulong)i, images[i].Seed);
                Assert.Equal(expected[first + (ulong)i], images[i].Data.ToByteArray());
            }
        }
    }
}
