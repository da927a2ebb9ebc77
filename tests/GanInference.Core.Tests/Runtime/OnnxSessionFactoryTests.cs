using System.Runtime.InteropServices;
using GanInference.Core.Errors;
using GanInference.Core.Runtime;
using GanInference.Tests.TestModels;
using Xunit.Abstractions;
using Microsoft.Extensions.Logging.Abstractions;
using MsOptions = Microsoft.Extensions.Options.Options;

namespace GanInference.Core.Tests.Runtime;

/// <summary>The CUDA request on a machine that cannot honour it (this one: no GPU, no CUDA libraries), with and without fallback.</summary>
public sealed class OnnxSessionFactoryTests(ITestOutputHelper output) : IDisposable
{
    private readonly TinyGanModels _models = new();

    public void Dispose() => _models.Dispose();

    /// <summary>True where CUDA cannot run here: the CPU build, or the CUDA build without the CUDA 13 runtime.</summary>
    private static bool CudaUnavailable =>
        !InferenceOptions.IsGpuBuild || !NativeLibrary.TryLoad($"libcudart.so.{CudaRequirements.CudaMajor}", out _);

    private static OnnxSessionFactory Factory(InferenceOptions options) => new(MsOptions.Create(options), NullLogger<OnnxSessionFactory>.Instance);

    [Fact]
    public void Cuda_that_cannot_run_stops_start_up_naming_the_cause_and_the_way_out()
    {
        if (!CudaUnavailable)
        {
            return; // a machine with CUDA: tools/gpu/check.sh covers it
        }

        var model = Path.Combine(_models.AddUnconditional("m"), "model.onnx");
        var error = Assert.Throws<ExecutionProviderUnavailableException>(() => Factory(new InferenceOptions { ExecutionProvider = "cuda" }).Create("m", model));

        output.WriteLine(error.Message);
        Assert.Contains("Inference:AllowCpuFallback=true", error.Message);
        if (InferenceOptions.IsGpuBuild)
        {
            // The CUDA build here: the provider library cannot load its CUDA 13 dependencies.
            Assert.Contains("model 'm': the CUDA execution provider (Inference:Cuda:DeviceId 0) failed to start", error.Message);
            Assert.Matches(@"lib[A-Za-z]+\.so\.\d+ cannot be loaded", error.Message);
            Assert.Contains("CUDA 13", error.Message);
        }
        else
        {
            Assert.Contains("built with the CPU package of ONNX Runtime", error.Message);
            Assert.Contains("CUDA 13", error.Message);
        }
    }

    [Fact]
    public void Cuda_that_cannot_run_falls_back_to_cpu_when_allowed_and_says_cpu()
    {
        if (!CudaUnavailable)
        {
            return;
        }

        var model = Path.Combine(_models.AddUnconditional("m"), "model.onnx");
        var (session, provider) = Factory(new InferenceOptions { ExecutionProvider = "cuda", AllowCpuFallback = true }).Create("m", model);
        using (session)
        {
            Assert.Equal("cpu", provider);
            Assert.NotEmpty(session.InputMetadata);
        }
    }

    [Fact]
    public void A_broken_model_on_cpu_is_the_model_s_error_not_the_provider_s()
    {
        var folder = _models.AddRaw("broken", [1, 2, 3, 4], manifestJson: null);

        Assert.Throws<Microsoft.ML.OnnxRuntime.OnnxRuntimeException>(() => Factory(new InferenceOptions()).Create("broken", Path.Combine(folder, "model.onnx")));
    }
}

/// <summary>Thread counts are per process: these run alone, after the parallel tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ThreadCountCollection
{
    public const string Name = "process thread count";
}

/// <summary>
/// One ONNX Runtime intra-op pool for every session (issue 11): N models must not cost N pools of one thread per core.
/// Counted from /proc/self/task, with own pools as the contrast.
/// </summary>
[Collection(ThreadCountCollection.Name)]
public sealed class SharedThreadPoolTests(ITestOutputHelper output) : IDisposable
{
    private const int Sessions = 8;
    private const int ThreadsPerPool = 4;
    private readonly TinyGanModels _models = new();

    public void Dispose() => _models.Dispose();

    [Fact]
    public void Sessions_share_one_pool_so_threads_do_not_grow_with_models_times_threads()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        var paths = Enumerable.Range(0, Sessions).Select(i => Path.Combine(_models.AddUnconditional($"m{i}"), "model.onnx")).ToList();
        var shared = Factory(new InferenceOptions { IntraOpThreads = ThreadsPerPool });
        var own = Factory(new InferenceOptions { IntraOpThreads = ThreadsPerPool, SharedThreadPool = false });
        Assert.Equal(SharedOnnxEnvironment.IntraOpThreads, shared.SharedPoolThreads);
        Assert.Null(own.SharedPoolThreads);
        OpenAndClose(shared, paths); // warm: JIT, native library loading
        OpenAndClose(own, paths.Take(1).ToList());

        var sharedGrowth = OpenAndClose(shared, paths);
        var ownGrowth = OpenAndClose(own, paths);

        output.WriteLine($"{Sessions} sessions, IntraOpThreads {ThreadsPerPool}: shared pool +{sharedGrowth} threads, own pools +{ownGrowth} threads");
        // Own pools: ThreadsPerPool - 1 workers each (the caller is the last); the shared pool already exists.
        Assert.True(ownGrowth >= Sessions * (ThreadsPerPool - 1) - 2, $"{Sessions} sessions with own pools of {ThreadsPerPool} added {ownGrowth} threads");
        Assert.True(sharedGrowth <= 2, $"{Sessions} sessions on the shared pool added {sharedGrowth} threads (own pools: {ownGrowth})");
    }

    private static OnnxSessionFactory Factory(InferenceOptions options) => new(MsOptions.Create(options), NullLogger<OnnxSessionFactory>.Instance);

    /// <summary>Opens a session per path, counts the process's threads with all of them open, closes them; returns the growth.</summary>
    private static int OpenAndClose(OnnxSessionFactory factory, List<string> paths)
    {
        var before = ThreadCount();
        var sessions = paths.Select(p => factory.Create(Path.GetFileName(Path.GetDirectoryName(p))!, p).Session).ToList();
        var during = ThreadCount();
        sessions.ForEach(s => s.Dispose());
        return during - before;
    }

    private static int ThreadCount() => Directory.GetDirectories("/proc/self/task").Length;
}
