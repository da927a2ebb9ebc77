using System.Globalization;

namespace GanInference.Core.Runtime;

/// <summary>
/// ONNX Runtime CUDA execution provider settings, bound from <c>Inference:Cuda</c> and passed to
/// <c>OrtCUDAProviderOptions</c> when <c>Inference:ExecutionProvider</c> is <c>cuda</c> (docs/gpu.md).
/// </summary>
public sealed class CudaOptions
{
    /// <summary>Configuration section, under <c>Inference</c>.</summary>
    public const string SectionName = "Cuda";

    /// <summary>Search values for <see cref="CudnnConvAlgoSearch"/>.</summary>
    public static readonly IReadOnlyList<string> ConvAlgoSearchValues = ["HEURISTIC", "EXHAUSTIVE", "DEFAULT"];

    /// <summary>Values for <see cref="ArenaExtendStrategy"/>.</summary>
    public static readonly IReadOnlyList<string> ArenaExtendStrategyValues = ["NextPowerOfTwo", "SameAsRequested"];

    /// <summary>CUDA device ordinal (<c>nvidia-smi -L</c> lists them). Default 0.</summary>
    public int DeviceId { get; set; }

    /// <summary>
    /// How cuDNN picks a convolution algorithm: <c>HEURISTIC</c> (default: cuDNN's heuristics, no timing),
    /// <c>EXHAUSTIVE</c> (times every algorithm the first time each input shape is seen, which the dynamic batcher
    /// would pay on the request path for every new batch size), or <c>DEFAULT</c> (a fixed algorithm).
    /// </summary>
    public string CudnnConvAlgoSearch { get; set; } = "HEURISTIC";

    /// <summary>Upper bound of the provider's device memory arena in bytes; 0 (default) is no limit.</summary>
    public long GpuMemLimitBytes { get; set; }

    /// <summary>How the arena grows: <c>NextPowerOfTwo</c> (default, ONNX Runtime's) or <c>SameAsRequested</c> (tighter, more allocations).</summary>
    public string ArenaExtendStrategy { get; set; } = "NextPowerOfTwo";

    /// <summary>
    /// Whether cuDNN may use its largest workspace for the fastest convolution algorithm (ONNX Runtime's default, on).
    /// Turn off to trade speed for device memory.
    /// </summary>
    public bool CudnnConvUseMaxWorkspace { get; set; } = true;

    /// <summary>
    /// TF32 matrix maths on Ampere and newer GPUs. Off by default here (ONNX Runtime's default is on): TF32 keeps
    /// 10 mantissa bits, and the determinism contract compares CUDA with CPU images (docs/determinism.md).
    /// </summary>
    public bool UseTf32 { get; set; }

    /// <summary>
    /// Captures the model into a CUDA graph and replays it (ONNX Runtime's <c>enable_cuda_graph</c>). Needs fixed input
    /// shapes and device addresses, i.e. IOBinding per batch size, which the serving path does not do yet; off by default
    /// and not measured (docs/gpu.md).
    /// </summary>
    public bool UseCudaGraph { get; set; }

    /// <summary>Checks every value; each failure names its configuration key.</summary>
    /// <param name="prefix">The keys' prefix, e.g. <c>Inference:Cuda</c>.</param>
    public IEnumerable<string> Validate(string prefix = "Inference:Cuda")
    {
        if (DeviceId < 0)
        {
            yield return $"{prefix}:DeviceId {DeviceId} must be 0 or more (nvidia-smi -L lists the devices)";
        }

        if (Match(CudnnConvAlgoSearch, ConvAlgoSearchValues) is null)
        {
            yield return $"{prefix}:CudnnConvAlgoSearch '{CudnnConvAlgoSearch}' is not one of: {string.Join(", ", ConvAlgoSearchValues)}";
        }

        if (GpuMemLimitBytes < 0)
        {
            yield return $"{prefix}:GpuMemLimitBytes {GpuMemLimitBytes} must be 0 (no limit) or a number of bytes";
        }
        else if (GpuMemLimitBytes is > 0 and < MinimumMemLimitBytes)
        {
            yield return $"{prefix}:GpuMemLimitBytes {GpuMemLimitBytes} is below {MinimumMemLimitBytes} (16 MiB); 0 means no limit";
        }

        if (Match(ArenaExtendStrategy, ArenaExtendStrategyValues) is null)
        {
            yield return $"{prefix}:ArenaExtendStrategy '{ArenaExtendStrategy}' is not one of: {string.Join(", ", ArenaExtendStrategyValues)}";
        }
    }

    /// <summary>The smallest arena limit accepted: less cannot hold even the tiny test models' workspaces.</summary>
    public const long MinimumMemLimitBytes = 16L * 1024 * 1024;

    /// <summary>The option names and values ONNX Runtime's CUDA provider reads (<c>OrtCUDAProviderOptions.UpdateOptions</c>).</summary>
    /// <exception cref="ArgumentException">A value did not pass <see cref="Validate"/>.</exception>
    public Dictionary<string, string> ToProviderOptions()
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["device_id"] = DeviceId.ToString(CultureInfo.InvariantCulture),
            ["cudnn_conv_algo_search"] = Match(CudnnConvAlgoSearch, ConvAlgoSearchValues)
                ?? throw new ArgumentException($"CudnnConvAlgoSearch '{CudnnConvAlgoSearch}'"),
            ["arena_extend_strategy"] = "k" + (Match(ArenaExtendStrategy, ArenaExtendStrategyValues)
                ?? throw new ArgumentException($"ArenaExtendStrategy '{ArenaExtendStrategy}'")),
            ["cudnn_conv_use_max_workspace"] = Flag(CudnnConvUseMaxWorkspace),
            ["use_tf32"] = Flag(UseTf32),
            ["enable_cuda_graph"] = Flag(UseCudaGraph),
            ["do_copy_in_default_stream"] = "1",
        };
        if (GpuMemLimitBytes > 0)
        {
            options["gpu_mem_limit"] = GpuMemLimitBytes.ToString(CultureInfo.InvariantCulture);
        }

        return options;
    }

    private static string Flag(bool value) => value ? "1" : "0";

    private static string? Match(string? value, IReadOnlyList<string> allowed)
    {
        var trimmed = value?.Trim();
        return allowed.FirstOrDefault(a => string.Equals(a, trimmed, StringComparison.OrdinalIgnoreCase));
    }
}
