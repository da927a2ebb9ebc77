// The latent of a seed, exactly as docs/determinism.md specifies it (SplitMix64 → uniforms in (0, 1) → Box–Muller
// pairs → truncation by rejection → float32), and spherical interpolation between two latents.

const MASK = (1n << 64n) - 1n;
const GAMMA = 0x9E3779B97F4A7C15n;
const TWO_POW_53 = 2 ** 53;

/** The first `count` values of seed's normal stream, as float32 values (Float32Array). `seed` is a BigInt or a decimal string. */
export function latent(seed, count, truncation = 0) {
  let state = BigInt.asUintN(64, BigInt(seed));
  const next = () => {
    state = (state + GAMMA) & MASK;
    let z = state;
    z = ((z ^ (z >> 30n)) * 0xBF58476D1CE4E5B9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94D049BB133111EBn) & MASK;
    return z ^ (z >> 31n);
  };
  // (next() >> 11) has 53 bits, so Number() is exact; + 0.5 and / 2^53 are exact too.
  const uniform = () => (Number(next() >> 11n) + 0.5) / TWO_POW_53;
  // t is the float32 the request carries, widened exactly to double.
  const t = Math.fround(truncation);
  const out = new Float32Array(count);
  let filled = 0;
  while (filled < count) {
    const u1 = uniform();
    const u2 = uniform();
    const r = Math.sqrt(-2.0 * Math.log(u1));
    for (const n of [r * Math.cos(2.0 * Math.PI * u2), r * Math.sin(2.0 * Math.PI * u2)]) {
      if (filled === count) {
        break;
      }
      if (t > 0 && Math.abs(n) > t) {
        continue;
      }
      out[filled++] = n; // Float32Array stores round-to-nearest-even
    }
  }
  return out;
}

/**
 * Spherical interpolation between a and b at t in [0, 1], rounded to float32: t = 0 gives a and t = 1 gives b exactly.
 * Falls back to linear interpolation when the two are (nearly) parallel.
 */
export function slerp(a, b, t) {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  const cos = Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb)));
  const omega = Math.acos(cos);
  const sin = Math.sin(omega);
  const out = new Float32Array(a.length);
  if (t === 0 || t === 1) {
    out.set(t === 0 ? a : b);
    return out;
  }
  const [wa, wb] = sin < 1e-6 ? [1 - t, t] : [Math.sin((1 - t) * omega) / sin, Math.sin(t * omega) / sin];
  for (let i = 0; i < a.length; i++) {
    out[i] = wa * a[i] + wb * b[i];
  }
  return out;
}

/** `steps` latents from a to b (both ends included). */
export function walk(a, b, steps) {
  const out = [];
  for (let i = 0; i < steps; i++) {
    out.push(slerp(a, b, steps === 1 ? 0 : i / (steps - 1)));
  }
  return out;
}
