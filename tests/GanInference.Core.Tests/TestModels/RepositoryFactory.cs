using GanInference.Core.Generation;
using GanInference.Core.Repository;
using GanInference.Core.Runtime;
using GanInference.Core.Telemetry;
using Microsoft.Extensions.Logging.Abstractions;
using MsOptions = Microsoft.Extensions.Options.Options;

namespace GanInference.Tests.TestModels;

/// <summary>Builds the core's real services over a test repository folder (no host).</summary>
internal static class RepositoryFactory
{
    public static async Task<ModelRepository> LoadAsync(string root, ModelRepositoryOptions? options = null)
    {
        // A batch size profile holds the model's queue while it measures (200 ms per size by default): keep it short.
        options ??= new ModelRepositoryOptions { Profiling = { MillisecondsPerSize = 5 } };
        options.Path = root;
        var sessions = new OnnxSessionFactory(MsOptions.Create(new InferenceOptions { IntraOpThreads = 1, ExecutionProvider = Environment.GetEnvironmentVariable("Inference__ExecutionProvider") ?? InferenceOptions.CpuProvider }), NullLogger<OnnxSessionFactory>.Instance);
        var repository = new ModelRepository(MsOptions.Create(options), sessions, GanTelemetry.CreateStandalone(), NullLoggerFactory.Instance);
        await repository.LoadAsync(CancellationToken.None);
        return repository;
    }

    public static ImageGenerator Generator(int chunkSize = 0) =>
        new(GanTelemetry.CreateStandalone(), MsOptions.Create(new GenerationOptions { ChunkSize = chunkSize, EncodeParallelism = 2 }));
}
