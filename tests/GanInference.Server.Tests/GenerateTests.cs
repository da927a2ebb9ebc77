using GanInference.Api.V1;
using GanInference.Core.Imaging;
using GanInference.Core.Sampling;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Grpc.Core;
using System.Security.Cryptography;

namespace GanInference.Server.Tests;

[Collection(ServerCollection.Name)]
public sealed class GenerateTests(ServerFixture fixture)
{
    private Api.V1.GanInference.GanInferenceClient Client => fixture.Client;

    [Fact]
    public async Task ListModels_shows_every_loaded_model_and_skips_the_broken_folder()
    {
        var response = await Client.ListModelsAsync(new ListModelsRequest());

        Assert.Equal(
            [ServerFixture.Conditional, ServerFixture.Narrow, ServerFixture.ImageToImage, ServerFixture.Unconditional, ServerFixture.Wide],
            response.Models.Select(m => m.Name));
    }

    [Fact]
    public async Task GetModel_returns_the_full_metadata()
    {
        var info = await Client.GetModelAsync(new GetModelRequest { Model = ServerFixture.Conditional });

        Assert.Equal(ModelKind.ClassConditional, info.Kind);
        Assert.Equal((uint)TinyGanModels.LatentDim, info.LatentDim);
        Assert.Equal(["class-0", "class-1", "class-2"], info.Classes);
        Assert.Equal((3u, 8u, 8u), (info.Channels, info.Height, info.Width));
        Assert.Equal((-1f, 1f), (info.OutputMin, info.OutputMax));
        Assert.Equal(["z", "label"], info.Inputs.Select(i => i.Name));
        Assert.Equal(["latent", "label"], info.Inputs.Select(i => i.Role));
        Assert.Equal([-1L, TinyGanModels.LatentDim], info.Inputs[0].Shape);
        Assert.Equal("int64", info.Inputs[1].Dtype);
        Assert.Equal([-1L, 3, 8, 8], info.Outputs[0].Shape);
        Assert.Equal(64u, info.Batching.MaxBatchSize);
        Assert.Equal(2.0, info.Batching.MaxQueueDelayMs);
        Assert.Equal(1024u, info.Batching.MaxQueueSize);
        Assert.Equal("cpu", info.ExecutionProvider);
        var onnx = await File.ReadAllBytesAsync(Path.Combine(fixture.Server.Models.Root, ServerFixture.Conditional, "model.onnx"));
        Assert.Equal("sha256:" + Convert.ToHexStringLower(SHA256.HashData(onnx)), info.ContentHash);
        Assert.Equal("none (fixed weights)", info.Provenance.Fields["dataset"].StringValue);
        Assert.Equal(1.5, info.Provenance.Fields["metrics"].StructValue.Fields["score"].NumberValue);

        var narrow = await Client.GetModelAsync(new GetModelRequest { Model = ServerFixture.Narrow });
        Assert.Equal((1u, 1u), (narrow.Batching.MaxBatchSize, narrow.Batching.MaxQueueSize));
    }

    [Fact]
    public async Task Generate_returns_grey_pngs_with_consecutive_seeds_by_default()
    {
        var response = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Count = 3, Seed = 5 });

        Assert.Equal(ServerFixture.Unconditional, response.Model);
        Assert.StartsWith("sha256:", response.ContentHash);
        Assert.Equal([5UL, 6UL, 7UL], response.Images.Select(i => i.Seed));
        Assert.Equal([0u, 1u, 2u], response.Images.Select(i => i.Index));
        Assert.All(response.Images, image =>
        {
            Assert.Equal(ImageFormat.Png, image.Format);
            Assert.False(image.HasLabel);
            var decoded = ImageFiles.Decode(image.Data.Span);
            Assert.Equal((8, 8, 1), (decoded.Width, decoded.Height, decoded.Channels));
            Assert.Equal((8u, 8u, 1u), (image.Width, image.Height, image.Channels));
        });
        Assert.NotEqual(response.Images[0].Data, response.Images[1].Data);
    }

    [Fact]
    public async Task Without_a_seed_the_server_picks_one_and_reports_it_so_the_image_can_be_reproduced()
    {
        var first = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Count = 2 });
        Assert.True(first.Images[0].HasSeed);
        Assert.Equal(first.Images[0].Seed + 1, first.Images[1].Seed);

        var again = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Seeds = { first.Images[1].Seed } });
        Assert.Equal(first.Images[1].Data, again.Images[0].Data);
    }

    [Fact]
    public async Task Class_conditional_images_carry_their_labels_and_labels_change_the_image()
    {
        var response = await Client.GenerateAsync(new GenerateRequest
        {
            Model = ServerFixture.Conditional,
            Seeds = { 9, 9, 9 },
            Labels = { 0, 1, 2 },
            Format = ImageFormat.RawU8,
        });

        Assert.Equal([0, 1, 2], response.Images.Select(i => i.Label));
        Assert.Equal(3u, response.Images[0].Channels);
        Assert.Equal(8 * 8 * 3, response.Images[0].Data.Length);
        Assert.Equal(3, response.Images.Select(i => i.Data).Distinct().Count());

        var defaults = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Conditional, Seeds = { 10, 11, 12 } });
        Assert.Equal([1, 2, 0], defaults.Images.Select(i => i.Label));
    }

    [Fact]
    public async Task Every_format_encodes_the_same_pixels()
    {
        GenerateRequest Request(ImageFormat format) => new() { Model = ServerFixture.Conditional, Seeds = { 314 }, Labels = { 1 }, Format = format, JpegQuality = 95 };

        var f32 = (await Client.GenerateAsync(Request(ImageFormat.RawF32))).Images[0];
        var u8 = (await Client.GenerateAsync(Request(ImageFormat.RawU8))).Images[0];
        var png = (await Client.GenerateAsync(Request(ImageFormat.Png))).Images[0];
        var jpeg = (await Client.GenerateAsync(Request(ImageFormat.Jpeg))).Images[0];

        var floats = Images.Floats(f32);
        Assert.All(floats, v => Assert.InRange(v, -1f, 1f));
        var expectedHwc = new byte[floats.Length];
        ImageCodec.ToHwcBytes(floats, new ImageGeometry(3, 8, 8, -1, 1), expectedHwc);
        Assert.Equal(expectedHwc, u8.Data.ToByteArray());
        Assert.Equal(expectedHwc, ImageFiles.Decode(png.Data.Span).Pixels);
        Assert.Equal(ImageFormat.Jpeg, jpeg.Format);
        var jpegPixels = ImageFiles.Decode(jpeg.Data.Span).Pixels;
        var jpegError = expectedHwc.Zip(jpegPixels, (a, b) => Math.Abs(a - b)).Average();
        Assert.True(jpegError < 6, $"JPEG mean abs error {jpegError}");
    }

    [Fact]
    public async Task Explicit_latents_reproduce_a_seeds_image_and_carry_no_seed()
    {
        var latents = new float[TinyGanModels.LatentDim * 2];
        LatentSampler.Fill(21, 0, latents.AsSpan(0, TinyGanModels.LatentDim));
        LatentSampler.Fill(22, 0, latents.AsSpan(TinyGanModels.LatentDim));

        var fromLatents = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Latents = { latents }, Format = ImageFormat.RawF32 });
        var fromSeeds = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Seeds = { 21, 22 }, Format = ImageFormat.RawF32 });

        Assert.Equal(2, fromLatents.Images.Count);
        Assert.All(fromLatents.Images, i => Assert.False(i.HasSeed));
        Images.AssertClose(Images.Floats(fromSeeds.Images[0]), Images.Floats(fromLatents.Images[0]));
        Images.AssertClose(Images.Floats(fromSeeds.Images[1]), Images.Floats(fromLatents.Images[1]));
    }

    [Fact]
    public async Task Image_s_is_the_same_alone_and_inside_a_batch_of_64()
    {
        const ulong s = 4_000_000_123;
        var alone = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Seeds = { s }, Format = ImageFormat.RawF32 });
        var batch = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Count = 64, Seed = s - 37, Format = ImageFormat.RawF32 });
        var alonePng = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Seeds = { s } });
        var batchPng = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Unconditional, Count = 64, Seed = s - 37 });

        Assert.Equal(64, batch.Images.Count);
        Assert.Equal(s, batch.Images[37].Seed);
        Images.AssertClose(Images.Floats(alone.Images[0]), Images.Floats(batch.Images[37]));
        var a = ImageFiles.Decode(alonePng.Images[0].Data.Span).Pixels;
        var b = ImageFiles.Decode(batchPng.Images[37].Data.Span).Pixels;
        Assert.True(a.Zip(b).All(p => Math.Abs(p.First - p.Second) <= 1), "pixels differ by more than one 8-bit level");
    }

    [Fact]
    public async Task Thirty_two_concurrent_clients_each_get_exactly_their_own_seeds_images()
    {
        var references = new Dictionary<ulong, float[]>();
        for (var client = 0; client < 32; client++)
        {
            var seeds = Enumerable.Range(0, 4).Select(i => (ulong)((client * 1000) + (i * 7))).ToArray();
            var alone = await Client.GenerateAsync(new GenerateRequest { Model = ServerFixture.Conditional, Seeds = { seeds }, Format = ImageFormat.RawF32 });
            foreach (var image in alone.Images)
            {
                references[image.Seed] = Images.Floats(image);
            }
        }

        // 32 clients on separate channels (separate connections), all at once, a few rounds each.
        var tasks = Enumerable.Range(0, 32).Select(client => Task.Run(async () =>
        {
            using var channel = Grpc.Net.Client.GrpcChannel.ForAddress(fixture.Server.Address);
            var own = new Api.V1.GanInference.GanInferenceClient(channel);
            var seeds = Enumerable.Range(0, 4).Select(i => (ulong)((client * 1000) + (i * 7))).ToArray();
            for (var round = 0; round < 3; round++)
            {
                var response = await own.GenerateAsync(new GenerateRequest { Model = ServerFixture.Conditional, Seeds = { seeds }, Format = ImageFormat.RawF32 });
                Assert.Equal(seeds, response.Images.Select(i => i.Seed));
                foreach (var image in response.Images)
                {
                    Images.AssertClose(references[image.Seed], Images.Floats(image));
                    Assert.Equal((int)(image.Seed % 3), image.Label);
                }
            }
        }));

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task GenerateStream_sends_every_image_in_index_order()
    {
        using var call = Client.GenerateStream(new GenerateRequest { Model = ServerFixture.Conditional, Count = 300, Seed = 50, Labels = { 2 } });
        var index = 0u;
        await foreach (var image in call.ResponseStream.ReadAllAsync())
        {
            Assert.Equal(index, image.Index);
            Assert.Equal(50UL + index, image.Seed);
            Assert.Equal(2, image.Label);
            index++;
        }

        Assert.Equal(300u, index);
    }

    [Fact]
    public async Task GenerateStream_serves_10000_images_with_memory_bounded_by_a_few_batches_while_read_slowly()
    {
        // 48x48 float images: 9 KiB each, 92 MB for the whole stream if anything buffered it.
        const int count = 10_000;
        using var call = Client.GenerateStream(new GenerateRequest { Model = ServerFixture.Wide, Count = count, Seed = 1, Format = ImageFormat.RawF32 });
        var received = 0;
        long baseline = 0;
        long peak = 0;
        await foreach (var image in call.ResponseStream.ReadAllAsync())
        {
            Assert.Equal((uint)received, image.Index);
            received++;
            if (received == 500)
            {
                baseline = GC.GetTotalMemory(forceFullCollection: true);
            }
            else if (received is > 500 and <= 3000)
            {
                if (received % 50 == 0)
                {
                    await Task.Delay(10); // a slow reader: the server must wait, not run ahead
                }

                if (received % 500 == 0)
                {
                    peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: true));
                }
            }
        }

        Assert.Equal(count, received);
        var growth = peak - baseline;
        Assert.True(growth < 24 * 1024 * 1024, $"managed memory grew by {growth / 1024 / 1024} MB while reading slowly");
    }
}
