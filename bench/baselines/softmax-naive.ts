// Naive softmax baseline (one invocation per row) for bench/softmax.bench.ts.
import type { KernelSpec, Runtime } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'softmax-naive.wgsl');
const params = [
  ['N', 'u32'],
  ['C', 'u32'],
] as const;
const fwd: KernelSpec = {
  name: 'softmax-naive.forward',
  wgsl,
  entryPoint: 'naive_forward',
  params,
  bindings: [
    ['out', 'rw'],
    ['inp', 'read'],
  ],
};
const bwd: KernelSpec = {
  name: 'softmax-naive.backward',
  wgsl,
  entryPoint: 'naive_backward',
  params,
  bindings: [
    ['dinp', 'rw'],
    ['dout', 'read'],
    ['out', 'read'],
  ],
};

export function naiveSoftmaxForward(rt: Runtime, b: { out: GPUBuffer; inp: GPUBuffer }, N: number, C: number): void {
  rt.dispatch(fwd, { bindings: b, params: { N, C }, workgroups: [Math.ceil(N / 64)] });
}

export function naiveSoftmaxBackward(
  rt: Runtime,
  b: { dinp: GPUBuffer; dout: GPUBuffer; out: GPUBuffer },
  N: number,
  C: number,
): void {
  rt.dispatch(bwd, { bindings: b, params: { N, C }, workgroups: [Math.ceil(N / 64)] });
}
