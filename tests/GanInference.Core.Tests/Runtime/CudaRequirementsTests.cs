using GanInference.Core.Runtime;

namespace GanInference.Core.Tests.Runtime;

/// <summary>A CUDA provider failure at start, told as the missing library and what installs it (no GPU needed: ONNX Runtime's own messages).</summary>
public sealed class CudaRequirementsTests
{
    // What ONNX Runtime 1.31's GPU package says on a machine without the CUDA 13 libraries.
    private const string MissingCublasLt =
        "[ErrorCode:RuntimeException] /onnxruntime_src/onnxruntime/core/session/provider_bridge_ort.cc:1842 " +
        "onnxruntime::Provider& onnxruntime::ProviderLibrary::Get() [ONNXRuntimeError] : 1 : FAIL : Failed to load library " +
        "libonnxruntime_providers_cuda.so with error: libcublasLt.so.13: cannot open shared object file: No such file or directory";

    [Fact]
    public void A_missing_cuda_library_is_named_with_the_package_that_installs_it()
    {
        var text = CudaRequirements.Describe(MissingCublasLt, 0);

        Assert.StartsWith("libcublasLt.so.13 cannot be loaded", text);
        Assert.Contains("`libcublas-13-0`", text);
        Assert.Contains("CUDA 13", text);
        Assert.Contains("cuDNN 9", text);
        Assert.Contains("driver >= 580", text);
        Assert.Contains("Dockerfile", text);
        Assert.True(CudaRequirements.IsCudaFailure(MissingCublasLt));
    }

    [Theory]
    [InlineData("libcudart.so.13", "`cuda-cudart-13-0`")]
    [InlineData("libcublas.so.13", "`libcublas-13-0`")]
    [InlineData("libcurand.so.10", "`libcurand-13-0`")]
    [InlineData("libcufft.so.12", "`libcufft-13-0`")]
    [InlineData("libcudnn.so.9", "`libcudnn9-cuda-13`")]
    [InlineData("libcudnn_graph.so.9", "`libcudnn9-cuda-13`")]
    [InlineData("libcuda.so.1", "NVIDIA driver 580 or newer")]
    public void Each_library_maps_to_what_installs_it(string library, string expected)
    {
        var text = CudaRequirements.Describe($"Failed to load library libonnxruntime_providers_cuda.so with error: {library}: cannot open shared object file: No such file or directory", 0);

        Assert.StartsWith(library + " cannot be loaded", text);
        Assert.Contains(expected, text);
    }

    [Fact]
    public void No_gpu_a_device_that_does_not_exist_an_old_driver_and_out_of_memory_are_told_apart()
    {
        Assert.Contains("no CUDA-capable GPU is visible", CudaRequirements.Describe(
            "CUDA failure 100: no CUDA-capable device is detected ; GPU=0 ; hostname=x ; file=cuda_call.cc ; line=123 ; expr=cudaSetDevice(info_.device_id);", 0));
        var ordinal = CudaRequirements.Describe("CUDA failure 101: invalid device ordinal ; GPU=7 ; expr=cudaSetDevice(info_.device_id);", 7);
        Assert.Contains("Inference:Cuda:DeviceId 7 is not a GPU of this machine", ordinal);
        Assert.Contains("nvidia-smi -L", ordinal);
        Assert.Contains("driver 580 or newer", CudaRequirements.Describe("CUDA failure 35: CUDA driver version is insufficient for CUDA runtime version", 0));
        Assert.Contains("out of memory", CudaRequirements.Describe("CUDA failure 2: out of memory ; GPU=0", 0));
    }

    [Fact]
    public void Anything_else_keeps_onnx_runtime_s_message_and_says_what_the_build_needs()
    {
        var text = CudaRequirements.Describe("something odd happened", 0);

        Assert.StartsWith("something odd happened (the CUDA build needs CUDA 13.x runtime libraries", text);
        Assert.False(CudaRequirements.IsCudaFailure("Load model from x.onnx failed: Protobuf parsing failed."));
    }
}
