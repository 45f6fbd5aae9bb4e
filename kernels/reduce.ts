// Specs and dispatch sizes for kernels/reduce.wgsl (sum/mean/max over one axis, max backward).
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'reduce.wgsl');
const WG = 256;
const params = [
  ['outer', 'u32'],
  ['R', 'u32'],
  ['inner', 'u32'],
  ['scale', 'f32'],
  ['row', 'u32'],
] as const;

export const reduceRowsSpec: KernelSpec = {
  name: 'reduce.reduce_rows',
  wgsl,
  entryPoint: 'reduce_rows',
  params,
  bindings: [
    ['inp', 'read'],
    ['out', 'rw'],
    ['arg', 'rw'],
  ],
  overrides: { WG, OP: 0 },
};
export const reduceStridedSpec: KernelSpec = {
  ...reduceRowsSpec,
  name: 'reduce.reduce_strided',
  entryPoint: 'reduce_strided',
};
export const maxBackwardSpec: KernelSpec = {
  name: 'reduce.max_backward',
  wgsl,
  entryPoint: 'max_backward',
  params,
  bindings: [
    ['dout', 'read'],
    ['argmax', 'read'],
    ['dinp', 'rw'],
  ],
  overrides: { WG },
};

type Buf = GPUBuffer | BufferRef;

/** out[o, i] = reduce_r inp[o, r, i]; `arg` receives argmax for max (bind any scratch for sum). */
export function reduce(
  rt: Runtime,
  op: 'sum' | 'max',
  b: { out: Buf; inp: Buf; arg: Buf },
  s: { outer: number; R: number; inner: number; scale?: number },
): void {
  const OP = op === 'max' ? 1 : 0;
  const base = { outer: s.outer, R: s.R, inner: s.inner, scale: s.scale ?? 1 };
  if (s.inner === 1) {
    const [x, y] = grid(s.outer, 1);
    rt.dispatch(reduceRowsSpec, { bindings: b, params: { ...base, row: x }, overrides: { OP }, workgroups: [x, y] });
  } else {
    const [x, y] = grid(s.outer * s.inner, WG);
    rt.dispatch(reduceStridedSpec, {
      bindings: b,
      params: { ...base, row: x * WG },
      overrides: { OP },
      workgroups: [x, y],
    });
  }
}

export function maxBackward(
  rt: Runtime,
  b: { dinp: Buf; dout: Buf; argmax: Buf },
  s: { outer: number; R: number; inner: number },
): void {
  const [x, y] = grid(s.outer * s.R * s.inner, WG);
  rt.dispatch(maxBackwardSpec, { bindings: b, params: { ...s, scale: 1, row: x * WG }, workgroups: [x, y] });
}
