// The one place fine-tuning's data layer gets its seeded generator from: the project's one Rng
// (kernels/random.ts, re-exported by the engine) in its sfc32 mode, as the data split and the
// batch sampler use it.
import { Rng } from '../../engine/random.ts';

/** What the data layer needs from a generator: uniform integers, floats and shuffles. */
export interface SeededRng {
  nextInt(n: number): number;
  nextFloat(): number;
  shuffle<T>(items: T[]): T[];
}

/** Murmur3's 32-bit finaliser: every input bit flips each output bit with probability ~1/2. */
function fmix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** A generator for `seed`, independent per `stream` (e.g. an epoch or a draw number). */
export function seededRng(seed: number, stream = 0): SeededRng {
  // Different streams of one seed must not share a sequence, and neighbouring streams must not be
  // correlated: the task sampler draws ONE float per stream (stream = draw number), and a single
  // multiply-xorshift of (seed, stream) let its first 12 draws of seed 1337 all fall above 0.5.
  // Two full avalanche rounds make neighbouring streams look independent.
  const h = fmix32(fmix32(seed) ^ fmix32((stream + 0x7f4a7c15) >>> 0));
  const rng = new Rng(h, 'sfc32');
  return { nextInt: (n) => rng.unbiasedInt(n), nextFloat: () => rng.uniform(), shuffle: (items) => rng.shuffle(items) };
}
