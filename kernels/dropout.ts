// Spec and dispatch size for kernels/dropout.wgsl. The backward is the same kernel applied to
// dout with the same seed: the mask times 1/(1-p) is linear in its input.
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

const WG = 256;
export const dropoutSpec: KernelSpec = {
  name: 'dropout',
  wgsl: loadWGSL(import.meta.url, 'dropout.wgsl'),
  entryPoint: 'dropout',
  params: [
    ['n', 'u32'],
    ['seed', 'u32'],
    ['threshold', 'u32'],
    ['scale', 'f32'],
    ['row', 'u32'],
  ],
  bindings: [
    ['inp', 'read'],
    ['out', 'rw'],
  ],
  overrides: { WG },
};

export function dropout(
  rt: Runtime,
  b: { out: GPUBuffer | BufferRef; inp: GPUBuffer | BufferRef },
  s: { n: number; p: number; seed: number },
): void {
  const [x, y] = grid(s.n, WG);
  const threshold = Math.min(0xffffffff, Math.round(s.p * 2 ** 32));
  rt.dispatch(dropoutSpec, {
    bindings: b,
    params: { n: s.n, seed: s.seed >>> 0, threshold, scale: 1 / (1 - s.p), row: x * WG },
    workgroups: [x, y],
  });
}
