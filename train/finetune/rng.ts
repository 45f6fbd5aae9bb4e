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

/** A generator for `seed`, independent per `stream` (e.g. an epoch or a draw number). */
export function seededRng(seed: number, stream = 0): SeededRng {
  // Different streams of one seed must not share a sequence: hash the pair into one 32-bit seed.
  let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul((stream + 0x7f4a7c15) >>> 0, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  const rng = new Rng((h ^ (h >>> 15)) >>> 0, 'sfc32');
  return { nextInt: (n) => rng.unbiasedInt(n), nextFloat: () => rng.uniform(), shuffle: (items) => rng.shuffle(items) };
}
