// Naive matmul baseline (one invocation per output) for bench/matmul.bench.ts.
import type { BufferRef, KernelSpec, Runtime } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';

const spec: KernelSpec = {
  name: 'matmul-naive',
  wgsl: loadWGSL(import.meta.url, 'matmul-naive.wgsl'),
  entryPoint: 'naive_matmul',
  params: [
    ['M', 'u32'],
    ['N', 'u32'],
    ['K', 'u32'],
    ['batch_stride_a', 'u32'],
    ['batch_stride_b', 'u32'],
    ['a_sm', 'u32'],
    ['a_sk', 'u32'],
    ['b_sk', 'u32'],
    ['b_sn', 'u32'],
  ],
  bindings: [
    ['out', 'rw'],
    ['a', 'read'],
    ['b', 'read'],
  ],
};

type Buf = GPUBuffer | BufferRef;

export function naiveMatmul(
  rt: Runtime,
  bufs: { out: Buf; a: Buf; b: Buf },
  s: {
    M: number;
    N: number;
    K: number;
    batch?: number;
    batchA?: number;
    batchB?: number;
    transA?: boolean;
    transB?: boolean;
  },
): void {
  const batch = s.batch ?? 1;
  const { M, N, K } = s;
  rt.dispatch(spec, {
    bindings: bufs,
    params: {
      M,
      N,
      K,
      batch_stride_a: (s.batchA ?? batch) === 1 ? 0 : M * K,
      batch_stride_b: (s.batchB ?? batch) === 1 ? 0 : K * N,
      a_sm: s.transA ? 1 : K,
      a_sk: s.transA ? M : 1,
      b_sk: s.transB ? 1 : N,
      b_sn: s.transB ? K : 1,
    },
    workgroups: [Math.ceil(N / 8), Math.ceil(M / 8), batch],
  });
}
