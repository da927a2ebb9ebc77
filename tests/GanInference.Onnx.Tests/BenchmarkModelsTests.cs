using System.Text.Json.Nodes;
using GanInference.Onnx.Benchmarks;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Onnx.Tests;

/// <summary>
/// The benchmark architectures of tools/bench/make-models.sh at small sizes: the reference checker accepts them,
/// ONNX Runtime runs them with the shapes the manifest declares, and the images are not constant.
/// </summary>
public sealed class BenchmarkModelsTests
{
    [Theory]
    [InlineData(8, 4)]
    [InlineData(32, 8)]
    public void The_dcgan_generator_makes_images_of_its_size_in_minus_one_to_one(int size, int width)
    {
        var model = BenchmarkModels.Dcgan("g", size, width);
        AssertChecked(model);
        var latents = Enumerable.Range(0, 2 * BenchmarkModels.LatentDim).Select(i => MathF.Sin(i * 0.7f)).ToArray();
        using var z = OrtValue.CreateTensorValueFromMemory(latents, [2, BenchmarkModels.LatentDim]);
        var (values, shape) = OrtRunner.Run(model.Onnx, new Dictionary<string, OrtValue> { ["z"] = z }, "image");

        Assert.Equal([2L, 3, size, size], shape);
        AssertVariedWithin(values, -1, 1);
        var manifest = JsonNode.Parse(model.ManifestJson)!;
        Assert.Equal("unconditional", (string?)manifest["kind"]);
        Assert.Equal($"[-1,3,{size},{size}]", manifest["outputs"]![0]!["shape"]!.ToJsonString());
        Assert.Equal($"[-1,{BenchmarkModels.LatentDim}]", manifest["inputs"]![0]!["shape"]!.ToJsonString());
    }

    [Fact]
    public void The_unet_maps_an_image_to_an_image_of_the_same_shape()
    {
        const int size = 32;
        var model = BenchmarkModels.UNet("u", size, width: 4, depth: 4);
        AssertChecked(model);
        var pixels = Enumerable.Range(0, 3 * size * size).Select(i => MathF.Cos(i * 0.05f)).ToArray();
        var output = OrtRunner.RunFloat(model.Onnx, "input", pixels, [1, 3, size, size], "image");

        Assert.Equal(3 * size * size, output.Length);
        AssertVariedWithin(output, -1, 1);
        var manifest = JsonNode.Parse(model.ManifestJson)!;
        Assert.Equal("image-to-image", (string?)manifest["kind"]);
        Assert.Equal($"[-1,3,{size},{size}]", manifest["inputs"]![0]!["shape"]!.ToJsonString());
    }

    [Fact]
    public void The_same_arguments_write_the_same_bytes()
    {
        Assert.Equal(BenchmarkModels.Dcgan("g", 16, 4).Onnx, BenchmarkModels.Dcgan("g", 16, 4).Onnx);
        Assert.NotEqual(BenchmarkModels.Dcgan("g", 16, 4, seed: 1).Onnx, BenchmarkModels.Dcgan("g", 16, 4, seed: 2).Onnx);
    }

    [Theory]
    [InlineData(12)]
    [InlineData(4)]
    [InlineData(100)]
    public void A_side_that_is_not_four_times_a_power_of_two_is_refused(int size)
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => BenchmarkModels.Dcgan("g", size, 4));
        Assert.Equal("size", error.ParamName);
    }

    [Fact]
    public void A_unet_side_that_the_depth_does_not_halve_evenly_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => BenchmarkModels.UNet("u", 24, 4, depth: 4));
    }

    private static void AssertChecked(BenchmarkModel model)
    {
        var path = Path.Combine(Path.GetTempPath(), $"gan-bench-model-{Guid.NewGuid():N}.onnx");
        File.WriteAllBytes(path, model.Onnx);
        try
        {
            var (exitCode, output) = OnnxChecker.Check(path);
            Assert.True(exitCode == 0, output);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void AssertVariedWithin(float[] values, float low, float high)
    {
        Assert.All(values, v => Assert.InRange(v, low, high));
        var mean = values.Average();
        var deviation = Math.Sqrt(values.Average(v => (v - mean) * (v - mean)));
        Assert.True(deviation > 0.01, $"the output is nearly constant (standard deviation {deviation})");
    }
}
