using System.Text.Json;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.TextToImage;

namespace GanInference.Trainers.Tests.TextToImage;

/// <summary>
/// The shipped <c>models/stackgan-digits</c>: its manifest's figures are reproduced from its own ONNX files (200 held-out
/// captions, seeds 1000.., the manifest's default truncation, the same reader and classifier), and they meet issue #3's bar and
/// issue 16's border-roughness gate (at most 1.0 levels on every background).
/// Guards against a manifest, README or doc figure drifting away from the files next to it.
/// </summary>
public sealed class ShippedTextModelTests
{
    private const string Pipeline = "stackgan-digits";

    [Fact]
    public void The_shipped_pipeline_reproduces_its_manifest_figures_and_meets_the_bar()
    {
        var models = Path.Combine(ShippedFiles.Root, "models");
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(models, Pipeline, "gan.json")));
        var truncation = manifest.RootElement.GetProperty("defaults").GetProperty("truncation").GetSingle();
        var provenance = manifest.RootElement.GetProperty("provenance");
        var metrics = provenance.GetProperty("metrics");
        var networks = provenance.GetProperty("architecture").Deserialize<StackGanArchitecture>(new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

        var count = metrics.GetProperty("heldOutCaptions").GetInt32();
        var captions = TextToImageEvaluator.HeldOutCaptions(count);
        using var pipeline = new OnnxStackGanPipeline(
            File.ReadAllBytes(Path.Combine(models, $"{Pipeline}-stage1", "model.onnx")),
            File.ReadAllBytes(Path.Combine(models, $"{Pipeline}-stage2", "model.onnx")),
            networks);
        var (_, large) = pipeline.Generate([.. captions.SelectMany(c => CaptionGrammar.Tokenize(c.Caption))], null, TextToImageEvaluator.Seeds(count), CancellationToken.None, truncation);
        using var classifier = new OnnxClassifierSession(ShippedFiles.Classifier);
        var (digit, colour, background) = TextToImageEvaluator.Read(large, CaptionedDigits.LargeSize, captions, classifier, CancellationToken.None);

        Assert.Equal(metrics.GetProperty("digitAccuracy").GetDouble(), digit, 3);
        Assert.Equal(metrics.GetProperty("colourAccuracy").GetDouble(), colour, 3);
        Assert.Equal(metrics.GetProperty("backgroundAccuracy").GetDouble(), background, 3);
        // Issue 16's texture gate, from the same images: border roughness per caption background (black, white, gray)
        // as the manifest states it, and at most 1.0 levels on every background.
        var roughness = TextToImageEvaluator.BorderRoughnessByBackground(large, CaptionedDigits.LargeSize, captions);
        string[] backgrounds = ["Black", "White", "Gray"];
        for (var b = 0; b < backgrounds.Length; b++)
        {
            Assert.Equal(metrics.GetProperty($"borderRoughness{backgrounds[b]}").GetDouble(), roughness[b], 3);
            Assert.InRange(roughness[b], 0.0, 1.0);
        }

        var fullResolution = TextToImageEvaluator.ReadDigitsAtFullResolution(large, captions, classifier, CancellationToken.None);
        Assert.Equal(metrics.GetProperty("digitAccuracy64").GetDouble(), fullResolution, 3);
        Assert.Equal(200, count);
        Assert.InRange(digit, 0.80, 1.0);
        Assert.InRange(colour, 0.90, 1.0);
        Assert.InRange(background, 0.95, 1.0);
    }

    /// <summary>
    /// The report set (issue 16's honest split): the thickness captions, seeds 20000.., on which no choice was made, read for
    /// digit, colour, background and thickness from the shipped files, as the manifest states them.
    /// </summary>
    [Fact]
    public async Task The_shipped_pipeline_reproduces_its_report_set_figures()
    {
        var models = Path.Combine(ShippedFiles.Root, "models");
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(models, Pipeline, "gan.json")));
        var truncation = manifest.RootElement.GetProperty("defaults").GetProperty("truncation").GetSingle();
        var provenance = manifest.RootElement.GetProperty("provenance");
        var metrics = provenance.GetProperty("metrics");
        var networks = provenance.GetProperty("architecture").Deserialize<StackGanArchitecture>(new JsonSerializerOptions(JsonSerializerDefaults.Web))!;

        var count = metrics.GetProperty("thicknessCaptions").GetInt32();
        var captions = TextToImageEvaluator.ThicknessCaptions(count);
        using var pipeline = new OnnxStackGanPipeline(
            File.ReadAllBytes(Path.Combine(models, $"{Pipeline}-stage1", "model.onnx")),
            File.ReadAllBytes(Path.Combine(models, $"{Pipeline}-stage2", "model.onnx")),
            networks);
        var (_, large) = pipeline.Generate([.. captions.SelectMany(c => CaptionGrammar.Tokenize(c.Caption))], null, TextToImageEvaluator.ThicknessSeeds(count), CancellationToken.None, truncation);
        using var classifier = new OnnxClassifierSession(ShippedFiles.Classifier);
        var (digit, colour, background) = TextToImageEvaluator.Read(large, CaptionedDigits.LargeSize, captions, classifier, CancellationToken.None);
        var train = await GanInference.Trainers.Data.MnistDataset.LoadAsync(ShippedFiles.Mnist, GanInference.Trainers.Data.MnistSplit.Train, CancellationToken.None);
        var thickness = ThicknessReader.Calibrate(train, CaptionedDigits.LargeSize).Accuracy(large, captions);

        Assert.Equal(300, count);
        Assert.Equal(metrics.GetProperty("reportDigitAccuracy").GetDouble(), digit, 3);
        Assert.Equal(metrics.GetProperty("reportColourAccuracy").GetDouble(), colour, 3);
        Assert.Equal(metrics.GetProperty("reportBackgroundAccuracy").GetDouble(), background, 3);
        Assert.Equal(metrics.GetProperty("thicknessAccuracy").GetDouble(), thickness, 3);
    }
}
