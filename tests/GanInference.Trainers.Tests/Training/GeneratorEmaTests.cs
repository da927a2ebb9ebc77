using GanInference.Trainers.Training;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace GanInference.Trainers.Tests.Training;

/// <summary>The exponential moving average of the generator's weights: the update rule, its ramp and its buffers.</summary>
public sealed class GeneratorEmaTests
{
    [Fact]
    public void Each_update_moves_the_average_by_one_minus_the_ramped_decay_and_copies_the_buffers()
    {
        using var online = Network();
        using var average = Network();
        var ema = new GeneratorEma(average, online, decay: 0.5, updates: 0);
        ema.Reset();
        Assert.Equal(Values(online), Values(average));

        Fill(online, 1f, runningMean: 3f);
        Fill(average, 0f, runningMean: 0f);
        Assert.Equal(0.1, ema.NextDecay, precision: 12); // (1 + 0) / (10 + 0): the ramp holds the decay down at first
        ema.Update();
        Assert.All(Parameters(average), v => Assert.Equal(0.9f, v, precision: 6)); // 0.1·0 + 0.9·1
        Assert.Equal(3f, ((BatchNorm1d)average[1]).running_mean!.data<float>()[0]);

        Assert.Equal(1, ema.Updates);
        Assert.Equal(2.0 / 11, ema.NextDecay, precision: 12);
        ema.Update();
        Assert.All(Parameters(average), v => Assert.Equal((2f / 11 * 0.9f) + (9f / 11), v, precision: 6));
    }

    [Fact]
    public void A_resumed_average_continues_at_the_full_decay_once_the_ramp_is_past()
    {
        using var online = Network();
        using var average = Network();
        var ema = new GeneratorEma(average, online, decay: 0.5, updates: 1000);
        Fill(online, 1f, runningMean: 0f);
        Fill(average, 0f, runningMean: 0f);

        Assert.Equal(0.5, ema.NextDecay);
        ema.Update();

        Assert.All(Parameters(average), v => Assert.Equal(0.5f, v, precision: 6));
        Assert.False(average.parameters().First().requires_grad); // the average is never trained
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.5)]
    [InlineData(double.NaN)]
    public void A_decay_outside_0_to_1_is_refused_naming_the_flag(double decay)
    {
        using var online = Network();
        using var average = Network();
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new GeneratorEma(average, online, decay, updates: 0));
        Assert.Contains("--g-ema", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Networks_of_different_shapes_are_refused()
    {
        using var online = Network();
        using var other = nn.Sequential(("0", nn.Linear(3, 4)));
        Assert.Throws<ArgumentException>(() => new GeneratorEma(other, online, 0.9, updates: 0));
    }

    private static Sequential Network() => nn.Sequential(("0", nn.Linear(3, 4)), ("1", nn.BatchNorm1d(4)));

    private static void Fill(nn.Module module, float value, float runningMean)
    {
        using var noGrad = no_grad();
        foreach (var parameter in module.parameters())
        {
            parameter.fill_(value);
        }

        ((BatchNorm1d)((Sequential)module)[1]).running_mean!.fill_(runningMean);
    }

    private static float[] Parameters(nn.Module module) => module.parameters().SelectMany(p => p.detach().data<float>().ToArray()).ToArray();

    private static float[] Values(nn.Module module) => module.state_dict().Values.Where(t => t.is_floating_point()).SelectMany(t => t.detach().data<float>().ToArray()).ToArray();
}
