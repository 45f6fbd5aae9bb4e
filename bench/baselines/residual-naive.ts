// Naive residual baseline (one invocation per element) for bench/residual.bench.ts.
import { grid, type KernelSpec, type Runtime } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';

const spec: KernelSpec = {
  name: 'residual-naive.forward',
  wgsl: loadWGSL(import.meta.url, 'residual-naive.wgsl'),
  entryPoint: 'naive_forward',
  params: [
    ['n', 'u32'],
    ['row', 'u32'],
  ],
  bindings: [
    ['out', 'rw'],
    ['inp1', 'read'],
    ['inp2', 'read'],
  ],
};

export function naiveResidualForward(
  rt: Runtime,
  b: { out: GPUBuffer; inp1: GPUBuffer; inp2: GPUBuffer },
  n: number,
): void {
  const [x, y] = grid(n, 64);
  rt.dispatch(spec, { bindings: b, params: { n, row: x * 64 }, workgroups: [x, y] });
}
