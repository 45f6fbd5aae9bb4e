// What a kernel bench provides; bench/run.ts validates each case, then times it.
import type { Runtime } from '../kernels/gpu/runtime.ts';

export interface BenchContext {
  rt: Runtime;
  /** --quick: small shapes only (CI smoke runs). */
  quick: boolean;
  /** Remaining command-line options (e.g. --M 512). */
  args: Record<string, string>;
}

export interface BenchCase {
  kernel: string;
  /** Which variant or tile configuration, e.g. "tiled 64x64 4x4" or "flash". */
  variant: string;
  /** The dimensions, e.g. { M: 1024, N: 1024, K: 1024 }. */
  shape: Record<string, number>;
  /** Useful floating-point operations of one run (matmul 2·M·N·K, attention...), for GFLOP/s. */
  flops?: number;
  /** Bytes one run must read and write at least once, for GB/s. */
  bytes?: number;
  /** Records one execution (all its dispatches) into rt without flushing. */
  run(): void;
  /** Records one execution of the naive baseline, if there is one; its time is printed for the ratio. */
  naive?(): void;
  /** Runs the kernel once on the case's inputs and throws if it disagrees with the float64 reference. */
  validate(): Promise<void>;
  /** Releases the case's buffers. */
  dispose(): void;
}

export interface BenchModule {
  name: string;
  cases(ctx: BenchContext): Promise<BenchCase[]>;
}
