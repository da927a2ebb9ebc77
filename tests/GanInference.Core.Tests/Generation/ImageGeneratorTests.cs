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

        Assert.Equal(fromSeed[0].Data, fromLatent[0].Data);
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

        Assert.NotEqual(plain[0].Data, truncated[0].Data);
        Assert.Equal(truncated[0].Data, again[0].Data);
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

    private static float[] RawFloats(byte[] data) => System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(data).ToArray();
}
