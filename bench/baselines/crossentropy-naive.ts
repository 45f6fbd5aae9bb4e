// Naive cross-entropy baseline (one invocation per row) for bench/crossentropy.bench.ts.
import type { KernelSpec, Runtime } from '../../kernels/gpu/runtime.ts';
import { loadWGSL } from '../../kernels/gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'crossentropy-naive.wgsl');
const params = [
  ['N', 'u32'],
  ['V', 'u32'],
  ['Vp', 'u32'],
  ['ignore', 'i32'],
  ['rows', 'u32'],
  ['row0', 'u32'],
] as const;
const rows: KernelSpec = {
  name: 'crossentropy-naive.rows',
  wgsl,
  entryPoint: 'naive_rows',
  params,
  bindings: [
    ['losses', 'rw'],
    ['dlogits', 'rw'],
    ['logits', 'read'],
    ['targets', 'read'],
    ['dloss', 'read'],
  ],
};
const mean: KernelSpec = {
  name: 'crossentropy-naive.mean',
  wgsl,
  entryPoint: 'naive_mean',
  params,
  bindings: [
    ['loss', 'rw'],
    ['losses', 'read'],
    ['targets', 'read'],
  ],
};

type B = GPUBuffer;

/** grad false: the forward only (losses and mean). Tensors larger than one binding go in row blocks. */
export function naiveCrossEntropy(
  rt: Runtime,
  b: { losses: B; loss: B; dlogits: B; logits: B; targets: B; dloss: B },
  N: number,
  V: number,
  Vp: number,
  grad: boolean,
): void {
  const block = Math.max(4, Math.floor(rt.limits.maxStorageBufferBindingSize / (Vp * 4) / 4) * 4);
  for (let row0 = 0; row0 < N; row0 += block) {
    const n = Math.min(block, N - row0);
    const part = (buf: B, rowBytes: number) => ({ buffer: buf, offset: row0 * rowBytes, size: n * rowBytes });
    rt.dispatch(rows, {
      bindings: {
        losses: part(b.losses, 4),
        dlogits: part(b.dlogits, Vp * 4),
        logits: part(b.logits, Vp * 4),
        targets: b.targets,
        dloss: b.dloss,
      },
      params: { N, V, Vp, ignore: -1, rows: n, row0 },
      overrides: { GRAD: grad ? 1 : 0 },
      workgroups: [Math.ceil(n / 64)],
    });
  }
  rt.dispatch(mean, {
    bindings: { loss: b.loss, losses: b.losses, targets: b.targets },
    params: { N, V, Vp, ignore: -1, rows: N, row0: 0 },
    workgroups: [1],
  });
}
