// Naive layernorm baseline (one invocation per row / per column) for bench/layernorm.bench.ts.
import type { KernelSpec, Runtime } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'layernorm-naive.wgsl');
const params = [
  ['N', 'u32'],
  ['C', 'u32'],
  ['eps', 'f32'],
] as const;
const fwd: KernelSpec = {
  name: 'layernorm-naive.forward',
  wgsl,
  entryPoint: 'naive_forward',
  params,
  bindings: [
    ['out', 'rw'],
    ['mean', 'rw'],
    ['rstd', 'rw'],
    ['inp', 'read'],
    ['weight', 'read'],
    ['bias', 'read'],
  ],
};
const bwdDinp: KernelSpec = {
  name: 'layernorm-naive.backward_dinp',
  wgsl,
  entryPoint: 'naive_backward_dinp',
  params,
  bindings: [
    ['dinp', 'rw'],
    ['dout', 'read'],
    ['mean', 'read'],
    ['inp', 'read'],
    ['weight', 'read'],
    ['rstd', 'read'],
  ],
};
const bwdParams: KernelSpec = {
  name: 'layernorm-naive.backward_params',
  wgsl,
  entryPoint: 'naive_backward_params',
  params,
  bindings: [
    ['dweight', 'rw'],
    ['dbias', 'rw'],
    ['dout', 'read'],
    ['inp', 'read'],
    ['mean', 'read'],
    ['rstd', 'read'],
  ],
};

type B = GPUBuffer;

export function naiveLayernormForward(
  rt: Runtime,
  b: { out: B; mean: B; rstd: B; inp: B; weight: B; bias: B },
  N: number,
  C: number,
): void {
  rt.dispatch(fwd, { bindings: b, params: { N, C, eps: 1e-5 }, workgroups: [Math.ceil(N / 64)] });
}

export function naiveLayernormBackward(
  rt: Runtime,
  b: { dinp: B; dweight: B; dbias: B; dout: B; inp: B; weight: B; mean: B; rstd: B },
  N: number,
  C: number,
): void {
  rt.dispatch(bwdDinp, { bindings: b, params: { N, C, eps: 0 }, workgroups: [Math.ceil(N / 64)] });
  rt.dispatch(bwdParams, { bindings: b, params: { N, C, eps: 0 }, workgroups: [Math.ceil(C / 64)] });
}
