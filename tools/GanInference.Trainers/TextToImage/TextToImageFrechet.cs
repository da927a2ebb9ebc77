using GanInference.Trainers.Data;
using GanInference.Trainers.Evaluation;

namespace GanInference.Trainers.TextToImage;

/// <summary>Fréchet distances at 64×64 in ImageNet ResNet-18 features (<c>evaluate --resnet</c> on a text-to-image pipeline).</summary>
public sealed record TextToImageFrechetReport(int Captions, double Generated, double StageOneUpscaled, double RealVsReal)
{
    /// <summary>The figures under the names <c>evaluate</c> prints and the manifests carry, rounded to 3 decimals.</summary>
    public IReadOnlyDictionary<string, double> ToMetrics() => new Dictionary<string, double>
    {
        ["resNetFrechet64"] = Math.Round(Generated, 3),
        ["stage1UpscaledResNetFrechet64"] = Math.Round(StageOneUpscaled, 3),
        ["realVsRealResNetFrechet64"] = Math.Round(RealVsReal, 3),
    };
}

/// <summary>
/// Issue 16's Fréchet distance at 64×64 against real renders: the pipeline's 64×64 images of the evaluation's held-out
/// captions and seeds (<see cref="TextToImageEvaluator.HeldOutCaptions"/>, the manifest's truncation) and, as a
/// reference, its Stage-I images upscaled 2× by nearest neighbour, each against real renders of the same attributes
/// from MNIST test digits (<see cref="TextToImageEvaluator.RenderReal"/>); the baseline is renders of the same attributes
/// from MNIST training digits against those test renders. Features: <see cref="ResNetFeatures.ComputeColour"/> (RGB, so
/// colour and texture count, which our grey digit classifier's features would not see). With as many images as
/// captions (200 by default) and 512 features the covariances are rank-deficient, so the figures are comparable only
/// between runs with the same number of captions.
/// </summary>
public static class TextToImageFrechet
{
    public static async Task<TextToImageFrechetReport> ComputeAsync(OnnxStackGanPipeline pipeline, string dataDirectory, int count, float truncation, string? resNetModels, CancellationToken cancellationToken)
    {
        var captions = TextToImageEvaluator.HeldOutCaptions(count);
        var tokens = captions.SelectMany(c => CaptionGrammar.Tokenize(c.Caption)).ToArray();
        var (small, large) = pipeline.Generate(tokens, null, TextToImageEvaluator.Seeds(count), cancellationToken, truncation);
        var test = await MnistDataset.LoadAsync(dataDirectory, MnistSplit.Test, cancellationToken).ConfigureAwait(false);
        var train = await MnistDataset.LoadAsync(dataDirectory, MnistSplit.Train, cancellationToken).ConfigureAwait(false);
        using var features = new ResNetFeatures(resNetModels);
        const int size = CaptionedDigits.LargeSize;
        var real = features.ComputeColour(TextToImageEvaluator.RenderReal(test, captions), size, cancellationToken);
        var realTrain = features.ComputeColour(TextToImageEvaluator.RenderReal(train, captions), size, cancellationToken);
        var generated = features.ComputeColour(large, size, cancellationToken);
        var upscaled = features.ComputeColour(TextToImageEvaluator.UpscaleNearest(small, CaptionedDigits.SmallSize), size, cancellationToken);
        return new TextToImageFrechetReport(
            count,
            Math.Round(FrechetDistance.Compute(generated, real, ResNetFeatures.Dimension), 2),
            Math.Round(FrechetDistance.Compute(upscaled, real, ResNetFeatures.Dimension), 2),
            Math.Round(FrechetDistance.Compute(realTrain, real, ResNetFeatures.Dimension), 2));
    }
}
