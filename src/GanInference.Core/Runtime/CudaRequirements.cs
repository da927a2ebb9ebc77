using System.Text.RegularExpressions;

namespace GanInference.Core.Runtime;

/// <summary>
/// What the CUDA build of ONNX Runtime needs on the machine, and a start-up failure of its CUDA provider told in those
/// terms (which library is missing and what installs it). tools/ci/checks/20-gpu-build.sh checks <see cref="CudaMajor"/>
/// against the libraries the restored provider links and the Dockerfile's base image.
/// </summary>
public static partial class CudaRequirements
{
    /// <summary>CUDA major version Microsoft.ML.OnnxRuntime.Gpu.Linux 1.31's provider links (libcudart.so.13, libcublas.so.13, libcublasLt.so.13).</summary>
    public const int CudaMajor = 13;

    /// <summary>cuDNN major version the provider loads at run time.</summary>
    public const int CudnnMajor = 9;

    /// <summary>Oldest NVIDIA Linux driver branch that runs CUDA 13.x (CUDA 13.0 GA shipped 580.65.06).</summary>
    public const int MinimumDriver = 580;

    /// <summary>The Debian packages of NVIDIA's CUDA apt repository for CUDA 13.0 (the nvidia/cuda 13.0 cuDNN runtime image has them all).</summary>
    public const string CudaAptSuffix = "13-0";

    /// <summary>One line of what the build needs, for messages and logs.</summary>
    public static string Summary =>
        $"CUDA {CudaMajor}.x runtime libraries (libcudart.so.{CudaMajor}, libcublas.so.{CudaMajor}, libcublasLt.so.{CudaMajor}, libcurand.so.10), " +
        $"cuDNN {CudnnMajor} and an NVIDIA driver >= {MinimumDriver}";

    /// <summary>
    /// Tells why the CUDA provider failed, from ONNX Runtime's message: the missing library and the package that installs
    /// it, no GPU, a device id that does not exist, a driver too old, or out of memory; else the message and the summary.
    /// </summary>
    /// <param name="onnxRuntimeMessage">The <c>OnnxRuntimeException</c> message.</param>
    /// <param name="deviceId">The configured <c>Inference:Cuda:DeviceId</c>.</param>
    public static string Describe(string onnxRuntimeMessage, int deviceId)
    {
        var message = onnxRuntimeMessage ?? string.Empty;
        var missing = MissingLibrary().Match(message);
        if (missing.Success)
        {
            var library = missing.Groups["lib"].Value;
            return $"{library} cannot be loaded (not installed or not on the library path): {InstallHint(library)}";
        }

        if (message.Contains("no CUDA-capable device", StringComparison.OrdinalIgnoreCase)
            || message.Contains("cudaErrorNoDevice", StringComparison.Ordinal)
            || CudaError(message, 100))
        {
            return "no CUDA-capable GPU is visible to this process: check `nvidia-smi`; in a container run with `--gpus all` " +
                   "(NVIDIA Container Toolkit); check CUDA_VISIBLE_DEVICES";
        }

        if (message.Contains("invalid device ordinal", StringComparison.OrdinalIgnoreCase)
            || message.Contains("cudaErrorInvalidDevice", StringComparison.Ordinal)
            || CudaError(message, 101))
        {
            return $"Inference:Cuda:DeviceId {deviceId} is not a GPU of this machine (`nvidia-smi -L` lists the devices, numbered from 0)";
        }

        if (message.Contains("driver version is insufficient", StringComparison.OrdinalIgnoreCase)
            || message.Contains("cudaErrorInsufficientDriver", StringComparison.Ordinal)
            || CudaError(message, 35))
        {
            return $"the NVIDIA driver is too old for CUDA {CudaMajor}: install driver {MinimumDriver} or newer (`nvidia-smi` shows the driver version)";
        }

        if (message.Contains("out of memory", StringComparison.OrdinalIgnoreCase) || CudaError(message, 2))
        {
            return $"GPU {deviceId} is out of memory: other processes hold it (`nvidia-smi`), or Inference:Cuda:GpuMemLimitBytes is too small";
        }

        return $"{Trim(message)} (the CUDA build needs {Summary})";
    }

    /// <summary>True when an ONNX Runtime error is about CUDA itself rather than the model (so start-up, not the folder, fails).</summary>
    /// <param name="onnxRuntimeMessage">The <c>OnnxRuntimeException</c> message.</param>
    public static bool IsCudaFailure(string onnxRuntimeMessage) =>
        !string.IsNullOrEmpty(onnxRuntimeMessage)
        && (MissingLibrary().IsMatch(onnxRuntimeMessage)
            || onnxRuntimeMessage.Contains("CUDA", StringComparison.Ordinal)
            || onnxRuntimeMessage.Contains("cudnn", StringComparison.OrdinalIgnoreCase)
            || onnxRuntimeMessage.Contains("cublas", StringComparison.OrdinalIgnoreCase)
            || onnxRuntimeMessage.Contains("providers_cuda", StringComparison.Ordinal));

    /// <summary>What installs <paramref name="library"/> (a soname such as <c>libcublasLt.so.13</c>).</summary>
    /// <param name="library">The library's file name.</param>
    public static string InstallHint(string library)
    {
        var image = $"or build the Dockerfile's image (nvidia/cuda:{CudaMajor}.x cuDNN runtime base, docs/gpu.md)";
        var name = library.Split(".so", 2)[0];
        var package = name switch
        {
            "libcuda" => null,
            "libcudart" => $"cuda-cudart-{CudaAptSuffix}",
            "libcublas" or "libcublasLt" => $"libcublas-{CudaAptSuffix}",
            "libcurand" => $"libcurand-{CudaAptSuffix}",
            "libcufft" => $"libcufft-{CudaAptSuffix}",
            "libnvrtc" or "libnvrtc-builtins" => $"cuda-nvrtc-{CudaAptSuffix}",
            "libnvJitLink" => $"libnvjitlink-{CudaAptSuffix}",
            _ when name.StartsWith("libcudnn", StringComparison.Ordinal) => $"libcudnn{CudnnMajor}-cuda-{CudaMajor}",
            _ => null,
        };
        if (name == "libcuda")
        {
            return $"it is the NVIDIA driver's own library: install NVIDIA driver {MinimumDriver} or newer on the host, " +
                   "and in a container run with `--gpus all` (NVIDIA Container Toolkit)";
        }

        return package is null
            ? $"install the {Summary} {image}"
            : $"install `{package}` from NVIDIA's CUDA apt repository (this build needs {Summary}), {image}";
    }

    private static bool CudaError(string message, int code) =>
        message.Contains($"CUDA failure {code}:", StringComparison.Ordinal)
        || message.Contains($"CUDA error {code}", StringComparison.Ordinal)
        || message.Contains($"cudaError {code}", StringComparison.Ordinal);

    private static string Trim(string message)
    {
        var text = message.Trim();
        return text.Length <= 600 ? text : text[..600] + "…";
    }

    [GeneratedRegex(@"(?<lib>lib[A-Za-z0-9_+\-]+\.so(?:\.[0-9]+)*): cannot open shared object file")]
    private static partial Regex MissingLibrary();
}
