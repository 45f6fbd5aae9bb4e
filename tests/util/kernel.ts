// The preamble and the random inputs every kernel test shares: the runtime (top-level await, one
// line instead of a beforeAll per file) and seeded test data from the project's one Rng, rounded
// through f32 so that the float64 reference sees exactly what the GPU sees.
import { getRuntime, type Runtime } from '../../kernels/gpu/runtime.ts';
import { Rng } from '../../kernels/random.ts';

/** The GPU runtime for a test file: `const rt = await useRuntime();` at the top level. */
export function useRuntime(): Promise<Runtime> {
  return getRuntime();
}

const rngOf = (seed: number | Rng): Rng => (typeof seed === 'number' ? new Rng(seed) : seed);

/** n normal values times `scale` plus `shift`, rounded to f32. A seed starts a fresh stream; an
 *  Rng continues one. */
export function randn(n: number, seed: number | Rng, scale = 1, shift = 0): Float64Array {
  const rng = rngOf(seed);
  return Float64Array.from({ length: n }, () => Math.fround(shift + scale * rng.normal()));
}

/** n values uniform in [lo, hi), rounded to f32. */
export function randu(n: number, seed: number | Rng, lo = -1, hi = 1): Float64Array {
  const rng = rngOf(seed);
  return Float64Array.from({ length: n }, () => Math.fround(lo + (hi - lo) * rng.uniform()));
}

/** A stream of uniforms in [0, 1), for inputs built draw by draw. */
export function uniforms(seed: number): () => number {
  const rng = new Rng(seed);
  return () => rng.uniform();
}
