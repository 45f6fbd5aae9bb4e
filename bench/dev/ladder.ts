// What a kernel's ladder in bench/dev/<kernel>/ provides to bench/dev/run.ts: one problem (inputs,
// the float64 reference answer, the work of one run) and its numbered versions, v1 naive ... vN the
// shipped kernel. Like llm.c's dev/cuda/<kernel>.cu: every version solves the same problem, so the
// runner can validate any of them against the reference and then time it.
import type { Runtime } from '../../kernels/gpu/runtime.ts';

/** Shape dimensions by their llm.c letters, e.g. { M: 512, N: 512, K: 512 } or { N: 4096, C: 768 }. */
export type Dims = Record<string, number>;

/** Launcher options from the command line that are not dimensions, e.g. --WG 64 --VPT 4. */
export type Tune = Record<string, string>;

/** One problem instance on the GPU; created per (shape) by Ladder.setup, shared by all versions. */
export interface Problem {
  /** Useful floating-point operations of one run (for GFLOP/s), or */
  flops?: number;
  /** bytes one run must read and write at least once (for GB/s). */
  bytes?: number;
  /** Puts the inputs back and poisons the outputs (NaN), so a version that skips work fails. */
  reset(): void;
  /** Reads the outputs of one run and throws (kernels/check.ts assertClose) if they are off. */
  check(label: string): Promise<void>;
  dispose(): void;
}

export interface Version<P extends Problem = Problem> {
  /** Its number on the ladder: v1 is the naive kernel, the last one the shipped kernel. */
  n: number;
  /** Short name, the part after `vN-` in a file name, e.g. "naive", "shared". */
  name: string;
  /** The WGSL it runs, repo-relative: bench/dev/<kernel>/vN-*.wgsl, bench/baselines/... or kernels/... */
  file: string;
  /** One line: what changed against the version below it. */
  what: string;
  /** Launcher options it accepts from the command line (--name value). */
  tunables?: readonly string[];
  /** Why it cannot run on this adapter and shape, or null. */
  unsupported?(rt: Runtime, d: Dims): string | null;
  /** Records one run into rt (no flush, no readback), as bench/types.ts BenchCase.run. */
  run(rt: Runtime, p: P, tune: Tune): void;
}

export interface Ladder<P extends Problem = Problem> {
  kernel: string;
  /** What one run computes, for the listing. */
  problem: string;
  /** The default shape: small enough that a version validates and times in seconds on lavapipe. */
  dims: Dims;
  /** A tiny shape every version supports (the test validates on it). */
  tinyDims: Dims;
  setup(rt: Runtime, d: Dims): P;
  versions: readonly Version<P>[];
}

/** Deterministic values in [lo, hi): cheap, and the same on every run of the ladder. */
export function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (s / 4294967296) * (hi - lo);
  }
  return out;
}

/** Reads n floats of a buffer back. */
export async function readF32(rt: Runtime, buf: GPUBuffer, n: number): Promise<Float32Array> {
  return new Float32Array(await rt.read(buf, 0, n * 4));
}

/** A buffer from the pool holding `data`; the runtime pads sizes as it needs. */
export function upload(rt: Runtime, data: Float32Array | Int32Array, label: string): GPUBuffer {
  const buf = rt.pool.acquire(Math.max(16, data.byteLength), label);
  rt.write(buf, 0, data);
  return buf;
}

/** A buffer of n floats set to NaN: what a version must overwrite. */
export function poison(rt: Runtime, buf: GPUBuffer, n: number): void {
  rt.write(buf, 0, new Float32Array(n).fill(NaN));
}

/** Parses an integer launcher option, or undefined when it was not given. */
export function tuneInt(tune: Tune, key: string): number | undefined {
  const v = tune[key];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new Error(`--${key} must be an integer, got "${v}"`);
  return n;
}
