using System.Diagnostics;
using GanInference.Core.Manifests;
using GanInference.Core.Errors;
using GanInference.Core.Imaging;
using GanInference.Core.Models;
using GanInference.Core.Runtime;
using GanInference.Core.Sampling;
using HdrHistogram;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Cli.Bench;

/// <summary>The throughput ceiling: a model folder run straight in ONNX Runtime, no server, no encoding.</summary>
internal sealed record CeilingReport
{
    public required string Model { get; init; }

    public required string ModelDirectory { get; init; }

    public required string Provider { get; init; }

    public required int IntraOpThreads { get; init; }

    public required bool IntraOpSpinning { get; init; }

    public required double DurationSeconds { get; init; }

    /// <summary>Runs in flight at once on the one session (each on its own thread with its own buffers); each result sums them.</summary>
    public int ParallelRuns { get; init; } = 1;

    /// <summary>What one run does: seeds (latents → images), text (captions → tokens → images) or translate (decode → infer → encode).</summary>
    public string Kind { get; init; } = BenchKinds.Seeds;

    /// <summary>Translate: the format the answers are encoded in inside the timed loop (the other kinds encode nothing).</summary>
    public string? Format { get; init; }

    public required IReadOnlyList<CeilingResult> Results { get; init; }
}

/// <summary>The kinds of work `gan bench --kind` measures, and the model kinds they drive.</summary>
internal static class BenchKinds
{
    public const string Seeds = "seeds";
    public const string Text = "text";
    public const string Translate = "translate";

    /// <summary>The kind a model is benchmarked with when --kind is not given.</summary>
    public static string For(Api.V1.ModelKind kind) => kind switch
    {
        Api.V1.ModelKind.TextConditional => Text,
        Api.V1.ModelKind.ImageToImage => Translate,
        _ => Seeds,
    };

    /// <summary>
    /// Captions made of the model's own words, for a text benchmark without --texts: consecutive vocabulary entries
    /// (the padding entry 0 left out), four per caption or fewer when the model takes fewer words. Every caption
    /// tokenizes; their meaning does not matter for speed.
    /// </summary>
    public static IReadOnlyList<string> BuiltInCaptions(IReadOnlyList<string> vocabulary, int maxWords)
    {
        var words = vocabulary.Skip(1).Where(w => w.Length > 0).ToArray();
        if (words.Length == 0)
        {
            throw new CliException("the model lists no vocabulary to build captions from; give --texts or --texts-file.");
        }

        var perCaption = Math.Clamp(maxWords, 1, 4);
        var captions = new List<string>();
        for (var start = 0; start < words.Length; start += perCaption)
        {
            captions.Add(string.Join(' ', Enumerable.Range(start, perCaption).Select(i => words[i % words.Length])));
        }

        return captions;
    }
}

/// <param name="Batch">Images per ONNX Runtime run.</param>
/// <param name="Runs">Measured runs.</param>
/// <param name="ImagesPerSecond">Batch × runs / measured time.</param>
/// <param name="P50Ms">Median time of one run, including drawing the latents.</param>
/// <param name="P99Ms">99th percentile of one run.</param>
internal sealed record CeilingResult(int Batch, long Runs, double ImagesPerSecond, double RunsPerSecond, double P50Ms, double P99Ms);

/// <summary>What an in-process run feeds the model besides seeds: captions (text) or encoded images and the answers' encoding (translate).</summary>
internal sealed record InProcessWork(string? Kind, IReadOnlyList<string>? Captions, IReadOnlyList<byte[]>? Images, ImageEncoding Encoding);

/// <summary>
/// Runs a model folder (<c>gan.json</c> + ONNX file) in-process at fixed batch sizes. Seeds and text: latents are
/// drawn with the server's <see cref="LatentSampler"/> and captions tokenized with the model's tokenizer inside the
/// timed loop, as the server does per batch; inputs and outputs are bound to preallocated buffers. Translate: each
/// run also decodes its PNG/JPEG inputs (at the model's size, as the server: scaled JPEG decode, resampling) and
/// encodes every answer, in parallel over the images, so the ceiling is decode + infer + encode. The session comes
/// from the server's <see cref="OnnxSessionFactory"/> with the same <see cref="InferenceOptions"/> keys.
/// </summary>
internal sealed class InProcessBench(string modelDirectory, InferenceOptions inference, InProcessWork? work = null, int parallelRuns = 1)
{
    private readonly InProcessWork _work = work ?? new InProcessWork(null, null, null, new ImageEncoding(ImageFormatKind.Png));

    public async Task<CeilingReport> RunAsync(IReadOnlyList<int> batches, TimeSpan warmup, TimeSpan duration, Action<CeilingResult> onResult, CancellationToken cancellationToken)
    {
        ManifestReadResult manifest;
        try
        {
            manifest = await ManifestReader.ReadAsync(modelDirectory, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ModelLoadException or IOException or UnauthorizedAccessException)
        {
            throw new CliException($"--model-dir '{modelDirectory}': {e.Message}");
        }

        var (session, provider) = OpenSession(manifest.Manifest.Name!, manifest.ModelPath);
        using var ownedSession = session;
        ModelSignature signature;
        try
        {
            signature = ModelSignature.Create(manifest.Manifest, manifest.Kind, session.InputMetadata, session.OutputMetadata);
        }
        catch (ModelLoadException e)
        {
            throw new CliException($"--model-dir '{modelDirectory}': {e.Message}");
        }

        var kind = BenchKinds.For(ToApiKind(signature.Kind));
        if (_work.Kind is { } wanted && wanted != kind)
        {
            throw new CliException($"--kind {wanted}: --model-dir '{modelDirectory}' is {ModelLookup.KindName(ToApiKind(signature.Kind))}, which `gan bench` measures with --kind {kind}.");
        }

        if (signature.ImageInput is not null && kind != BenchKinds.Translate)
        {
            throw new CliException($"--model-dir '{modelDirectory}': a text-conditional model with an image input runs only as a later step of a pipeline; benchmark the pipeline on a server.");
        }

        if (kind != BenchKinds.Text && _work.Captions is not null)
        {
            throw new CliException($"--texts / --texts-file are the captions of --kind text; --model-dir '{modelDirectory}' is measured with --kind {kind}.");
        }

        if (kind != BenchKinds.Translate && _work.Images is not null)
        {
            throw new CliException($"--images are the inputs of --kind translate; --model-dir '{modelDirectory}' is measured with --kind {kind}.");
        }

        var captions = kind == BenchKinds.Text ? _work.Captions ?? BenchKinds.BuiltInCaptions(signature.Text!.Vocabulary, signature.Text.MaxTokens) : [];
        var images = kind == BenchKinds.Translate
            ? _work.Images is { Count: > 0 } given ? given : throw new CliException("--kind translate needs --images FOLDER (PNG/JPEG files; examples/ has some).")
            : [];
        var results = new List<CeilingResult>();
        foreach (var batch in batches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = parallelRuns == 1
                ? RunBatch(session, signature, kind, captions, images, _work.Encoding, batch, warmup, duration, cancellationToken)
                : await RunInParallelAsync(() => RunBatch(session, signature, kind, captions, images, _work.Encoding, batch, warmup, duration, cancellationToken)).ConfigureAwait(false);
            results.Add(result);
            onResult(result);
        }

        return new CeilingReport
        {
            Model = manifest.Manifest.Name!,
            ModelDirectory = Path.GetFullPath(modelDirectory),
            Provider = provider,
            IntraOpThreads = inference.IntraOpThreads,
            IntraOpSpinning = inference.IntraOpSpinning,
            DurationSeconds = duration.TotalSeconds,
            ParallelRuns = parallelRuns,
            Kind = kind,
            Format = kind == BenchKinds.Translate ? ImageEncoding.ApiName(_work.Encoding.Format) : null,
            Results = results,
        };
    }

    /// <summary>
    /// <c>--parallel-runs N</c>: N copies of the loop on N threads over the one session (ONNX Runtime's <c>Run</c> is
    /// thread-safe; the intra-op pool is shared as in the server), started together; images/s and runs/s are summed,
    /// the latency percentiles are the slowest copy's.
    /// </summary>
    private async Task<CeilingResult> RunInParallelAsync(Func<CeilingResult> run)
    {
        var copies = Enumerable.Range(0, parallelRuns).Select(_ => Task.Factory.StartNew(run, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        var results = await Task.WhenAll(copies).ConfigureAwait(false);
        return new CeilingResult(
            results[0].Batch,
            results.Sum(r => r.Runs),
            results.Sum(r => r.ImagesPerSecond),
            results.Sum(r => r.RunsPerSecond),
            results.Max(r => r.P50Ms),
            results.Max(r => r.P99Ms));
    }

    /// <summary>Opens the session through the server's own factory, so threads, spinning and optimisation match it.</summary>
    private (InferenceSession Session, string Provider) OpenSession(string modelName, string path)
    {
        var factory = new OnnxSessionFactory(Options.Create(inference), NullLogger<OnnxSessionFactory>.Instance);
        try
        {
            return factory.Create(modelName, path);
        }
        catch (ExecutionProviderUnavailableException e)
        {
            // The factory's message names the server's settings (Inference:*); say it in gan's own options.
            throw new CliException(
                $"--provider {inference.ExecutionProvider}: not available in this build of gan ({e.Message.Split(';')[0].Replace("this server was", "it was", StringComparison.Ordinal)}); "
                + "use --provider cpu, or build gan with -p:OnnxRuntimeGpu=true on a machine with CUDA.");
        }
        catch (OnnxRuntimeException e)
        {
            throw new CliException($"--model-dir: ONNX Runtime cannot load '{path}': {e.Message}");
        }
    }

    private static Api.V1.ModelKind ToApiKind(Core.Manifests.ModelKind kind) => kind switch
    {
        Core.Manifests.ModelKind.ClassConditional => Api.V1.ModelKind.ClassConditional,
        Core.Manifests.ModelKind.TextConditional => Api.V1.ModelKind.TextConditional,
        Core.Manifests.ModelKind.ImageToImage => Api.V1.ModelKind.ImageToImage,
        _ => Api.V1.ModelKind.Unconditional,
    };

    private static CeilingResult RunBatch(
        InferenceSession session,
        ModelSignature signature,
        string kind,
        IReadOnlyList<string> captions,
        IReadOnlyList<byte[]> images,
        ImageEncoding encoding,
        int batch,
        TimeSpan warmup,
        TimeSpan duration,
        CancellationToken cancellationToken)
    {
        // One buffer per graph input, in manifest order, filled per run as GeneratorRunner / ImageTranslator fill theirs.
        var inputs = signature.Inputs.Select(i => new InputBuffer(i.Name!, i.Shape!.Skip(1).Aggregate(1, (a, d) => a * (int)d), i.Dtype == "int64", batch)).ToArray();
        var output = new float[batch * signature.OutputsPerItem];
        var translation = kind == BenchKinds.Translate ? TranslationSignature.Create(signature) : null;
        var outputGeometry = new ImageGeometry(signature.Channels, signature.Height, signature.Width, signature.OutputMin, signature.OutputMax);
        var tokenizer = signature.Text?.Tokenizer;
        var encoded = new int[batch];

        var names = inputs.Select(i => i.Name).ToList();
        var values = new List<OrtValue>();
        try
        {
            foreach (var input in inputs)
            {
                long[] shape = [batch, .. signature.Inputs.First(i => i.Name == input.Name).Shape!.Skip(1)];
                values.Add(input.Longs is { } longs ? OrtValue.CreateTensorValueFromMemory(longs, shape) : OrtValue.CreateTensorValueFromMemory(input.Floats!, shape));
            }

            using var outputValue = OrtValue.CreateTensorValueFromMemory(output, [batch, signature.Channels, signature.Height, signature.Width]);
            using var runOptions = new RunOptions();
            var outputNames = new[] { signature.OutputName };
            var outputValues = new[] { outputValue };
            var histogram = new LongHistogram(1, 3_600_000_000, 3);
            var parallel = new ParallelOptions { CancellationToken = cancellationToken };
            ulong nextSeed = 0;
            long nextImage = 0;

            void Decode(int j, long image)
            {
                var target = Input(inputs, translation!.InputName).Floats!.AsSpan(j * translation.InputsPerItem, translation.InputsPerItem);
                var source = new SourceImage(images[(int)(image % images.Count)], SourceEncoding.Auto, 0, 0, 0, string.Empty);
                PlanarImage planar;
                try
                {
                    planar = SourceImageDecoder.Decode(source, "--images", long.MaxValue, "--images", translation.InputMin, translation.InputMax, translation.InputWidth, translation.InputHeight);
                }
                catch (InvalidFieldException e)
                {
                    throw new CliException($"--images: image {image % images.Count} (in name order): {e.Message}");
                }

                try
                {
                    ImageResampler.Convert(planar, translation.InputChannels, translation.InputHeight, translation.InputWidth, target);
                    var scale = translation.InputMax - translation.InputMin;
                    for (var k = 0; k < target.Length; k++)
                    {
                        target[k] = translation.InputMin + (target[k] * scale);
                    }
                }
                finally
                {
                    planar.Return();
                }
            }

            void RunOnce()
            {
                if (translation is not null)
                {
                    var first = nextImage;
                    nextImage += batch;
                    Parallel.For(0, batch, parallel, j => Decode(j, first + j));
                }
                else
                {
                    for (var j = 0; j < batch; j++)
                    {
                        var seed = nextSeed++;
                        var stream = new LatentSampler.NormalSequence(seed, 0);
                        if (signature.LatentInput is { } latentName)
                        {
                            stream.Fill(Input(inputs, latentName).Row(j));
                        }

                        foreach (var noise in signature.NoiseInputs)
                        {
                            stream.Fill(Input(inputs, noise.Name).Row(j));
                        }

                        if (signature.LabelInput is { } labelName)
                        {
                            Input(inputs, labelName).Longs![j] = signature.Classes.Count > 0 ? (long)(seed % (ulong)signature.Classes.Count) : 0;
                        }

                        if (signature.TokensInput is { } tokensName)
                        {
                            var row = Input(inputs, tokensName).LongRow(j);
                            var caption = captions[(int)(seed % (ulong)captions.Count)];
                            if (tokenizer!.Tokenize(caption, row).Status != Core.Text.TokenizeStatus.Ok)
                            {
                                throw new CliException($"caption '{caption}' does not tokenize for this model (unknown words, none, or more than {tokenizer.MaxTokens}); `gan models NAME` lists its words.");
                            }
                        }
                    }
                }

                session.Run(runOptions, names, values, outputNames, outputValues);
                if (translation is not null)
                {
                    // The answers are encoded as the server encodes them (in parallel over the images).
                    Parallel.For(0, batch, parallel, j => encoded[j] = ImageCodec.Encode(output.AsSpan(j * signature.OutputsPerItem, signature.OutputsPerItem), outputGeometry, encoding).Length);
                }
            }

            var warmupEnd = Stopwatch.GetTimestamp() + (long)(warmup.TotalSeconds * Stopwatch.Frequency);
            do
            {
                RunOnce();
                cancellationToken.ThrowIfCancellationRequested();
            }
            while (Stopwatch.GetTimestamp() < warmupEnd);

            var start = Stopwatch.GetTimestamp();
            var end = start + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            long runs = 0;
            while (true)
            {
                var before = Stopwatch.GetTimestamp();
                RunOnce();
                var after = Stopwatch.GetTimestamp();
                histogram.RecordValue(Math.Max(1, (long)((after - before) * 1_000_000.0 / Stopwatch.Frequency)));
                runs++;
                cancellationToken.ThrowIfCancellationRequested();
                if (after >= end)
                {
                    break;
                }
            }

            var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            return new CeilingResult(
                batch,
                runs,
                runs * batch / seconds,
                runs / seconds,
                histogram.GetValueAtPercentile(50) / 1000.0,
                histogram.GetValueAtPercentile(99) / 1000.0);
        }
        finally
        {
            foreach (var value in values)
            {
                value.Dispose();
            }
        }
    }

    private static InputBuffer Input(InputBuffer[] inputs, string name) => inputs.First(i => i.Name == name);

    /// <summary>One graph input's batch buffer (float32, or int64 for labels and tokens); <paramref name="Width"/> values per item.</summary>
    private sealed class InputBuffer(string name, int width, bool isInt64, int batch)
    {
        public string Name { get; } = name;

        public float[]? Floats { get; } = isInt64 ? null : new float[batch * width];

        public long[]? Longs { get; } = isInt64 ? new long[batch * width] : null;

        public Span<float> Row(int item) => Floats.AsSpan(item * width, width);

        public Span<long> LongRow(int item) => Longs.AsSpan(item * width, width);
    }
}
