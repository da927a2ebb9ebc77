using Microsoft.Extensions.Options;
using Microsoft.ML.OnnxRuntime;

namespace GanInference.Core.Runtime;

/// <summary>ONNX Runtime settings, bound from the <c>Inference</c> configuration section.</summary>
public sealed class InferenceOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = "Inference";

    /// <summary>CPU execution provider.</summary>
    public const string CpuProvider = "cpu";

    /// <summary>CUDA execution provider (needs the GPU build, <c>-p:OnnxRuntimeGpu=true</c>).</summary>
    public const string CudaProvider = "cuda";

    /// <summary><c>cpu</c> or <c>cuda</c>.</summary>
    public string ExecutionProvider { get; set; } = CpuProvider;

    /// <summary>
    /// The same as <see cref="CudaOptions.DeviceId"/> (<c>Inference:Cuda:DeviceId</c>), kept for the older key
    /// <c>Inference:DeviceId</c>. Declared before <see cref="Cuda"/> so that, when both keys are set, the binder applies
    /// <c>Inference:Cuda:DeviceId</c> last and it wins.
    /// </summary>
    public int DeviceId
    {
        get => Cuda.DeviceId;
        set => Cuda.DeviceId = value;
    }

    /// <summary>CUDA execution provider settings (<c>Inference:Cuda</c>), used when <see cref="ExecutionProvider"/> is <c>cuda</c>.</summary>
    public CudaOptions Cuda { get; set; } = new();

    /// <summary>When <c>cuda</c> cannot be honoured: true runs on CPU with a warning, false refuses to start.</summary>
    public bool AllowCpuFallback { get; set; }

    /// <summary>Threads ONNX Runtime uses inside one operator; 0 lets ONNX Runtime choose (one per physical core).</summary>
    public int IntraOpThreads { get; set; }

    /// <summary>
    /// One ONNX Runtime intra-op thread pool for the whole process (default), of <see cref="IntraOpThreads"/> threads,
    /// shared by every session: N models cost one pool, not N pools of one thread per core. The pool is made with the
    /// process's ONNX Runtime environment, so the first factory's settings hold until the process ends. False gives
    /// each session its own pool (ONNX Runtime's default).
    /// </summary>
    public bool SharedThreadPool { get; set; } = true;

    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin while waiting for work. Off by default: between
    /// batches the cores are better spent encoding images and serving calls; turn it on for a
    /// dedicated box where the last fraction of a millisecond of latency matters.
    /// </summary>
    public bool IntraOpSpinning { get; set; }

    /// <summary>Graph optimisation level applied when a session is created.</summary>
    public GraphOptimizationLevel GraphOptimization { get; set; } = GraphOptimizationLevel.ORT_ENABLE_ALL;

    /// <summary>True when this binary was built against the CUDA package of ONNX Runtime.</summary>
    public static bool IsGpuBuild =>
#if ONNXRUNTIME_GPU
        true;
#else
        false;
#endif
}

/// <summary>
/// Checks <see cref="InferenceOptions"/> at start, so a <c>cuda</c> request the build cannot honour stops
/// the server with a clear message instead of surfacing on the first model.
/// </summary>
public sealed class InferenceOptionsValidator : IValidateOptions<InferenceOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, InferenceOptions options)
    {
        var failures = new List<string>();
        var provider = options.ExecutionProvider?.Trim().ToLowerInvariant();
        if (provider is not (InferenceOptions.CpuProvider or InferenceOptions.CudaProvider))
        {
            failures.Add($"Inference:ExecutionProvider '{options.ExecutionProvider}' is not one of: cpu, cuda");
        }

        if (provider == InferenceOptions.CudaProvider && !InferenceOptions.IsGpuBuild && !options.AllowCpuFallback)
        {
            failures.Add(
                "Inference:ExecutionProvider is 'cuda' but this server was built with the CPU package of ONNX Runtime; " +
                $"build with -p:OnnxRuntimeGpu=true (see Dockerfile and docs/gpu.md; it needs {CudaRequirements.Summary}), " +
                "set Inference:ExecutionProvider=cpu, or set Inference:AllowCpuFallback=true to run on CPU anyway");
        }

        if (options.Cuda is null)
        {
            failures.Add("Inference:Cuda must be a section (DeviceId, CudnnConvAlgoSearch, GpuMemLimitBytes, ArenaExtendStrategy, ...)");
        }
        else
        {
            failures.AddRange(options.Cuda.Validate());
        }

        if (options.IntraOpThreads < 0)
        {
            failures.Add($"Inference:IntraOpThreads {options.IntraOpThreads} must be 0 (ONNX Runtime's choice) or more");
        }

        if (!Enum.IsDefined(options.GraphOptimization))
        {
            failures.Add($"Inference:GraphOptimization {options.GraphOptimization} is not one of: {string.Join(", ", Enum.GetNames<GraphOptimizationLevel>())}");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
