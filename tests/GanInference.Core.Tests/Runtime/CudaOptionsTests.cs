using GanInference.Core.Runtime;

namespace GanInference.Core.Tests.Runtime;

/// <summary><c>Inference:Cuda</c>: defaults, what reaches ONNX Runtime's CUDA provider, and start-up validation naming each key.</summary>
public sealed class CudaOptionsTests
{
    [Fact]
    public void Defaults_are_valid_and_map_to_heuristic_search_no_memory_limit_no_tf32_no_cuda_graph()
    {
        var options = new CudaOptions();

        Assert.Empty(options.Validate());
        var provider = options.ToProviderOptions();
        Assert.Equal("0", provider["device_id"]);
        Assert.Equal("HEURISTIC", provider["cudnn_conv_algo_search"]);
        Assert.Equal("kNextPowerOfTwo", provider["arena_extend_strategy"]);
        Assert.Equal("1", provider["cudnn_conv_use_max_workspace"]);
        Assert.Equal("0", provider["use_tf32"]);
        Assert.Equal("0", provider["enable_cuda_graph"]);
        Assert.Equal("1", provider["do_copy_in_default_stream"]);
        Assert.False(provider.ContainsKey("gpu_mem_limit"));
    }

    [Fact]
    public void Configured_values_reach_the_provider_in_its_own_spelling()
    {
        var options = new CudaOptions
        {
            DeviceId = 3,
            CudnnConvAlgoSearch = " exhaustive ",
            GpuMemLimitBytes = 2L * 1024 * 1024 * 1024,
            ArenaExtendStrategy = "sameasrequested",
            CudnnConvUseMaxWorkspace = false,
            UseTf32 = true,
            UseCudaGraph = true,
        };

        Assert.Empty(options.Validate());
        var provider = options.ToProviderOptions();
        Assert.Equal("3", provider["device_id"]);
        Assert.Equal("EXHAUSTIVE", provider["cudnn_conv_algo_search"]);
        Assert.Equal("2147483648", provider["gpu_mem_limit"]);
        Assert.Equal("kSameAsRequested", provider["arena_extend_strategy"]);
        Assert.Equal("0", provider["cudnn_conv_use_max_workspace"]);
        Assert.Equal("1", provider["use_tf32"]);
        Assert.Equal("1", provider["enable_cuda_graph"]);
    }

    public static TheoryData<Action<CudaOptions>, string> BadValues => new()
    {
        { o => o.DeviceId = -1, "Inference:Cuda:DeviceId -1 must be 0 or more" },
        { o => o.CudnnConvAlgoSearch = "FASTEST", "Inference:Cuda:CudnnConvAlgoSearch 'FASTEST' is not one of: HEURISTIC, EXHAUSTIVE, DEFAULT" },
        { o => o.CudnnConvAlgoSearch = null!, "Inference:Cuda:CudnnConvAlgoSearch '' is not one of" },
        { o => o.GpuMemLimitBytes = -5, "Inference:Cuda:GpuMemLimitBytes -5 must be 0 (no limit)" },
        { o => o.GpuMemLimitBytes = 1000, "Inference:Cuda:GpuMemLimitBytes 1000 is below 16777216" },
        { o => o.ArenaExtendStrategy = "kNextPowerOfTwo", "Inference:Cuda:ArenaExtendStrategy 'kNextPowerOfTwo' is not one of: NextPowerOfTwo, SameAsRequested" },
    };

    [Theory]
    [MemberData(nameof(BadValues))]
    public void Each_bad_value_fails_validation_naming_its_key(Action<CudaOptions> set, string expected)
    {
        var options = new CudaOptions();
        set(options);

        var failure = Assert.Single(options.Validate());
        Assert.StartsWith(expected, failure);
    }

    [Fact]
    public void The_inference_validator_reports_every_bad_key_at_once()
    {
        var options = new InferenceOptions
        {
            ExecutionProvider = "tpu",
            IntraOpThreads = -2,
            Cuda = new CudaOptions { DeviceId = -1, CudnnConvAlgoSearch = "x", GpuMemLimitBytes = -1, ArenaExtendStrategy = "y" },
        };

        var result = new InferenceOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        var failures = result.Failures!.ToList();
        foreach (var key in new[]
                 {
                     "Inference:ExecutionProvider", "Inference:IntraOpThreads", "Inference:Cuda:DeviceId", "Inference:Cuda:CudnnConvAlgoSearch",
                     "Inference:Cuda:GpuMemLimitBytes", "Inference:Cuda:ArenaExtendStrategy",
                 })
        {
            Assert.Single(failures, f => f.StartsWith(key + " ", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Cuda_on_the_cpu_build_fails_validation_saying_what_the_cuda_build_needs()
    {
        var result = new InferenceOptionsValidator().Validate(null, new InferenceOptions { ExecutionProvider = "CUDA" });

        if (InferenceOptions.IsGpuBuild)
        {
            Assert.True(result.Succeeded);
            return;
        }

        var failure = Assert.Single(result.Failures!);
        Assert.Contains("built with the CPU package of ONNX Runtime", failure);
        Assert.Contains("-p:OnnxRuntimeGpu=true", failure);
        Assert.Contains("CUDA 13", failure);
        Assert.Contains("cuDNN 9", failure);
        Assert.Contains("driver >= 580", failure);
        Assert.Contains("Inference:AllowCpuFallback=true", failure);
        Assert.True(new InferenceOptionsValidator().Validate(null, new InferenceOptions { ExecutionProvider = "cuda", AllowCpuFallback = true }).Succeeded);
    }

    [Fact]
    public void The_older_Inference_DeviceId_key_is_the_cuda_device_and_the_newer_key_is_bound_after_it()
    {
        var options = new InferenceOptions { DeviceId = 2 };
        Assert.Equal(2, options.Cuda.DeviceId);
        options.Cuda.DeviceId = 5;
        Assert.Equal(5, options.DeviceId);

        // The configuration binder binds properties in declaration order: Inference:Cuda:DeviceId, bound with the
        // Cuda section into the same object, overrides Inference:DeviceId when both are set (appsettings.json sets the latter).
        var names = typeof(InferenceOptions).GetProperties().Select(p => p.Name).ToList();
        Assert.True(names.IndexOf(nameof(InferenceOptions.DeviceId)) < names.IndexOf(nameof(InferenceOptions.Cuda)));
    }
}
