using static TorchSharp.torch;

namespace GanInference.Trainers.Training;

/// <summary>
/// An exponential moving average of a generator's weights (the "EMA generator" of ProGAN / StyleGAN, Yazıcı et al. 2019):
/// after each generator step, <c>ema ← d·ema + (1 − d)·g</c> for every parameter. A GAN's generator oscillates around
/// the equilibrium step by step; the average sits nearer its centre, and its samples are markedly better per image seen.
/// The decay ramps up as <c>min(d, (1 + n) / (10 + n))</c> over the first updates (TensorFlow's
/// <c>ExponentialMovingAverage</c> with <c>num_updates</c>) so the average does not drag the random initial weights along.
/// Buffers (BatchNorm running statistics) are copied from the online generator; the export re-estimates them for the
/// averaged weights (<see cref="Export.GeneratorAveraging"/>).
/// </summary>
internal sealed class GeneratorEma
{
    private readonly (Tensor Average, Tensor Online)[] parameters;
    private readonly (Tensor Average, Tensor Online)[] buffers;

    /// <param name="average">The averaged copy (same architecture as <paramref name="online"/>); never trained.</param>
    /// <param name="online">The generator the optimiser trains.</param>
    /// <param name="decay">d in (0, 1), e.g. 0.999.</param>
    /// <param name="updates">Updates already made (a resumed run's step count), for the ramp.</param>
    public GeneratorEma(nn.Module average, nn.Module online, double decay, long updates)
    {
        if (!(decay is > 0 and < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(decay), decay, "--g-ema must be between 0 and 1 (exclusive), e.g. 0.999.");
        }

        Decay = decay;
        Updates = updates;
        parameters = Pair(average.named_parameters().Select(p => (p.name, (Tensor)p.parameter)), online.named_parameters().Select(p => (p.name, (Tensor)p.parameter)));
        buffers = Pair(average.named_buffers(), online.named_buffers());
        foreach (var (a, _) in parameters)
        {
            a.requires_grad_(false);
        }
    }

    /// <summary>The decay the ramp leads to.</summary>
    public double Decay { get; }

    /// <summary>Updates made so far (including a resumed run's earlier ones).</summary>
    public long Updates { get; private set; }

    /// <summary>The decay the next update uses: <c>min(Decay, (1 + n) / (10 + n))</c>.</summary>
    public double NextDecay => Math.Min(Decay, (1.0 + Updates) / (10.0 + Updates));

    /// <summary>Copies the online weights and buffers into the average (a run that starts averaging now).</summary>
    public void Reset()
    {
        using var noGrad = no_grad();
        foreach (var (a, o) in parameters)
        {
            a.copy_(o);
        }

        foreach (var (a, o) in buffers)
        {
            a.copy_(o);
        }
    }

    /// <summary>One update after a generator step.</summary>
    public void Update()
    {
        var d = NextDecay;
        using var noGrad = no_grad();
        foreach (var (a, o) in parameters)
        {
            a.mul_(d).add_(o, alpha: 1 - d);
        }

        foreach (var (a, o) in buffers)
        {
            a.copy_(o);
        }

        Updates++;
    }

    private static (Tensor, Tensor)[] Pair(IEnumerable<(string Name, Tensor Value)> average, IEnumerable<(string Name, Tensor Value)> online)
    {
        var byName = online.ToDictionary(p => p.Name, p => p.Value);
        var pairs = average.Select(p => (p.Value, byName.TryGetValue(p.Name, out var o) ? o : throw new ArgumentException($"the averaged generator has {p.Name}, the online one does not."))).ToArray();
        if (pairs.Length != byName.Count)
        {
            throw new ArgumentException($"the averaged generator has {pairs.Length} tensors, the online one {byName.Count}: not the same architecture.");
        }

        return pairs;
    }
}
