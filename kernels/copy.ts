// Spec and dispatch size for kernels/copy.wgsl (general strided copy of 32-bit words).
import { grid, type BufferRef, type KernelSpec, type Runtime } from '../engine/runtime.ts';
import { loadWGSL } from './wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'copy.wgsl');
const WG = 256;
export const COPY_MAX_RANK = 6;
const dims = (p: string) => Array.from({ length: COPY_MAX_RANK }, (_, i) => [`${p}${i}`, 'u32'] as const);

export const stridedCopySpec: KernelSpec = {
  name: 'copy.strided_copy', wgsl, entryPoint: 'strided_copy',
  params: [['n', 'u32'], ['rank', 'u32'], ['row', 'u32'], ['inOffset', 'u32'], ['outOffset', 'u32'], ...dims('shape'), ...dims('si'), ...dims('so')],
  bindings: [['inp', 'read'], ['out', 'rw']], overrides: { WG },
};

/** out[outOffset + Σ idx·so] = inp[inOffset + Σ idx·si] over the iteration `shape` (element units). */
export function stridedCopy(
  rt: Runtime, b: { out: GPUBuffer | BufferRef; inp: GPUBuffer | BufferRef },
  s: { shape: number[]; si: number[]; so: number[]; inOffset?: number; outOffset?: number },
): void {
  if (s.shape.length > COPY_MAX_RANK) throw new Error(`stridedCopy: rank ${s.shape.length} > ${COPY_MAX_RANK}`);
  const n = s.shape.reduce((x, y) => x * y, 1);
  const [x, y] = grid(n, WG);
  const params: Record<string, number> = { n, rank: s.shape.length, row: x * WG, inOffset: s.inOffset ?? 0, outOffset: s.outOffset ?? 0 };
  for (let d = 0; d < COPY_MAX_RANK; d++) {
    params[`shape${d}`] = s.shape[d] ?? 1;
    params[`si${d}`] = s.si[d] ?? 0;
    params[`so${d}`] = s.so[d] ?? 0;
  }
  rt.dispatch(stridedCopySpec, { bindings: b, params, workgroups: [x, y] });
}
