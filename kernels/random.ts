// The one seeded random generator: weight initialisation, text sampling, the data split, batch
// sampling and test data all draw from it (dropout hashes its seed on the GPU instead).
// Deterministic on every JS engine and adapter, and its state can be saved and restored, so a
// resumed run draws exactly what the uninterrupted run would have drawn. Not cryptographic.
//
// Two cores, picked at construction, behind one interface:
// - 'mulberry32' (the default): one u32 of state. Weight init (model/layout.ts), text sampling and
//   test data use it.
// - 'sfc32': four u32s seeded through splitmix32; a counter word guarantees a period of at least
//   2^32. The train/val split and the batch sampler (train/data/) use it.
// Both are kept so that a seed gives the same weights, split and batches as before the project's
// three generators were merged into this one, i.e. the same training run.
// Placed in kernels/ so that the kernel tests and the float64 reference can use it; engine/random.ts
// re-exports it.

export type RngAlgorithm = 'mulberry32' | 'sfc32';

/** Everything needed to continue a stream exactly (JSON-serialisable). */
export interface RngState {
  algorithm: RngAlgorithm;
  /** The core's state words (1 for mulberry32, 4 for sfc32), as u32. */
  words: number[];
  /** The second normal of the last Box–Muller pair, not yet returned. */
  spare: number | null;
}

function mulberry32(s: Uint32Array): number {
  s[0] = s[0]! + 0x6d2b79f5;
  let t = s[0]!;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

function sfc32(s: Uint32Array): number {
  const a = s[0]!;
  const b = s[1]!;
  const c = s[2]!;
  const d = s[3]!;
  const t = (a + b + d) >>> 0;
  s[0] = b ^ (b >>> 9);
  s[1] = c + (c << 3);
  s[2] = ((c << 21) | (c >>> 11)) + t;
  s[3] = d + 1;
  return t;
}

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  readonly algorithm: RngAlgorithm;
  private readonly s: Uint32Array;
  private readonly isSfc: boolean;
  private spare: number | null = null;

  constructor(seed: number, algorithm: RngAlgorithm = 'mulberry32') {
    this.algorithm = algorithm;
    this.isSfc = algorithm === 'sfc32';
    if (!this.isSfc) {
      this.s = Uint32Array.of((seed >>> 0) ^ 0x9e3779b9);
    } else {
      const sm = splitmix32(seed);
      this.s = Uint32Array.of(sm(), sm(), sm(), sm());
      // The first outputs of sfc32 are correlated with the seed.
      for (let i = 0; i < 12; i++) this.nextU32();
    }
  }

  /** Uniform u32. */
  nextU32(): number {
    return this.isSfc ? sfc32(this.s) : mulberry32(this.s);
  }

  /** Uniform in [0, 1), 32 random bits. */
  uniform(): number {
    return this.nextU32() / 4294967296;
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u === 0) u = this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Integer in [0, n): one 32-bit draw scaled, so some values are likelier by up to n / 2^32
   *  (nothing a test or a sampler can see for small n). */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** Exactly uniform integer in [0, n), n >= 1 (rejection sampling; n up to 2^53). The data split
   *  and the batch sampler use it. */
  unbiasedInt(n: number): number {
    if (!(n >= 1) || !Number.isInteger(n)) throw new RangeError(`Rng.unbiasedInt: bad bound ${n}`);
    if (n <= 0x100000000) {
      const limit = 0x100000000 - (0x100000000 % n);
      for (;;) {
        const x = this.nextU32();
        if (x < limit) return x % n;
      }
    }
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return Math.floor(((hi * 67108864 + lo) / 9007199254740992) * n);
  }

  /** Fisher–Yates shuffle in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.unbiasedInt(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  getState(): RngState {
    return { algorithm: this.algorithm, words: [...this.s], spare: this.spare };
  }

  setState(state: RngState): void {
    if (state.algorithm !== this.algorithm || state.words.length !== this.s.length)
      throw new Error(`Rng.setState: a ${state.algorithm} state does not fit a ${this.algorithm} generator`);
    this.s.set(state.words.map((x) => x >>> 0));
    this.spare = state.spare;
  }
}
