// Spec and dispatch size for kernels/matmul.wgsl: batched, transposed reads, fused bias/GELU,
// accumulate. The flags are override constants, so each combination is its own pipeline.
import type { BufferRef, KernelSpec, Runtime } from '../engine/runtime.ts';
import { loadWGSL } from './wgsl.ts';

type Buf = GPUBuffer | BufferRef;

export interface MatmulConfig {
  WG_X: number;
  WG_Y: number;
  TK: number;
}

/** Selectable tile configurations (each tested). Output tile = 4·WG_Y rows × 4·WG_X columns. */
export const MATMUL_CONFIGS: readonly MatmulConfig[] = [
  { WG_X: 16, WG_Y: 16, TK: 16 },
  { WG_X: 8, WG_Y: 8, TK: 8 },
];

export const matmulSpec: KernelSpec = {
  name: 'matmul',
  wgsl: loadWGSL(import.meta.url, 'matmul.wgsl'),
  entryPoint: 'main',
  params: [['M', 'u32'], ['N', 'u32'], ['K', 'u32'], ['strideA', 'u32'], ['strideB', 'u32'], ['strideC', 'u32']],
  bindings: [['a', 'read'], ['b', 'read'], ['bias', 'read'], ['out', 'rw'], ['preact', 'rw']],
  overrides: { ...MATMUL_CONFIGS[0]! },
};

export interface MatmulArgs {
  out: Buf;
  a: Buf;
  b: Buf;
  /** [N], added to every row. */
  bias?: Buf;
  /** With gelu: receives the pre-activation a·b + bias. */
  preact?: Buf;
  batch?: number;
  M: number;
  N: number;
  K: number;
  /** A stored [batchA, K, M] instead of [batchA, M, K]. */
  transA?: boolean;
  /** B stored [batchB, N, K] instead of [batchB, K, N]. */
  transB?: boolean;
  /** 1 (broadcast) or batch. */
  batchA?: number;
  batchB?: number;
  gelu?: boolean;
  /** out += result (out must not alias a or b). */
  accumulate?: boolean;
  config?: Partial<MatmulConfig>;
}

export function matmul(rt: Runtime, args: MatmulArgs): void {
  const batch = args.batch ?? 1;
  const { M, N, K } = args;
  const cfg = { ...MATMUL_CONFIGS[0]!, ...args.config };
  if (M === 0 || N === 0 || batch === 0) return;
  if (args.gelu && !args.preact) throw new Error('matmul: gelu needs a preact buffer for the backward');
  // Unused optional bindings still need a buffer; two distinct scratch buffers keep the
  // read-only and read-write bindings apart.
  const dummies: GPUBuffer[] = [];
  const scratch = () => {
    const d = rt.pool.acquire(4, 'matmul-unused');
    dummies.push(d);
    return d;
  };
  rt.dispatch(matmulSpec, {
    bindings: { a: args.a, b: args.b, bias: args.bias ?? scratch(), out: args.out, preact: args.preact ?? scratch() },
    params: {
      M, N, K,
      strideA: (args.batchA ?? batch) === 1 ? 0 : M * K,
      strideB: (args.batchB ?? batch) === 1 ? 0 : K * N,
      strideC: M * N,
    },
    overrides: {
      ...cfg,
      TRANS_A: args.transA ? 1 : 0,
      TRANS_B: args.transB ? 1 : 0,
      HAS_BIAS: args.bias ? 1 : 0,
      GELU: args.gelu ? 1 : 0,
      ACCUMULATE: args.accumulate ? 1 : 0,
    },
    workgroups: [Math.ceil(N / (4 * cfg.WG_X)), Math.ceil(M / (4 * cfg.WG_Y)), batch],
  });
  for (const d of dummies) rt.pool.release(d);
}
