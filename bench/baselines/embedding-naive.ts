// Naive embedding baselines (see embedding-naive.wgsl) for bench/embedding.bench.ts.
import { grid, type KernelSpec, type Runtime } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'embedding-naive.wgsl');
const params = [
  ['BT', 'u32'],
  ['T', 'u32'],
  ['C', 'u32'],
  ['V', 'u32'],
  ['n', 'u32'],
  ['row', 'u32'],
] as const;
const fwd: KernelSpec = {
  name: 'embedding-naive.forward',
  wgsl,
  entryPoint: 'naive_forward',
  params,
  bindings: [
    ['out', 'rw'],
    ['inp', 'read'],
    ['wte', 'read'],
    ['wpe', 'read'],
  ],
};
const bwd: KernelSpec = {
  name: 'embedding-naive.backward',
  wgsl,
  entryPoint: 'naive_backward',
  params,
  bindings: [
    ['dwte', 'rw'],
    ['dwpe', 'rw'],
    ['dout', 'read'],
    ['ids', 'read'],
  ],
};

type S = { B: number; T: number; C: number; V: number };

export function naiveEmbeddingForward(
  rt: Runtime,
  b: { out: GPUBuffer; inp: GPUBuffer; wte: GPUBuffer; wpe: GPUBuffer },
  s: S,
): void {
  const n = s.B * s.T * s.C;
  const [x, y] = grid(n, 64);
  rt.dispatch(fwd, {
    bindings: b,
    params: { BT: s.B * s.T, T: s.T, C: s.C, V: s.V, n, row: x * 64 },
    workgroups: [x, y],
  });
}

export function naiveEmbeddingBackward(
  rt: Runtime,
  b: { dwte: GPUBuffer; dwpe: GPUBuffer; dout: GPUBuffer; inp: GPUBuffer },
  s: S,
): void {
  rt.dispatch(bwd, {
    bindings: { dwte: b.dwte, dwpe: b.dwpe, dout: b.dout, ids: b.inp },
    params: { BT: s.B * s.T, T: s.T, C: s.C, V: s.V, n: s.C, row: 0 },
    workgroups: [Math.ceil(s.C / 64)],
  });
}
