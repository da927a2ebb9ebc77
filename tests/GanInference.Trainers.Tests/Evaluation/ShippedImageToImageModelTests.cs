using System.Text.Json;
using GanInference.Trainers.Evaluation;

namespace GanInference.Trainers.Tests.Evaluation;

/// <summary>
/// The shipped image-to-image models (<c>models/pix2pix-outline2digit</c>, <c>models/cyclegan-digits-a2b</c> and
/// <c>-b2a</c>): every figure of their manifests (recognition, the reference recognition, L1 to the target, the cycle
/// L1 through the opposite shipped generator, and the background and stroke colours) is recomputed from the shipped
/// ONNX files by the export's own evaluator, on the 200 held-out test digits the export used (the test split the
/// export read is copied into <c>Data/mnist</c>, see its README).
/// </summary>
public sealed class ShippedImageToImageModelTests
{
    [Theory]
    [InlineData("pix2pix-outline2digit", null)]
    [InlineData("cyclegan-digits-a2b", "cyclegan-digits-b2a")]
    [InlineData("cyclegan-digits-b2a", "cyclegan-digits-a2b")]
    public async Task The_shipped_model_reproduces_its_manifest_figures(string name, string? reverseName)
    {
        using var manifest = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(ShippedFiles.Model(name), "gan.json")));
        var provenance = manifest.RootElement.GetProperty("provenance");
        var metrics = provenance.GetProperty("metrics");
        var colours = provenance.GetProperty("colours");
        Assert.StartsWith("200 held-out MNIST test digits", provenance.GetProperty("evaluation").GetString());

        using var model = new OnnxTranslatorSession(Path.Combine(ShippedFiles.Model(name), "model.onnx"));
        using var reverse = reverseName is null ? null : new OnnxTranslatorSession(Path.Combine(ShippedFiles.Model(reverseName), "model.onnx"));
        var evaluator = new ImageToImageEvaluator(
            ShippedFiles.Classifier,
            ShippedFiles.Mnist);
        var report = await evaluator.EvaluateAsync(model, reverse, 200, CancellationToken.None);

        var recomputed = report.ToMetrics();
        var shipped = metrics.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetDouble());
        Assert.Equal(shipped.Keys.Order(), recomputed.Keys.Order());
        foreach (var (key, value) in shipped)
        {
            Assert.True(value == recomputed[key], $"{name}: {key} is {value} in gan.json, recomputed {recomputed[key]}");
        }

        Assert.Equal(Levels(colours, "background"), report.BackgroundColor);
        Assert.Equal(Levels(colours, "stroke"), report.StrokeColor);
        Assert.Equal(Levels(colours, "targetBackground"), report.TargetBackgroundColor);
        Assert.Equal(Levels(colours, "targetStroke"), report.TargetStrokeColor);

        // The model's digits read about as well as the real targets (the reader's ceiling).
        Assert.InRange(report.RecognitionRate, report.ReferenceRecognitionRate - 0.05, 1.0);
    }

    private static double[] Levels(JsonElement colours, string name) =>
        colours.GetProperty(name).EnumerateArray().Select(v => v.GetDouble()).ToArray();
}
