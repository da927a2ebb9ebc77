using GanInference.Core.Generation;
using GanInference.Core.Imaging;
using GanInference.Core.Repository;
using GanInference.Core.Sampling;
using GanInference.Tests.TestModels;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Tests.Generation;

/// <summary>The whole core path on real ONNX Runtime sessions: plan → batcher → runner → codec.</summary>
public sealed class ImageGeneratorTests : IAsyncLifetime
{
    private readonly TinyGanModels _models = new();
    private ModelRepository _repository = null!;

    public async Task InitializeAsync()
    {
        _models.AddUnconditional("plain", channels: 1, size: 8);
        _models.AddConditional("cond", classes: 3, channels: 3, size: 8);
        _repository = await RepositoryFactory.LoadAsync(_models.Root);
    }

    public async Task DisposeAsync()
    {
        await _repository.DisposeAsync();
        _models.Dispose();
    }

    [Fact]
    public async Task Images_match_a_direct_onnx_runtime_run_on_the_documented_latents()
    {
        var model = _repository.Get("cond");
        var plan = GenerationPlan.Create("cond", model.Signature, 0, new GenerationSpec { Seeds = [3, 900, 17], Labels = [2, 0, 1] }, 100);

        var images = await CollectAsync(RepositoryFactory.Generator(), model, plan);

        // Oracle: the sampler's latents and the labels fed to a separate session, batch of one each.
        using var session = new InferenceSession(model.ModelPath);
        ulong[] seeds = [3, 900, 17];
        long[] labels = [2, 0, 1];
        for (var i = 0; i < 3; i++)
        {
            var latent = new float[TinyGanModels.LatentDim];
            LatentSampler.Fill(seeds[i], 0, latent);
            using var z = OrtValue.CreateTensorValueFromMemory(latent, [1, TinyGanModels.LatentDim]);
            using var label = OrtValue.CreateTensorValueFromMemory(new[] { labels[i] }, [1]);
            using var runOptions = new RunOptions();
            using var outputs = session.Run(runOptions, ["z", "label"], [z, label], ["image"]);
            var expected = outputs[0].GetTensorDataAsSpan<float>().ToArray();
            var actual = RawFloats(images[i].Data);
            Assert.Equal(expected.Length, actual.Length);
            for (var p = 0; p < expected.Length; p++)
            {
                Assert.Equal(expected[p], actual[p], 5);
            }

            Assert.Equal(seeds[i], images[i].Seed);
            Assert.Equal((int)labels[i], images[i].Label);
            Assert.Equal(i, images[i].Index);
        }
    }

    [Fact]
    public async Task Image_s_is_the_same_alone_and_inside_a_batch_of_64_split_over_chunks()
    {
        var model = _repository.Get("plain");
        var alone = await CollectAsync(RepositoryFactory.Generator(), model, GenerationPlan.Create("plain", model.Signature, 0, new GenerationSpec { Seeds = [1040] }, 100));
        var batch = await CollectAsync(RepositoryFactory.Generator(chunkSize: 24), model, GenerationPlan.Create("plain", model.Signature, 0, new GenerationSpec { Count = 64, Seed = 1000 }, 100));

        Assert.Equal(64, batch.Count);
        Assert.Equal(Enumerable.Range(0, 64), batch.Select(i => i.Index));
        Assert.Equal(1040UL, batch[40].Seed);
        var a = RawFloats(alone[0].Data);
        var b = RawFloats(batch[40].Data);
        Assert.All(a.Zip(b), pair => Assert.Equal(pair.First, pair.Second, 5));
    }

    [Fact]
    public async Task Explicit_latents_equal_to_a_seeds_latent_give_that_seeds_image()
    {
        var model = _repository.Get("plain");
        var latent = new float[TinyGanModels.LatentDim];
        LatentSampler.Fill(77, 0, latent);

        var fromSeed = await CollectAsync(RepositoryFactory.Generator(), model, GenerationPlan.Create("plain", model.Signature, 0, new GenerationSpec { Seeds = [77] }, 10));
        var fromLatent = await CollectAsync(RepositoryFactory.Generator(), model, GenerationPlan.Create("plain", model.Signature, 0, new GenerationSpec { Latents = latent }, 10));

        Assert.Equal(fromSeed[0].Data.ToArray(), fromLatent[0].Data.ToArray());
        Assert.Null(fromLatent[0].Seed);
    }

    [Fact]
    public async Task Truncation_changes_the_image_and_stays_deterministic()
    {
        var model = _repository.Get("plain");
        GenerationPlan Plan(float t) => GenerationPlan.Create("plain", model.Signature, 0, new GenerationSpec { Seeds = [0], Truncation = t }, 10);

        var plain = await CollectAsync(RepositoryFactory.Generator(), model, Plan(0));
        var truncated = await CollectAsync(RepositoryFactory.Generator(), model, Plan(0.5f));
        var again = await CollectAsync(RepositoryFactory.Generator(), model, Plan(0.5f));

        Assert.NotEqual(plain[0].Data.ToArray(), truncated[0].Data.ToArray());
        Assert.Equal(truncated[0].Data.ToArray(), again[0].Data.ToArray());
    }

    [Theory]
    [InlineData(ImageFormatKind.RawU8)]
    [InlineData(ImageFormatKind.RawF32)]
    public async Task A_pooled_raw_chunk_slices_one_buffer_with_the_same_bytes_as_unpooled_images(ImageFormatKind format)
    {
        var model = _repository.Get("cond");
        var plan = GenerationPlan.Create("cond", model.Signature, 0, new GenerationSpec { Count = 20, Seed = 300 }, 100);
        var generator = RepositoryFactory.Generator(chunkSize: 8);
        var encoding = new ImageEncoding(format);
        var unpooled = new List<byte[]>();
        await foreach (var chunk in generator.GenerateAsync(model, plan, encoding, DateTime.MaxValue, CancellationToken.None))
        {
            Assert.False(chunk.IsPooled);
            foreach (var image in chunk)
            {
                // Unpooled: each image is exactly its own array (wrapped into the reply as it is).
                Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(image.Data, out var segment));
                Assert.Equal((0, segment.Array!.Length), (segment.Offset, segment.Count));
                Assert.Same(segment.Array, image.DataArray());
                unpooled.Add(image.Data.ToArray());
            }
        }

        var pooled = new List<byte[]>();
        var sizes = new List<int>();
        await foreach (var chunk in generator.GenerateAsync(model, plan, encoding, DateTime.MaxValue, CancellationToken.None, pooled: true))
        {
            Assert.True(chunk.IsPooled);
            sizes.Add(chunk.Count);
            var segments = chunk.Select(i => System.Runtime.InteropServices.MemoryMarshal.TryGetArray(i.Data, out var s) ? s : default).ToArray();
            Assert.Single(segments.Select(s => s.Array).Distinct());
            Assert.NotNull(segments[0].Array);
            Assert.Equal(Enumerable.Range(0, chunk.Count).Select(i => i * ImageCodec.RawBytes(model.Geometry, format)), segments.Select(s => s.Offset));
            pooled.AddRange(chunk.Select(i => i.Data.ToArray()));
            chunk.Dispose();
            Assert.False(chunk.IsPooled);
            chunk.Dispose(); // a second dispose returns nothing twice
        }

        Assert.Equal([8, 8, 4], sizes);
        Assert.Equal(unpooled, pooled);
    }

    [Fact]
    public async Task Compressed_formats_are_never_pooled()
    {
        var model = _repository.Get("plain");
        var plan = GenerationPlan.Create("plain", model.Signature, 0, new GenerationSpec { Count = 3, Seed = 1 }, 100);

        await foreach (var chunk in RepositoryFactory.Generator().GenerateAsync(model, plan, new ImageEncoding(ImageFormatKind.Png), DateTime.MaxValue, CancellationToken.None, pooled: true))
        {
            Assert.False(chunk.IsPooled);
        }
    }

    private static async Task<List<EncodedImage>> CollectAsync(ImageGenerator generator, ServedModel model, GenerationPlan plan)
    {
        var images = new List<EncodedImage>();
        await foreach (var chunk in generator.GenerateAsync(model, plan, new ImageEncoding(ImageFormatKind.RawF32), DateTime.MaxValue, CancellationToken.None))
        {
            images.AddRange(chunk);
        }

        return images;
    }

    private static float[] RawFloats(ReadOnlyMemory<byte> data) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data.Span).ToArray();
}
