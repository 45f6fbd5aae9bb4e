// Naive optimizer step (see adamw-naive.wgsl) for bench/adamw.bench.ts. Whole buffers are bound,
// so n must fit in one storage binding.
import { grid, type KernelSpec, type Runtime } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';
import type { AdamWConfig } from '../../kernels/adamw.ts';

const wgsl = loadWGSL(import.meta.url, 'adamw-naive.wgsl');
const params = [
  ['n', 'u32'],
  ['decayEnd', 'u32'],
  ['row', 'u32'],
  ['step', 'u32'],
  ['lr', 'f32'],
  ['beta1', 'f32'],
  ['beta2', 'f32'],
  ['eps', 'f32'],
  ['weightDecay', 'f32'],
  ['maxNorm', 'f32'],
] as const;
const normSpec: KernelSpec = {
  name: 'adamw-naive.norm',
  wgsl,
  entryPoint: 'naive_norm',
  params,
  bindings: [
    ['norm', 'rw'],
    ['grads', 'read'],
  ],
};
const adamwSpec: KernelSpec = {
  name: 'adamw-naive.adamw',
  wgsl,
  entryPoint: 'naive_adamw',
  params,
  bindings: [
    ['params', 'rw'],
    ['m', 'rw'],
    ['v', 'rw'],
    ['grads', 'read'],
    ['norm', 'read'],
  ],
};

export interface NaiveAdamWOptions extends AdamWConfig {
  n: number;
  decayEnd: number;
  step: number;
  lr: number;
}

export function naiveGlobalNorm(rt: Runtime, b: { norm: GPUBuffer; grads: GPUBuffer }, o: NaiveAdamWOptions): void {
  rt.dispatch(normSpec, { bindings: b, params: { ...o, row: 0 }, workgroups: [1] });
}

export function naiveAdamW(
  rt: Runtime,
  b: { params: GPUBuffer; grads: GPUBuffer; m: GPUBuffer; v: GPUBuffer; norm: GPUBuffer },
  o: NaiveAdamWOptions,
): void {
  const [x, y] = grid(o.n, 64);
  rt.dispatch(adamwSpec, { bindings: b, params: { ...o, row: x * 64 }, workgroups: [x, y] });
}
