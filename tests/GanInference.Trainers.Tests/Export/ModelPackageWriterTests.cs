using System.Text.Json;
using System.Text.Json.Nodes;
using GanInference.Core.Manifests;
using GanInference.Trainers.Evaluation;
using GanInference.Trainers.Export;
using GanInference.Trainers.Models;
using GanInference.Trainers.Sampling;
using GanInference.Trainers.Training;
using ModelKind = GanInference.Trainers.Models.ModelKind;

namespace GanInference.Trainers.Tests.Export;

/// <summary>export end to end on tiny checkpoints: real ONNX files, real evaluation, atomic folders.</summary>
public sealed class ModelPackageWriterTests
{
    [Theory]
    [InlineData(ModelKind.Dcgan)]
    [InlineData(ModelKind.Cdcgan)]
    public async Task Writes_a_model_folder_the_server_accepts(ModelKind kind)
    {
        using var temp = new TempDirectory();
        var (data, classifier) = await DigitsAndClassifierAsync(temp, gzip: true);
        var checkpoint = await TrainGeneratorAsync(temp, data, kind);
        var output = temp.Combine("models", kind == ModelKind.Dcgan ? "tiny-dcgan" : "tiny-cdcgan");

        var report = await new ModelPackageWriter(new OnnxModelExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = checkpoint, OutputDirectory = output, ClassifierPath = classifier, EvaluationSamples = 20 },
            CancellationToken.None);

        Assert.NotNull(report);
        Assert.Equal(["gan.json", "model.onnx", "samples.png"], Directory.GetFiles(output).Select(Path.GetFileName).Order());
        Assert.Equal([0x89, (byte)'P', (byte)'N', (byte)'G'], File.ReadAllBytes(Path.Combine(output, "samples.png")).Take(4));
        Assert.Equal(1.0, report.ClassFractions.Sum(), precision: 3);
        Assert.Equal(kind == ModelKind.Cdcgan, report.ClassifierAccuracy.HasValue);
        Assert.True(report.RealVsRealFrechetDistance >= 0 && double.IsFinite(report.FrechetDistance));

        // The server's own manifest reader accepts the folder (schema + folder name).
        var read = await ManifestReader.ReadAsync(output, CancellationToken.None);
        Assert.Equal(Path.GetFileName(output), read.Manifest.Name);
        Assert.Equal(Path.Combine(output, "model.onnx"), read.ModelPath);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "gan.json")));
        var provenance = manifest.RootElement.GetProperty("provenance");
        Assert.Equal(2, provenance.GetProperty("epochs").GetInt32());
        Assert.True(provenance.GetProperty("metrics").TryGetProperty("frechetDistance", out _));

        using var session = new OnnxGeneratorSession(Path.Combine(output, "model.onnx"));
        Assert.Equal(kind == ModelKind.Cdcgan, session.IsConditional);
        Assert.Equal(100, session.LatentDimension);
    }

    [Fact]
    public async Task A_latent_class_dcgan_exports_as_an_unconditional_model_whose_file_reads_the_class_from_z()
    {
        using var temp = new TempDirectory();
        var (data, classifier) = await DigitsAndClassifierAsync(temp, gzip: false);
        var checkpoint = await TrainGeneratorAsync(temp, data, ModelKind.Dcgan, latentClasses: true);
        var output = temp.Combine("models", "tiny-latent-class");

        await new ModelPackageWriter(new OnnxModelExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = checkpoint, OutputDirectory = output, ClassifierPath = classifier, EvaluationSamples = 20 },
            CancellationToken.None);

        var read = await ManifestReader.ReadAsync(output, CancellationToken.None);
        Assert.Equal("unconditional", read.Manifest.Kind);
        Assert.Null(read.Manifest.Classes);
        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "gan.json")));
        Assert.True(manifest.RootElement.GetProperty("provenance").GetProperty("architecture").GetProperty("latentClasses").GetBoolean());
        Assert.Contains("digit class read from z", read.Manifest.Description ?? string.Empty, StringComparison.Ordinal);

        // The file takes z alone and gives what the checkpoint's generator gives for the class of each z.
        using var session = new OnnxGeneratorSession(Path.Combine(output, "model.onnx"));
        Assert.False(session.IsConditional);
        var info = await Checkpoint.ReadInfoAsync(checkpoint, CancellationToken.None);
        var generator = ModelFactory.CreateGenerator(info.Architecture);
        using var module = generator.Module;
        Checkpoint.LoadWeights(checkpoint, Checkpoint.GeneratorFileName, module);
        module.eval();
        ulong[] seeds = [0, 1, 2, 3, 4, 5, 6, 7];
        using var z = TorchSharp.torch.tensor(SeededLatents.Create(seeds, info.Architecture.LatentDimension), [seeds.Length, info.Architecture.LatentDimension]);
        float[] expected;
        using (TorchSharp.torch.no_grad())
        using (var images = generator.Generate(z, null))
        {
            expected = images.data<float>().ToArray();
        }

        var actual = session.Generate(seeds, null, 0f, CancellationToken.None);
        Assert.InRange(expected.Zip(actual).Max(p => Math.Abs(p.First - p.Second)), 0f, 1e-4f);
    }

    [Fact]
    public async Task A_failed_export_leaves_nothing_behind_and_keeps_the_previous_model()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 32, testCount: 20, gzip: false);
        var checkpoint = await TrainGeneratorAsync(temp, data, ModelKind.Dcgan);
        var models = temp.Combine("models");
        var output = Path.Combine(models, "dcgan");
        Directory.CreateDirectory(output);
        File.WriteAllText(Path.Combine(output, "gan.json"), "previous");

        // The classifier is missing, so the evaluation fails after model.onnx and samples.png were written.
        var missingClassifier = temp.Combine("no-classifier.onnx");
        var error = await Assert.ThrowsAsync<FileNotFoundException>(() => new ModelPackageWriter(new OnnxModelExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = checkpoint, OutputDirectory = output, ClassifierPath = missingClassifier, EvaluationSamples = 20 },
            CancellationToken.None));

        Assert.Contains(missingClassifier, error.Message, StringComparison.Ordinal);
        Assert.Equal(["dcgan"], Directory.GetFileSystemEntries(models).Select(Path.GetFileName));
        Assert.Equal(["gan.json"], Directory.GetFiles(output).Select(Path.GetFileName));
        Assert.Equal("previous", File.ReadAllText(Path.Combine(output, "gan.json")));
    }

    [Fact]
    public async Task A_failed_first_export_creates_no_folder()
    {
        using var temp = new TempDirectory();
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 32, testCount: 20, gzip: false);
        var checkpoint = await TrainGeneratorAsync(temp, data, ModelKind.Dcgan);
        var models = temp.Combine("models");

        await Assert.ThrowsAsync<FileNotFoundException>(() => new ModelPackageWriter(new OnnxModelExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = checkpoint, OutputDirectory = Path.Combine(models, "dcgan"), ClassifierPath = temp.Combine("none.onnx"), EvaluationSamples = 20 },
            CancellationToken.None));

        Assert.Empty(Directory.GetFileSystemEntries(models));
    }

    [Fact]
    public async Task Evaluation_seed_set_and_selection_note_reach_the_figures_and_the_manifest()
    {
        using var temp = new TempDirectory();
        var (data, classifier) = await DigitsAndClassifierAsync(temp, gzip: false);
        var checkpoint = await TrainGeneratorAsync(temp, data, ModelKind.Dcgan);
        var output = temp.Combine("models", "tiny-dcgan");

        var report = await new ModelPackageWriter(new OnnxModelExporter()).WriteAsync(
            new ExportOptions
            {
                CheckpointDirectory = checkpoint, OutputDirectory = output, ClassifierPath = classifier, EvaluationSamples = 20,
                EvaluationFirstSeed = 1000, Selection = "chosen on seeds 1000-1019",
            },
            CancellationToken.None);

        using var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "gan.json")));
        var provenance = manifest.RootElement.GetProperty("provenance");
        Assert.Equal("chosen on seeds 1000-1019", provenance.GetProperty("selection").GetString());
        Assert.StartsWith("20 samples from seeds 1000..1019,", provenance.GetProperty("evaluation").GetString());
        Assert.Equal(1000, provenance.GetProperty("metrics").GetProperty("evaluationFirstSeed").GetInt32());

        // The figures are those of seeds 1000..1019 (the classifier's shares of exactly those images), not of 0..19.
        var model = Path.Combine(output, "model.onnx");
        var evaluator = new GeneratorEvaluator(classifier, data);
        var selection = await evaluator.EvaluateAsync(model, 20, 0f, CancellationToken.None, firstSeed: 1000);
        var reported = await evaluator.EvaluateAsync(model, 20, 0f, CancellationToken.None);
        Assert.NotNull(report);
        Assert.Equal(1000UL, selection.FirstSeed);
        Assert.Equal(report.FrechetDistance, selection.FrechetDistance);
        Assert.Equal(report.ClassFractions, selection.ClassFractions);
        Assert.NotEqual(reported.FrechetDistance, selection.FrechetDistance);
        Assert.Equal(0UL, reported.FirstSeed);
        Assert.False(reported.ToMetrics().ContainsKey("evaluationFirstSeed"));

        using var generator = new OnnxGeneratorSession(model);
        using var reader = new OnnxClassifierSession(classifier);
        var seeds = Enumerable.Range(1000, 20).Select(i => (ulong)i).ToArray();
        var (predicted, _) = reader.Classify(generator.Generate(seeds, null, 0f, CancellationToken.None), CancellationToken.None);
        var shares = Enumerable.Range(0, reader.ClassCount).Select(c => Math.Round(predicted.Count(p => p == c) / 20.0, 4)).ToArray();
        Assert.Equal(shares, selection.ClassFractions);
    }

    [Fact]
    public async Task Export_of_the_generator_average_writes_it_and_says_so_and_a_checkpoint_without_one_is_refused()
    {
        using var temp = new TempDirectory();
        var (data, classifier) = await DigitsAndClassifierAsync(temp, gzip: false);
        var averaged = await TrainGeneratorAsync(temp, data, ModelKind.Dcgan, emaDecay: 0.99);
        var writer = new ModelPackageWriter(new OnnxModelExporter());
        ExportOptions Export(string checkpoint, string name) => new() { CheckpointDirectory = checkpoint, OutputDirectory = temp.Combine("models", name), ClassifierPath = classifier, EvaluationSamples = 20 };

        await writer.WriteAsync(Export(averaged, "online"), CancellationToken.None);
        await writer.WriteAsync(Export(averaged, "average") with { GeneratorEma = true }, CancellationToken.None);

        using var manifest = JsonDocument.Parse(File.ReadAllText(temp.Combine("models", "average", "gan.json")));
        Assert.StartsWith("exponential moving average of the generator weights (decay 0.99 per step, 4 updates)", manifest.RootElement.GetProperty("provenance").GetProperty("generatorWeights").GetString());
        using var online = new OnnxGeneratorSession(temp.Combine("models", "online", "model.onnx"));
        using var average = new OnnxGeneratorSession(temp.Combine("models", "average", "model.onnx"));
        var seeds = new ulong[] { 1, 2, 3 };
        Assert.NotEqual(online.Generate(seeds, null, 0f, CancellationToken.None), average.Generate(seeds, null, 0f, CancellationToken.None));

        var both = await Assert.ThrowsAsync<ArgumentException>(() => writer.WriteAsync(Export(averaged, "both") with { GeneratorEma = true, AverageEpochs = 2 }, CancellationToken.None));
        Assert.Contains("--ema and --average-epochs 2", both.Message, StringComparison.Ordinal);
        var plain = await TrainGeneratorAsync(temp, data, ModelKind.Cdcgan);
        var missing = await Assert.ThrowsAsync<ArgumentException>(() => writer.WriteAsync(Export(plain, "missing") with { GeneratorEma = true }, CancellationToken.None));
        Assert.Contains("--g-ema", missing.Message, StringComparison.Ordinal);
        Assert.Contains(Checkpoint.GeneratorEmaFileName, missing.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.Combine("models", "missing")));
    }

    [Fact]
    public async Task Updating_a_manifest_replaces_its_figures_with_the_evaluation_and_keeps_everything_else()
    {
        using var temp = new TempDirectory();
        var (data, classifier) = await DigitsAndClassifierAsync(temp, gzip: false);
        var output = temp.Combine("models", "tiny-cdcgan");
        await new ModelPackageWriter(new OnnxModelExporter()).WriteAsync(
            new ExportOptions { CheckpointDirectory = await TrainGeneratorAsync(temp, data, ModelKind.Cdcgan), OutputDirectory = output, ClassifierPath = classifier, EvaluationSamples = 20 },
            CancellationToken.None);
        var path = Path.Combine(output, "gan.json");
        var before = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var evaluator = new GeneratorEvaluator(classifier, data);
        var model = Path.Combine(output, "model.onnx");

        // Figures of another seed set are not the manifest's: refused, file untouched.
        var selection = await evaluator.EvaluateAsync(model, 30, 0f, CancellationToken.None, firstSeed: 1000);
        var error = await Assert.ThrowsAsync<ArgumentException>(() => ModelPackageWriter.UpdateManifestFiguresAsync(output, selection, classifier, data, "evaluate", CancellationToken.None));
        Assert.Contains("--first-seed 1000", error.Message, StringComparison.Ordinal);
        Assert.Equal(before.ToJsonString(), JsonNode.Parse(File.ReadAllText(path))!.ToJsonString());

        var report = await evaluator.EvaluateAsync(model, 30, 0f, CancellationToken.None);
        await ModelPackageWriter.UpdateManifestFiguresAsync(output, report, classifier, data, "evaluate --update-manifest", CancellationToken.None);

        var after = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var provenance = after["provenance"]!;
        Assert.Equal(30, provenance["metrics"]!["evaluationSamples"]!.GetValue<int>());
        Assert.Equal(report.ToMetrics().OrderBy(m => m.Key), provenance["metrics"]!.AsObject().Select(m => KeyValuePair.Create(m.Key, m.Value!.GetValue<double>())).OrderBy(m => m.Key));
        Assert.Equal(report.NeighbourClassFractions, provenance["neighbourClassFractions"]!.AsArray().Select(v => v!.GetValue<double>()));
        Assert.Equal("evaluate --update-manifest", provenance["evaluationCommand"]!.GetValue<string>());
        Assert.StartsWith("30 samples from seeds 0..29 with label = seed % 10,", provenance["evaluation"]!.GetValue<string>());
        // Everything but the figures is as the export wrote it, and the server still reads the folder.
        foreach (var key in new[] { "inputs", "outputs", "batching", "defaults", "name", "kind" })
        {
            Assert.Equal(before[key]?.ToJsonString(), after[key]?.ToJsonString());
        }

        Assert.Equal(before["provenance"]!["command"]!.GetValue<string>(), provenance["command"]!.GetValue<string>());
        await ManifestReader.ReadAsync(output, CancellationToken.None);
        Assert.False(File.Exists(path + ".partial"));
    }

    /// <summary>Tiny MNIST files in <c>temp/data</c> (32 training, 20 test digits) and a classifier exported from them.</summary>
    private static async Task<(string Data, string Classifier)> DigitsAndClassifierAsync(TempDirectory temp, bool gzip)
    {
        var data = temp.Combine("data");
        TinyMnist.Write(data, trainCount: 32, testCount: 20, gzip: gzip);
        return (data, await TestClassifier.ExportAsync(temp, data));
    }

    private static async Task<string> TrainGeneratorAsync(TempDirectory temp, string data, ModelKind kind, double emaDecay = 0, bool latentClasses = false)
    {
        var options = new TrainingOptions
        {
            Architecture = new GanArchitecture { Kind = kind, GeneratorWidth = 4, DiscriminatorWidth = 4, LabelEmbeddingDimension = 4, LatentClasses = latentClasses },
            DataDirectory = data,
            RunDirectory = temp.Combine("runs", kind.ToString()),
            Epochs = 2,
            BatchSize = 16,
            Seed = 1,
            Command = "test",
            GeneratorEmaDecay = emaDecay,
        };
        var result = await new GanTrainer(options).RunAsync(new Progress<TrainingProgress>(), CancellationToken.None);
        return result.LastCheckpoint;
    }
}
