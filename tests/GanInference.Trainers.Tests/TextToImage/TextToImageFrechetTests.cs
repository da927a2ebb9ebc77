using GanInference.Trainers.Data;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.TextToImage;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>
/// <c>evaluate --resnet</c> on a text-to-image pipeline: ResNet-18 features of RGB images (<see cref="ResNetFeatures.ComputeColour"/>)
/// and the Fréchet distances at 64×64 (<see cref="TextToImageFrechet"/>).
/// </summary>
public sealed class TextToImageFrechetTests
{
    [Fact]
    public async Task Colour_features_see_colour_and_agree_with_grey_features_on_grey_images()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 40, testCount: 40, gzip: false);
        var test = await MnistDataset.LoadAsync(temp.Combine("data"), MnistSplit.Test, CancellationToken.None);
        var captions = TextToImageEvaluator.HeldOutCaptions(12);
        var renders = TextToImageEvaluator.RenderReal(test, captions);
        using var resNet = new ResNetFeatures();
        const int size = CaptionedDigits.LargeSize;

        // One channel of the renders repeated three times reads exactly as that channel through the grey path.
        const int area = size * size;
        var grey = new float[captions.Count * area];
        var greyRgb = new float[captions.Count * 3 * area];
        for (var i = 0; i < captions.Count; i++)
        {
            renders.AsSpan(i * 3 * area, area).CopyTo(grey.AsSpan(i * area, area));
            for (var c = 0; c < 3; c++)
            {
                renders.AsSpan(i * 3 * area, area).CopyTo(greyRgb.AsSpan(((i * 3) + c) * area, area));
            }
        }

        var fromGrey = resNet.Compute(grey, size, CancellationToken.None);
        var fromRgb = resNet.ComputeColour(greyRgb, size, CancellationToken.None);
        Assert.Equal(captions.Count * ResNetFeatures.Dimension, fromRgb.Length);
        Assert.InRange(fromGrey.Zip(fromRgb, (a, b) => Math.Abs(a - b)).Max(), 0f, 1e-3f);

        // The same renders with red and blue swapped: the colour features move, the grey copy cannot tell.
        var swapped = (float[])renders.Clone();
        for (var i = 0; i < captions.Count; i++)
        {
            renders.AsSpan(i * 3 * area, area).CopyTo(swapped.AsSpan(((i * 3) + 2) * area, area));
            renders.AsSpan(((i * 3) + 2) * area, area).CopyTo(swapped.AsSpan(i * 3 * area, area));
        }

        var original = resNet.ComputeColour(renders, size, CancellationToken.None);
        var other = resNet.ComputeColour(swapped, size, CancellationToken.None);
        Assert.InRange(FrechetDistance.Compute(original, original, ResNetFeatures.Dimension), -1e-3, 1e-3);
        Assert.True(FrechetDistance.Compute(original, other, ResNetFeatures.Dimension) > 1.0);
    }

    [Fact]
    public async Task A_random_pipeline_is_farther_from_real_renders_than_real_renders_of_other_digits()
    {
        using var temp = new TempDirectory();
        TinyMnist.Write(temp.Combine("data"), trainCount: 60, testCount: 60, gzip: false);
        random.manual_seed(41);
        using var stageOne = new StageOneGenerator(SmallStackGan.Networks);
        using var stageTwo = new StageTwoGenerator(SmallStackGan.Networks);
        var exporter = new StackGanExporter();
        using var pipeline = new OnnxStackGanPipeline(Google.Protobuf.MessageExtensions.ToByteArray(exporter.ExportStageOne(stageOne)), Google.Protobuf.MessageExtensions.ToByteArray(exporter.ExportStageTwo(stageTwo)), SmallStackGan.Networks);

        var report = await TextToImageFrechet.ComputeAsync(pipeline, temp.Combine("data"), 20, 1f, null, CancellationToken.None);

        Assert.Equal(20, report.Captions);
        Assert.True(report.Generated > 2 * report.RealVsReal, $"random pipeline {report.Generated}, real vs real {report.RealVsReal}");
        Assert.True(report.StageOneUpscaled > 2 * report.RealVsReal, $"random Stage-I {report.StageOneUpscaled}, real vs real {report.RealVsReal}");
        Assert.True(report.RealVsReal > 0);
    }
}
