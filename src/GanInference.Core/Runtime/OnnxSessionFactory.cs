using GanInference.Core.Errors;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>Creates one <see cref="InferenceSession"/> per model with the configured provider, threads and optimisation.</summary>
public sealed partial class OnnxSessionFactory(IOptions<InferenceOptions> options, ILogger<OnnxSessionFactory> logger)
{
    private readonly InferenceOptions _options = options.Value;

    /// <summary>Opens <paramref name="modelPath"/>; the caller owns (and disposes) the session.</summary>
    /// <param name="modelName">Model name, for logs.</param>
    /// <param name="modelPath">Path of the ONNX file.</param>
    /// <returns>The session and the provider it actually runs on (<c>cpu</c> or <c>cuda:&lt;device&gt;</c>).</returns>
    /// <exception cref="ExecutionProviderUnavailableException">CUDA was asked for, cannot be used, and fallback is off.</exception>
    public (InferenceSession Session, string Provider) Create(string modelName, string modelPath)
    {
        using var sessionOptions = new SessionOptions
        {
            GraphOptimizationLevel = _options.GraphOptimization,
            IntraOpNumThreads = _options.IntraOpThreads,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            LogId = modelName,
        };
        sessionOptions.AddSessionConfigEntry("session.intra_op.allow_spinning", _options.IntraOpSpinning ? "1" : "0");
        var provider = AppendProvider(sessionOptions, modelName);
        var session = new InferenceSession(modelPath, sessionOptions);
        LogSessionCreated(logger, modelName, provider, _options.IntraOpThreads, _options.GraphOptimization);
        return (session, provider);
    }

    private string AppendProvider(SessionOptions sessionOptions, string modelName)
    {
        if (!string.Equals(_options.ExecutionProvider?.Trim(), InferenceOptions.CudaProvider, StringComparison.OrdinalIgnoreCase))
        {
            return InferenceOptions.CpuProvider;
        }

#if ONNXRUNTIME_GPU
        try
        {
            sessionOptions.AppendExecutionProvider_CUDA(_options.DeviceId);
            return $"{InferenceOptions.CudaProvider}:{_options.DeviceId}";
        }
        catch (OnnxRuntimeException ex) when (_options.AllowCpuFallback)
        {
            LogCpuFallback(logger, ex, modelName, ex.Message);
            return InferenceOptions.CpuProvider;
        }
        catch (OnnxRuntimeException ex)
        {
            throw new ExecutionProviderUnavailableException(
                $"model '{modelName}': the CUDA execution provider (device {_options.DeviceId}) failed to start: {ex.Message}. " +
                "Check the CUDA 12 / cuDNN 9 libraries and the GPU, or set Inference:AllowCpuFallback=true", ex);
        }
#else
        if (!_options.AllowCpuFallback)
        {
            throw new ExecutionProviderUnavailableException(
                "Inference:ExecutionProvider is 'cuda' but this server was built with the CPU package of ONNX Runtime; " +
                "build with -p:OnnxRuntimeGpu=true or set Inference:AllowCpuFallback=true");
        }

        LogCpuFallback(logger, null, modelName, "this is the CPU build of ONNX Runtime");
        return InferenceOptions.CpuProvider;
#endif
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Information, Message = "Model {Model} runs on execution provider {Provider} (intra-op threads {IntraOpThreads}, optimisation {Optimization})")]
    private static partial void LogSessionCreated(ILogger logger, string model, string provider, int intraOpThreads, GraphOptimizationLevel optimization);

    [LoggerMessage(EventId = 1202, Level = LogLevel.Warning, Message = "Model {Model}: CUDA unavailable ({Reason}); falling back to CPU because Inference:AllowCpuFallback is true")]
    private static partial void LogCpuFallback(ILogger logger, Exception? exception, string model, string reason);
}
