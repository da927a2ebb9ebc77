using GanInference.Api.V1;
using GanInference.Onnx.Benchmarks;
using GanInference.Server.Tests.Infrastructure;
using GanInference.Tests.TestModels;
using Google.Protobuf;
using static GanInference.Server.Tests.Translation.TestImages;

namespace GanInference.Server.Tests;

/// <summary>
/// The benchmark architectures of tools/bench/make-models.sh (small versions, same code and manifests) served by
/// the real server like any model: the generator through Generate, the U-Net through Translate.
/// </summary>
public sealed class BenchmarkModelServingTests
{
    private const int Size = 32;

    [Fact]
    public async Task The_benchmark_generator_and_unet_are_served_like_any_model()
    {
        var models = new TinyGanModels();
        BenchmarkModels.Dcgan("bench-dcgan", Size, width: 8).WriteTo(models.Root);
        BenchmarkModels.UNet("bench-unet", Size, width: 8, depth: 3).WriteTo(models.Root);
        await using var server = await RunningServer.StartAsync(models);

        var info = await server.Client.GetModelAsync(new GetModelRequest { Model = "bench-dcgan" });
        Assert.Equal(ModelKind.Unconditional, info.Kind);
        var generated = await server.Client.GenerateAsync(new GenerateRequest { Model = "bench-dcgan", Count = 3, Seed = 7, Format = ImageFormat.RawU8 });
        Assert.Equal(3, generated.Images.Count);
        Assert.All(generated.Images, image => Assert.Equal((3u, (uint)Size, (uint)Size, Size * Size * 3), (image.Channels, image.Width, image.Height, image.Data.Length)));
        Assert.NotEqual(generated.Images[0].Data, generated.Images[1].Data);

        var translated = await server.Client.TranslateAsync(new TranslateRequest
        {
            Model = "bench-unet",
            Format = ImageFormat.RawU8,
            Images = { new InputImage { Data = ByteString.CopyFrom(Png(RgbPixels(Size, Size), Size, Size, 3)) } },
        });
        var image = Assert.Single(translated.Images);
        Assert.Equal((3u, (uint)Size, (uint)Size, Size * Size * 3), (image.Channels, image.Width, image.Height, image.Data.Length));
    }
}
