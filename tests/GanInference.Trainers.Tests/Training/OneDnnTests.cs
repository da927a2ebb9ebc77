using GanInference.Trainers.Training;
using TorchSharp;

namespace GanInference.Trainers.Tests.Training;

/// <summary>
/// The start-up check of libtorch's oneDNN kernels. The test host runs capped at SSE4.1 (trainers.runsettings), where
/// they are right on every machine seen so far; where they are wrong uncapped, `train` refuses (docs/training.md).
/// </summary>
public sealed class OneDnnTests
{
    [Fact]
    public void The_switch_reaches_libtorch_and_the_check_leaves_it_as_it_found_it()
    {
        Assert.True(OneDnn.Enabled);
        OneDnn.Enabled = false;
        try
        {
            Assert.False(OneDnn.Enabled);
            OneDnn.Compare();
            Assert.False(OneDnn.Enabled);
        }
        finally
        {
            OneDnn.Enabled = true;
        }

        OneDnn.Compare();
        Assert.True(OneDnn.Enabled);
    }

    [Fact]
    public void Kernels_capped_at_SSE41_agree_with_ATens_and_the_check_lets_training_start()
    {
        Assert.Equal("SSE41", Environment.GetEnvironmentVariable("DNNL_MAX_CPU_ISA"));
        var (layer, difference) = OneDnn.Compare();
        Assert.True(difference <= OneDnn.Tolerance, $"{layer}: {difference}");
        OneDnn.EnsureCorrect();
    }

    [Fact]
    public void The_check_does_not_touch_the_runs_random_draws()
    {
        torch.random.manual_seed(7);
        var expected = torch.randn(4).data<float>().ToArray();
        torch.random.manual_seed(7);
        OneDnn.Compare();
        Assert.Equal(expected, torch.randn(4).data<float>().ToArray());
    }

    [Fact]
    public void The_refusal_names_the_layer_the_difference_the_limit_the_cap_and_the_setting()
    {
        var message = OneDnn.Refusal("Conv2d(22→16, 3×3)", 0.2719, "AVX").Message;
        Assert.Contains("Conv2d(22→16, 3×3) differs from ATen's reference kernels by 2.719e-1 of its largest output (limit 1e-4)", message, StringComparison.Ordinal);
        Assert.Contains("DNNL_MAX_CPU_ISA is 'AVX'", message, StringComparison.Ordinal);
        Assert.Contains("DNNL_MAX_CPU_ISA=SSE41", message, StringComparison.Ordinal);
        Assert.Contains("DNNL_MAX_CPU_ISA is unset", OneDnn.Refusal("x", 1, null).Message, StringComparison.Ordinal);
    }
}
