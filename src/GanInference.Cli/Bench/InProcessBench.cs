using System.Diagnostics;
using GanInference.Core.Manifests;
using GanInference.Core.Errors;
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

    public required IReadOnlyList<CeilingResult> Results { get; init; }
}

/// <param name="Batch">Images per ONNX Runtime run.</param>
/// <param name="Runs">Measured runs.</param>
/// <param name="ImagesPerSecond">Batch × runs / measured time.</param>
/// <param name="P50Ms">Median time of one run, including drawing the latents.</param>
/// <param name="P99Ms">99th percentile of one run.</param>
internal sealed record CeilingResult(int Batch, long Runs, double ImagesPerSecond, double RunsPerSecond, double P50Ms, double P99Ms);

/// <summary>
/// Runs a model folder (<c>gan.json</c> + ONNX file) in-process at fixed batch sizes. Latents are drawn with
/// the server's <see cref="LatentSampler"/> inside the timed loop, as the server does per batch; inputs
/// and outputs are bound to preallocated buffers so the loop allocates nothing. The session comes from
/// the server's <see cref="OnnxSessionFactory"/> with the same <see cref="InferenceOptions"/> keys.
/// </summary>
internal sealed class InProcessBench(string modelDirectory, InferenceOptions inference)
{
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

        if (!signature.IsGenerator)
        {
            throw new CliException($"--model-dir '{modelDirectory}': a {manifest.Kind} model; the in-process ceiling runs models fed by latents and labels only.");
        }

        var results = new List<CeilingResult>();
        foreach (var batch in batches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = RunBatch(session, signature, batch, warmup, duration, cancellationToken);
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
            Results = results,
        };
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

    private static CeilingResult RunBatch(InferenceSession session, ModelSignature signature, int batch, TimeSpan warmup, TimeSpan duration, CancellationToken cancellationToken)
    {
        var latents = new float[batch * signature.LatentDim];
        var noises = signature.NoiseInputs.Select(n => new float[batch * n.Size]).ToArray();
        var labels = new long[batch];
        var output = new float[batch * signature.OutputsPerItem];

        var names = new List<string>();
        var values = new List<OrtValue>();
        try
        {
            if (signature.LatentInput is { } latentName)
            {
                names.Add(latentName);
                values.Add(OrtValue.CreateTensorValueFromMemory(latents, [batch, signature.LatentDim]));
            }

            for (var i = 0; i < noises.Length; i++)
            {
                names.Add(signature.NoiseInputs[i].Name);
                values.Add(OrtValue.CreateTensorValueFromMemory(noises[i], [batch, signature.NoiseInputs[i].Size]));
            }

            if (signature.LabelInput is { } labelName)
            {
                names.Add(labelName);
                values.Add(OrtValue.CreateTensorValueFromMemory(labels, [batch]));
            }

            using var outputValue = OrtValue.CreateTensorValueFromMemory(output, [batch, signature.Channels, signature.Height, signature.Width]);
            using var runOptions = new RunOptions();
            var outputNames = new[] { signature.OutputName };
            var outputValues = new[] { outputValue };
            var histogram = new LongHistogram(1, 3_600_000_000, 3);
            ulong nextSeed = 0;

            void RunOnce()
            {
                for (var j = 0; j < batch; j++)
                {
                    var seed = nextSeed++;
                    var stream = new LatentSampler.NormalSequence(seed, 0);
                    stream.Fill(latents.AsSpan(j * signature.LatentDim, signature.LatentDim));
                    for (var n = 0; n < noises.Length; n++)
                    {
                        var size = signature.NoiseInputs[n].Size;
                        stream.Fill(noises[n].AsSpan(j * size, size));
                    }

                    labels[j] = signature.Classes.Count > 0 ? (long)(seed % (ulong)signature.Classes.Count) : 0;
                }

                session.Run(runOptions, names, values, outputNames, outputValues);
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
}
