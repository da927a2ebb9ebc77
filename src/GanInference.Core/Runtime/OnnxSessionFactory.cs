using GanInference.Core.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>
/// Creates one <see cref="InferenceSession"/> per model with the configured provider, threads and optimisation.
/// Every session of the process shares one ONNX Runtime intra-op thread pool (<see cref="InferenceOptions.SharedThreadPool"/>),
/// made with the process's ONNX Runtime environment by the first factory.
/// </summary>
public sealed partial class OnnxSessionFactory
{
    private static readonly Lock EnvironmentGate = new();
    private static SharedPool? _sharedPool;
    private static bool _environmentWithoutPool;

    private readonly InferenceOptions _options;
    private readonly ILogger<OnnxSessionFactory> _logger;
    private readonly bool _useSharedPool;

    /// <summary>Creates the factory; the first one in the process also creates ONNX Runtime's environment and its shared thread pool.</summary>
    /// <param name="options">The <c>Inference</c> settings.</param>
    /// <param name="logger">Logger.</param>
    public OnnxSessionFactory(IOptions<InferenceOptions> options, ILogger<OnnxSessionFactory> logger)
    {
        _options = options.Value;
        _logger = logger;
        _useSharedPool = _options.SharedThreadPool && EnsureSharedPool(_options, logger);
    }

    /// <summary>The shared pool's intra-op thread setting (0: ONNX Runtime's choice), or null when sessions have their own pools.</summary>
    public int? SharedPoolThreads => _useSharedPool ? _sharedPool?.IntraOpThreads : null;

    /// <summary>Opens <paramref name="modelPath"/>; the caller owns (and disposes) the session.</summary>
    /// <param name="modelName">Model name, for logs.</param>
    /// <param name="modelPath">Path of the ONNX file.</param>
    /// <returns>The session and the provider it actually runs on (<c>cpu</c> or <c>cuda:&lt;device&gt;</c>).</returns>
    /// <exception cref="ExecutionProviderUnavailableException">CUDA was asked for, cannot be used, and fallback is off.</exception>
    public (InferenceSession Session, string Provider) Create(string modelName, string modelPath)
    {
        if (!string.Equals(_options.ExecutionProvider?.Trim(), InferenceOptions.CudaProvider, StringComparison.OrdinalIgnoreCase))
        {
            return CreateOnCpu(modelName, modelPath);
        }

#if ONNXRUNTIME_GPU
        return CreateOnCuda(modelName, modelPath);
#else
        if (!_options.AllowCpuFallback)
        {
            throw new ExecutionProviderUnavailableException(
                "Inference:ExecutionProvider is 'cuda' but this server was built with the CPU package of ONNX Runtime; " +
                $"build with -p:OnnxRuntimeGpu=true (it needs {CudaRequirements.Summary}) or set Inference:AllowCpuFallback=true");
        }

        LogCpuFallback(_logger, null, modelName, "this is the CPU build of ONNX Runtime");
        return CreateOnCpu(modelName, modelPath);
#endif
    }

    private (InferenceSession Session, string Provider) CreateOnCpu(string modelName, string modelPath)
    {
        using var sessionOptions = NewSessionOptions(modelName);
        var session = new InferenceSession(modelPath, sessionOptions);
        LogSessionCreated(_logger, modelName, InferenceOptions.CpuProvider, ThreadsDescription(), _options.GraphOptimization);
        return (session, InferenceOptions.CpuProvider);
    }

#if ONNXRUNTIME_GPU
    private (InferenceSession Session, string Provider) CreateOnCuda(string modelName, string modelPath)
    {
        var cuda = _options.Cuda;
        var provider = $"{InferenceOptions.CudaProvider}:{cuda.DeviceId}";
        OnnxRuntimeException failure;
        var providerAppended = false;
        try
        {
            using var sessionOptions = NewSessionOptions(modelName);
            using (var cudaOptions = new OrtCUDAProviderOptions())
            {
                cudaOptions.UpdateOptions(cuda.ToProviderOptions());
                sessionOptions.AppendExecutionProvider_CUDA(cudaOptions);
            }

            providerAppended = true;
            var session = new InferenceSession(modelPath, sessionOptions);
            if (cuda.UseCudaGraph)
            {
                LogCudaGraph(_logger, modelName);
            }

            LogSessionCreated(_logger, modelName, provider, ThreadsDescription(), _options.GraphOptimization);
            return (session, provider);
        }
        catch (OnnxRuntimeException ex) when (!providerAppended || CudaRequirements.IsCudaFailure(ex.Message))
        {
            failure = ex;
        }

        // A model the CPU provider cannot load either is the folder's problem (skipped with its reason), not CUDA's:
        // only a failure of the provider itself reaches here.
        var cause = CudaRequirements.Describe(failure.Message, cuda.DeviceId);
        if (!_options.AllowCpuFallback)
        {
            throw new ExecutionProviderUnavailableException(
                $"model '{modelName}': the CUDA execution provider (Inference:Cuda:DeviceId {cuda.DeviceId}) failed to start: {cause}. " +
                "Fix that, or set Inference:ExecutionProvider=cpu, or Inference:AllowCpuFallback=true to run on CPU with a warning. " +
                $"ONNX Runtime said: {failure.Message}", failure);
        }

        LogCpuFallback(_logger, failure, modelName, cause);
        return CreateOnCpu(modelName, modelPath);
    }
#endif

    private SessionOptions NewSessionOptions(string modelName)
    {
        var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = _options.GraphOptimization,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogId = modelName,
        };
        try
        {
            if (_useSharedPool)
            {
                sessionOptions.DisablePerSessionThreads();
            }
            else
            {
                sessionOptions.IntraOpNumThreads = _options.IntraOpThreads;
                sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", _options.IntraOpSpinning ? "1" : "0");
            }

            return sessionOptions;
        }
        catch
        {
            sessionOptions.Dispose();
            throw;
        }
    }

    private string ThreadsDescription() => _useSharedPool
        ? $"shared pool of {Threads(_sharedPool!.IntraOpThreads)}"
        : $"own pool of {Threads(_options.IntraOpThreads)}";

    private static string Threads(int configured) => configured == 0 ? "one thread per core" : $"{configured} threads";

    /// <summary>
    /// Creates ONNX Runtime's process environment with one global intra-op pool, once. False when the environment already
    /// exists without one (something used ONNX Runtime before any factory): sessions then keep their own pools.
    /// </summary>
    private static bool EnsureSharedPool(InferenceOptions options, ILogger logger)
    {
        lock (EnvironmentGate)
        {
            if (_sharedPool is { } pool)
            {
                if (pool.IntraOpThreads != options.IntraOpThreads || pool.Spinning != options.IntraOpSpinning)
                {
                    LogPoolAlreadyMade(logger, pool.IntraOpThreads, pool.Spinning, options.IntraOpThreads, options.IntraOpSpinning);
                }

                return true;
            }

            if (_environmentWithoutPool || OrtEnv.IsCreated)
            {
                _environmentWithoutPool = true;
                LogNoSharedPool(logger);
                return false;
            }

            using var threading = new OrtThreadingOptions
            {
                GlobalIntraOpNumThreads = options.IntraOpThreads,
                // Sessions run sequentially (ORT_SEQUENTIAL): no inter-op parallelism to pay threads for.
                GlobalInterOpNumThreads = 1,
                GlobalSpinControl = options.IntraOpSpinning,
            };
            var environment = new EnvironmentCreationOptions { logId = "GanInference", threadOptions = threading };
            try
            {
                OrtEnv.CreateInstanceWithOptions(ref environment);
            }
            catch (OnnxRuntimeException)
            {
                // Another thread created the default environment since IsCreated was read.
                _environmentWithoutPool = true;
                LogNoSharedPool(logger);
                return false;
            }

            _sharedPool = new SharedPool(options.IntraOpThreads, options.IntraOpSpinning);
            LogSharedPool(logger, Threads(options.IntraOpThreads), options.IntraOpSpinning);
            return true;
        }
    }

    private sealed record SharedPool(int IntraOpThreads, bool Spinning);

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Model {Model} runs on execution provider {Provider} (intra-op threads: {Threads}, optimisation {Optimization})")]
    private static partial void LogSessionCreated(ILogger logger, string model, string provider, string threads, GraphOptimizationLevel optimization);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Model {Model}: CUDA unavailable ({Reason}); falling back to CPU because Inference:AllowCpuFallback is true")]
    private static partial void LogCpuFallback(ILogger logger, Exception? exception, string model, string reason);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "ONNX Runtime: one intra-op thread pool shared by every session ({Threads}, spinning {Spinning})")]
    private static partial void LogSharedPool(ILogger logger, string threads, bool spinning);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "ONNX Runtime's environment was created before the session factory, without a shared thread pool; each session gets its own intra-op pool")]
    private static partial void LogNoSharedPool(ILogger logger);

    [LoggerMessage(EventId = 1205, Level = LogLevel.Information, Message = "ONNX Runtime's shared thread pool already exists in this process (IntraOpThreads {PoolThreads}, spinning {PoolSpinning}); Inference:IntraOpThreads {Threads} / IntraOpSpinning {Spinning} apply from the next process start")]
    private static partial void LogPoolAlreadyMade(ILogger logger, int poolThreads, bool poolSpinning, int threads, bool spinning);

    [LoggerMessage(EventId = 1206, Level = LogLevel.Warning, Message = "Model {Model}: Inference:Cuda:UseCudaGraph is on; CUDA graphs need fixed shapes and device addresses, which the serving path does not guarantee yet (docs/gpu.md)")]
    private static partial void LogCudaGraph(ILogger logger, string model);
}
