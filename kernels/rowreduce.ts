// What the row kernels (softmax, layernorm, crossentropy) share on the host: loading a kernel's
// WGSL with one of the two implementations of its workgroup reductions (lib/rowreduce.wgsl or
// lib/rowreduce-subgroup.wgsl), the per-adapter choice of workgroup geometry, and splitting
// tensors larger than one storage binding into row blocks.
import type { BufferRef, Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

/** How a row kernel reduces across its workgroup: workgroup memory (portable) or subgroup operations. */
export type Reduction = 'workgroup' | 'subgroup';

/** Override constants and reduction of a row kernel. */
export interface RowTuning {
  /** Invocations per row (per workgroup), a power of two. */
  WG: number;
  /** 4-column chunks each invocation keeps in registers, 0..MAX_VPT. */
  VPT: number;
  reduction: Reduction;
}

/** The register budget the kernels declare (MAX_VPT in lib/rows.wgsl). */
export const MAX_VPT = 32;

type Buf = GPUBuffer | BufferRef;

/**
 * A row kernel's module: `file` (which includes lib/rowreduce.wgsl) linked with the reductions
 * chosen, the subgroup ones swapped in for `reduction: 'subgroup'`.
 */
export function loadRowKernel(
  file: string,
  reduction: Reduction,
  generated: Readonly<Record<string, string>> = {},
): string {
  const swap: Record<string, string> =
    reduction === 'subgroup' ? { 'lib/rowreduce.wgsl': 'lib/rowreduce-subgroup.wgsl' } : {};
  return loadWGSL(import.meta.url, file, { swap, generated });
}

/** A buffer a row kernel's scalar variant reads or writes by 4-column chunks. */
export interface ChunkBuffer {
  /** The binding's name in the kernel (and its KernelSpec). */
  name: string;
  /** 'row': an [N, C] buffer read at a row's base offset; 'vector': one [C] row (a weight). */
  shape: 'row' | 'vector';
}

/**
 * WGSL accessors `load_chunk_<name>` / `store_chunk_<name>` for chunk c (columns 4c..4c+3) of a
 * row of p.C columns, bounded by p.C (columns past it read 0 and are not written): the scalar
 * variants' way to use vec4 arithmetic on rows whose C is not a multiple of 4. One function per
 * buffer, generated, since a storage buffer cannot be a function parameter in WGSL except through
 * the unrestricted_pointer_parameters extension, which made layernorm's scalar variant 60x slower
 * on lavapipe (Mesa 25.0.7: 618 ms instead of 10 ms for the forward at [4096 x 767]).
 */
export function chunkAccessors(loads: readonly ChunkBuffer[], stores: readonly ChunkBuffer[]): string {
  const at = (b: ChunkBuffer): string => (b.shape === 'row' ? 'base + 4u * c + i' : '4u * c + i');
  const args = (b: ChunkBuffer): string => (b.shape === 'row' ? 'base: u32, c: u32' : 'c: u32');
  const guard = (body: string): string[] => [
    '  for (var i = 0u; i < 4u; i++) {',
    '    if (4u * c + i < p.C) {',
    `      ${body}`,
    '    }',
    '  }',
  ];
  const out: string[] = [];
  for (const b of loads) {
    out.push(`fn load_chunk_${b.name}(${args(b)}) -> vec4f {`, '  var x = vec4f(0.0);');
    out.push(...guard(`x[i] = ${b.name}[${at(b)}];`), '  return x;', '}', '');
  }
  for (const b of stores) {
    out.push(`fn store_chunk_${b.name}(${args(b)}, y: vec4f) {`, ...guard(`${b.name}[${at(b)}] = y[i];`), '}', '');
  }
  return out.join('\n');
}

/**
 * lib/row-pass.wgsl (the online-softmax row pass of softmax.wgsl and crossentropy.wgsl) once per
 * variant: `row_pass_<v>` calling the kernel's `load_row_chunk_<v>`, linked as gen/row-pass.wgsl.
 * Instantiated rather than included for the reason chunkAccessors gives: the variants load from
 * different storage buffers, which cannot be function parameters on lavapipe at full speed.
 */
export function rowPass(variants: readonly string[]): string {
  const text = loadWGSL(import.meta.url, 'lib/row-pass.wgsl');
  const code = text.replace(/^(\/\/.*\n)+\n/, ''); // the header, once is enough
  return variants.map((v) => code.replace(/\b(row_pass|load_row_chunk)\b/g, `$1_${v}`)).join('\n');
}

/** The adapter's smallest subgroup size, or 0 when the device has no subgroup operations. */
export function subgroupMinSize(rt: Runtime): number {
  if (!rt.features.has('subgroups')) return 0;
  const info = rt.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number };
  return info.subgroupMinSize ?? 0;
}

function pow2Ceil(n: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, n)));
}

/**
 * The geometry for rows of `chunks` 4-column chunks.
 *  - lavapipe: WG = 8, its SIMD width and subgroup size, so the whole reduction is a subgroup
 *    operation without a barrier (a barrier there costs a coroutine switch and spills the row);
 *    up to 32 chunks per invocation in registers, since a spill to the stack costs one vector
 *    instruction while every buffer access is an 8-way loop over the lanes.
 *  - a GPU with subgroups and rows of at most 8 chunks per lane: one subgroup (a warp) per row.
 *  - otherwise a larger workgroup with the tree reduction, at most `gpuVpt` chunks per
 *    invocation in registers and the rest of a long row streamed.
 */
export function pickRowTuning(rt: Runtime, chunks: number, gpuVpt = 8): RowTuning {
  const sg = subgroupMinSize(rt);
  if (rt.isSoftware) {
    const WG = sg >= 4 ? sg : 8;
    return { WG, VPT: Math.min(MAX_VPT, Math.ceil(chunks / WG)), reduction: sg >= 4 ? 'subgroup' : 'workgroup' };
  }
  if (sg >= 4 && chunks <= sg * gpuVpt) {
    return { WG: sg, VPT: Math.ceil(chunks / sg), reduction: 'subgroup' };
  }
  const WG = Math.min(256, Math.max(32, pow2Ceil(Math.ceil(chunks / gpuVpt))));
  return { WG, VPT: Math.min(gpuVpt, Math.ceil(chunks / WG)), reduction: 'workgroup' };
}

/** Fills in and checks a caller's tuning (tests and benches force configurations). */
export function resolveTuning(rt: Runtime, kernel: string, auto: RowTuning, given?: Partial<RowTuning>): RowTuning {
  const t = { ...auto, ...given };
  if (!Number.isInteger(Math.log2(t.WG)) || t.WG < 1 || t.WG > 256)
    throw new Error(`${kernel}: WG must be a power of two in 1..256, got ${t.WG}`);
  if (!Number.isInteger(t.VPT) || t.VPT < 0 || t.VPT > MAX_VPT)
    throw new Error(`${kernel}: VPT must be an integer in 0..${MAX_VPT}, got ${t.VPT}`);
  if (t.reduction === 'subgroup') {
    const sg = subgroupMinSize(rt);
    if (sg === 0)
      throw new Error(`${kernel}: the subgroup reduction needs the 'subgroups' feature, which this device lacks`);
    if (t.WG > sg)
      throw new Error(
        `${kernel}: the subgroup reduction needs WG <= the smallest subgroup size (${sg}), got WG=${t.WG}`,
      );
  }
  return t;
}

/** A byte range of a binding. */
export function slice(b: Buf, offset: number, size: number): BufferRef {
  if (b instanceof GPUBuffer) return { buffer: b, offset, size };
  return { buffer: b.buffer, offset: (b.offset ?? 0) + offset, size };
}

/**
 * Splits N rows into blocks whose largest binding (`maxRowBytes` per row) fits in one storage
 * binding. Blocks after the first start at a multiple of 4 rows, so that every per-row binding
 * of 4-byte elements starts on the 16-byte storage offset alignment. One block in the usual case.
 */
export function rowBlocks(
  rt: Runtime,
  kernel: string,
  N: number,
  maxRowBytes: number,
  maxBindingBytes?: number,
): [number, number][] {
  const limit = Math.min(rt.limits.maxStorageBufferBindingSize, maxBindingBytes ?? Infinity);
  if (N * maxRowBytes <= limit) return [[0, N]];
  const rows = Math.floor(limit / maxRowBytes / 4) * 4;
  if (rows < 4)
    throw new Error(`${kernel}: a row of ${maxRowBytes} bytes is too long to bind 4 rows at once (limit ${limit})`);
  const blocks: [number, number][] = [];
  for (let r0 = 0; r0 < N; r0 += rows) blocks.push([r0, Math.min(rows, N - r0)]);
  return blocks;
}
