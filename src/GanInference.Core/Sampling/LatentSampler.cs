namespace GanInference.Core.Sampling;

/// <summary>
/// Draws latent vectors as a pure function of a seed (the determinism contract in
/// <c>docs/determinism.md</c>): a SplitMix64 stream, uniforms from its top 53 bits, normals by
/// Box–Muller, truncation by rejection. Image <c>s</c> is therefore the same whether it is asked
/// for alone or inside a batch, on any machine.
/// </summary>
public static class LatentSampler
{
    /// <summary>Fills <paramref name="destination"/> with the first values of seed's stream.</summary>
    /// <param name="seed">The image's seed.</param>
    /// <param name="truncation">0 for plain N(0, 1); t &gt; 0 keeps only normals with |n| ≤ t.</param>
    /// <param name="destination">Where the values go (e.g. one latent row).</param>
    public static void Fill(ulong seed, float truncation, Span<float> destination)
    {
        var stream = new NormalSequence(seed, truncation);
        stream.Fill(destination);
    }

    /// <summary>
    /// The seed's normal sequence, for models with several random inputs: the latent first, then each
    /// further noise input in manifest order, all from the same stream.
    /// </summary>
    public struct NormalSequence
    {
        private const ulong GoldenGamma = 0x9E3779B97F4A7C15UL;
        private const double TwoPow53 = 9007199254740992.0;

        private readonly double _truncation;
        private ulong _state;
        private double _spare;
        private bool _hasSpare;

        public NormalSequence(ulong seed, float truncation)
        {
            if (!(truncation >= 0) || float.IsInfinity(truncation))
            {
                throw new ArgumentOutOfRangeException(nameof(truncation), truncation, "truncation must be 0 or a finite positive number.");
            }

            _state = seed;
            _truncation = truncation;
            _spare = 0;
            _hasSpare = false;
        }

        /// <summary>Fills the span with the next values of the stream, as float32.</summary>
        public void Fill(Span<float> destination)
        {
            for (var i = 0; i < destination.Length; i++)
            {
                destination[i] = (float)Next();
            }
        }

        /// <summary>
        /// Draws and drops the next <paramref name="count"/> values: a later pipeline step continues the stream where
        /// the earlier steps stopped.
        /// </summary>
        public void Skip(int count)
        {
            for (var i = 0; i < count; i++)
            {
                Next();
            }
        }

        /// <summary>The next normal of the stream, after truncation.</summary>
        public double Next()
        {
            while (true)
            {
                var n = NextNormal();
                if (_truncation == 0 || Math.Abs(n) <= _truncation)
                {
                    return n;
                }
            }
        }

        private double NextNormal()
        {
            if (_hasSpare)
            {
                _hasSpare = false;
                return _spare;
            }

            var u1 = NextUniform();
            var u2 = NextUniform();
            var r = Math.Sqrt(-2.0 * Math.Log(u1));
            var theta = 2.0 * Math.PI * u2;
            _spare = r * Math.Sin(theta);
            _hasSpare = true;
            return r * Math.Cos(theta);
        }

        // Uniform in the open interval (0, 1): the top 53 bits, centred in their cell, so log(u) is finite.
        private double NextUniform() => ((NextUInt64() >> 11) + 0.5) / TwoPow53;

        private ulong NextUInt64()
        {
            unchecked
            {
                _state += GoldenGamma;
                var z = _state;
                z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
                z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
                return z ^ (z >> 31);
            }
        }
    }
}
