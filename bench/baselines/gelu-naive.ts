// Naive GELU baseline (one invocation per element, tanh) for bench/gelu.bench.ts.
import { grid, type KernelSpec, type Runtime } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'gelu-naive.wgsl');
const params = [
  ['n', 'u32'],
  ['row', 'u32'],
] as const;
const fwd: KernelSpec = {
  name: 'gelu-naive.forward',
  wgsl,
  entryPoint: 'naive_forward',
  params,
  bindings: [
    ['out', 'rw'],
    ['inp', 'read'],
  ],
};
const bwd: KernelSpec = {
  name: 'gelu-naive.backward',
  wgsl,
  entryPoint: 'naive_backward',
  params,
  bindings: [
    ['dinp', 'rw'],
    ['inp', 'read'],
    ['dout', 'read'],
  ],
};

export function naiveGeluForward(rt: Runtime, b: { out: GPUBuffer; inp: GPUBuffer }, n: number): void {
  const [x, y] = grid(n, 64);
  rt.dispatch(fwd, { bindings: b, params: { n, row: x * 64 }, workgroups: [x, y] });
}

export function naiveGeluBackward(
  rt: Runtime,
  b: { dinp: GPUBuffer; inp: GPUBuffer; dout: GPUBuffer },
  n: number,
): void {
  const [x, y] = grid(n, 64);
  rt.dispatch(bwd, { bindings: b, params: { n, row: x * 64 }, workgroups: [x, y] });
}
