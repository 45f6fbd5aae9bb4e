// Spec and dispatch size for kernels/copy.wgsl (general strided copy of 32-bit words).
import { grid, type BufferRef, type KernelSpec, type Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'copy.wgsl');
const WG = 256;
export const COPY_MAX_RANK = 6;
const OUTER = COPY_MAX_RANK - 1;
const dims = (p: string) => Array.from({ length: OUTER }, (_, i) => [`${p}${i}`, 'u32'] as const);

export const stridedCopySpec: KernelSpec = {
  name: 'copy.strided_copy',
  wgsl,
  entryPoint: 'strided_copy',
  params: [
    ['n', 'u32'],
    ['row', 'u32'],
    ['chunks', 'u32'],
    ['outerRank', 'u32'],
    ['inOffset', 'u32'],
    ['outOffset', 'u32'],
    ['inner', 'u32'],
    ['siInner', 'u32'],
    ['soInner', 'u32'],
    ...dims('shape'),
    ...dims('si'),
    ...dims('so'),
  ],
  bindings: [
    ['inp', 'read'],
    ['out', 'rw'],
  ],
  overrides: { WG, VPI: 1 },
};

/** Inner elements per invocation: 1 on a GPU (coalesced), 16 on a CPU adapter (see copy.wgsl). */
export function copyVPI(rt: Runtime): number {
  return rt.isSoftware ? 16 : 1;
}

/** out[outOffset + Σ idx·so] = inp[inOffset + Σ idx·si] over the iteration `shape` (element units). */
export function stridedCopy(
  rt: Runtime,
  b: { out: GPUBuffer | BufferRef; inp: GPUBuffer | BufferRef },
  s: { shape: number[]; si: number[]; so: number[]; inOffset?: number; outOffset?: number; VPI?: number },
): void {
  const rank = s.shape.length;
  if (rank > COPY_MAX_RANK) throw new Error(`stridedCopy: rank ${rank} > ${COPY_MAX_RANK}`);
  const inner = rank > 0 ? s.shape[rank - 1]! : 1;
  const rows = s.shape.slice(0, -1).reduce((x, y) => x * y, 1);
  if (rows * inner === 0) return;
  const VPI = s.VPI ?? copyVPI(rt);
  if (!Number.isInteger(VPI) || VPI < 1) throw new Error(`stridedCopy: VPI must be a positive integer, got ${VPI}`);
  const chunks = Math.ceil(inner / VPI);
  const n = rows * chunks;
  const [x, y] = grid(n, WG);
  const params: Record<string, number> = {
    n,
    row: x * WG,
    chunks,
    outerRank: Math.max(0, rank - 1),
    inOffset: s.inOffset ?? 0,
    outOffset: s.outOffset ?? 0,
    inner,
    siInner: rank > 0 ? s.si[rank - 1]! : 0,
    soInner: rank > 0 ? s.so[rank - 1]! : 0,
  };
  for (let d = 0; d < OUTER; d++) {
    const has = d < rank - 1;
    params[`shape${d}`] = has ? s.shape[d]! : 1;
    params[`si${d}`] = has ? s.si[d]! : 0;
    params[`so${d}`] = has ? s.so[d]! : 0;
  }
  rt.dispatch(stridedCopySpec, { bindings: b, params, overrides: { WG, VPI }, workgroups: [x, y] });
}
