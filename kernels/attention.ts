// Specs and dispatch sizes for fused causal attention (kernels/attention.wgsl, the portable tiled
// variant, and kernels/attention-subgroup.wgsl, the subgroup variant for CPU SIMD adapters), plus the
// composed path (matmul -> causal softmax -> matmul) that tests and the bench compare against.
import type { BufferRef, KernelSpec, Runtime } from './gpu/runtime.ts';
import { unary } from './elementwise.ts';
import { matmul } from './matmul.ts';
import { softmaxBackward, softmaxForward } from './softmax.ts';
import { loadWGSL } from './gpu/wgsl.ts';
import { attentionSupportsHS } from './limits.ts';

export { attentionSupportsHS };

type Buf = GPUBuffer | BufferRef;

/**
 * 'tiled': one query (or key) row per invocation, k/v (or q/dout) tiles in workgroup memory; the
 * GPU kernel. 'subgroup': four rows per invocation, operand rows shared through subgroup shuffles,
 * no workgroup memory; the kernel for CPU adapters (lavapipe), where it is several times faster.
 */
export type AttentionVariant = 'tiled' | 'subgroup';

export interface AttentionOptions {
  variant?: AttentionVariant;
  /** tiled: query rows per tile, a multiple of 4 (forward/dq: the workgroup size; dkv: its q tile). */
  BR?: number;
  /** tiled: key rows per tile, a multiple of 4 (forward/dq: the k/v tile; dkv: the workgroup size). */
  BC?: number;
  /** subgroup: invocations per workgroup (each owns 4 rows). */
  WG?: number;
}

const params = [
  ['T', 'u32'],
  ['qOffset', 'u32'],
  ['kvStride', 'u32'],
  ['scale', 'f32'],
  ['hs4', 'u32'],
] as const;
const fwdBindings = [
  ['out', 'rw'],
  ['q', 'read'],
  ['k', 'read'],
  ['v', 'read'],
  ['lse', 'rw'],
] as const;
const dqBindings = [
  ['dq', 'rw'],
  ['q', 'read'],
  ['k', 'read'],
  ['v', 'read'],
  ['dout', 'read'],
  ['out', 'read'],
  ['lse', 'read'],
  ['D', 'rw'],
] as const;
const dkvBindings = [
  ['dk', 'rw'],
  ['q', 'read'],
  ['k', 'read'],
  ['v', 'read'],
  ['dout', 'read'],
  ['dv', 'rw'],
  ['lse', 'read'],
  ['D', 'read'],
] as const;

function specs(file: string, tag: string, overrides: Record<string, number>) {
  const wgsl = loadWGSL(import.meta.url, file);
  const spec = (entry: string, bindings: KernelSpec['bindings']): KernelSpec => ({
    name: `attention.${tag}.${entry}`,
    wgsl,
    entryPoint: `attention_${entry}`,
    params,
    bindings,
    overrides,
  });
  return {
    forward: spec('forward', fwdBindings),
    dq: spec('backward_dq', dqBindings),
    dkv: spec('backward_dkv', dkvBindings),
  };
}

export const attentionTiledSpecs = specs('attention.wgsl', 'tiled', { HS: 64, BR: 64, BC: 32 });
export const attentionSubgroupSpecs = specs('attention-subgroup.wgsl', 'subgroup', { HS: 64, WG: 8 });

/** The variant used when none is asked for: subgroup on CPU adapters that can run it, else tiled. */
export function defaultAttentionVariant(rt: Runtime): AttentionVariant {
  return rt.isSoftware && rt.features.has('subgroups') && (rt.info.subgroupMinSize ?? 0) >= 8 ? 'subgroup' : 'tiled';
}

interface Plan {
  specs: typeof attentionTiledSpecs;
  overrides: Record<string, number>;
  /** Query rows per forward/dq workgroup, key rows per dkv workgroup. */
  qRows: number;
  kRows: number;
}

/** Largest power-of-two tile (at most 64 rows) whose two row tiles of HS floats fit workgroup memory. */
function fitTile(rt: Runtime, HS: number, extraPerRow: number): number {
  const mem = rt.limits.maxComputeWorkgroupStorageSize;
  return Math.min(64, 2 ** Math.floor(Math.log2(mem / (2 * HS * 4 + extraPerRow))));
}

function plan(rt: Runtime, HS: number, o: AttentionOptions = {}): Plan {
  if (!attentionSupportsHS(HS))
    throw new Error(`attention: head size ${HS} is not supported (multiples of 4 up to 32, or 64, 96, 128)`);
  const variant = o.variant ?? defaultAttentionVariant(rt);
  if (variant === 'subgroup') {
    if (!rt.features.has('subgroups')) throw new Error('attention: the subgroup variant needs the "subgroups" feature');
    const WG = o.WG ?? 8;
    return { specs: attentionSubgroupSpecs, overrides: { HS, WG }, qRows: 4 * WG, kRows: 4 * WG };
  }
  const BR = o.BR ?? fitTile(rt, HS, 8); // dkv: q and dout tiles, plus lse and D per row
  const BC = o.BC ?? fitTile(rt, HS, 0); // forward, dq: k and v tiles
  if (BR % 4 || BC % 4 || BR < 4 || BC < 4)
    throw new Error(`attention: BR and BC must be multiples of 4, got ${BR} and ${BC}`);
  return { specs: attentionTiledSpecs, overrides: { HS, BR, BC }, qRows: BR, kRows: BC };
}

function heads(B: number, NH: number): number {
  const n = B * NH;
  if (n > 65535) throw new Error(`attention: B·NH = ${n} exceeds 65535 workgroups per dimension`);
  return n;
}

/** out = causal softmax(q·kᵀ/sqrt(HS))·v and lse (B, NH, T), natural log of the scaled, masked scores. */
export function attentionForward(
  rt: Runtime,
  b: { out: Buf; lse: Buf; q: Buf; k: Buf; v: Buf },
  s: { B: number; NH: number; T: number; HS: number },
  opts?: AttentionOptions,
): void {
  const pl = plan(rt, s.HS, opts);
  rt.dispatch(pl.specs.forward, {
    bindings: b,
    params: { T: s.T, qOffset: 0, kvStride: s.T, scale: 1 / Math.sqrt(s.HS), hs4: s.HS / 4 },
    overrides: pl.overrides,
    workgroups: [Math.ceil(s.T / pl.qRows), heads(s.B, s.NH)],
  });
}

/**
 * Writes (does not accumulate) dq, dk, dv. scratch, if given, holds B·NH·T floats (D_i =
 * dout_i·out_i); otherwise one is taken from the pool for the duration of the two dispatches.
 */
export function attentionBackward(
  rt: Runtime,
  b: { dq: Buf; dk: Buf; dv: Buf; dout: Buf; q: Buf; k: Buf; v: Buf; out: Buf; lse: Buf; scratch?: Buf },
  s: { B: number; NH: number; T: number; HS: number },
  opts?: AttentionOptions,
): void {
  const pl = plan(rt, s.HS, opts);
  const nh = heads(s.B, s.NH);
  const own = b.scratch ? null : rt.pool.acquire(s.B * s.NH * s.T * 4, 'attention-D');
  const D = b.scratch ?? own!;
  const p = { T: s.T, qOffset: 0, kvStride: s.T, scale: 1 / Math.sqrt(s.HS), hs4: s.HS / 4 };
  rt.dispatch(pl.specs.dq, {
    bindings: { dq: b.dq, q: b.q, k: b.k, v: b.v, dout: b.dout, out: b.out, lse: b.lse, D },
    params: p,
    overrides: pl.overrides,
    workgroups: [Math.ceil(s.T / pl.qRows), nh],
  });
  rt.dispatch(pl.specs.dkv, {
    bindings: { dk: b.dk, q: b.q, k: b.k, v: b.v, dout: b.dout, dv: b.dv, lse: b.lse, D },
    params: p,
    overrides: pl.overrides,
    workgroups: [Math.ceil(s.T / pl.kRows), nh],
  });
  if (own) rt.pool.release(own);
}

/**
 * Decoding with a KV cache: q and out are (B, NH, Tq, HS), rows at absolute positions
 * qOffset .. qOffset+Tq-1; k and v are the cache, (B, NH, maxT, HS), filled up to qOffset+Tq.
 * It is the forward kernel with a row offset and a cache stride; the lse it also writes goes to
 * `lse` if given (B·NH·Tq floats), else to a pooled scratch buffer.
 */
export function attentionDecode(
  rt: Runtime,
  b: { out: Buf; q: Buf; k: Buf; v: Buf; lse?: Buf },
  s: { B: number; NH: number; Tq: number; qOffset: number; maxT: number; HS: number },
  opts?: AttentionOptions,
): void {
  if (s.qOffset + s.Tq > s.maxT)
    throw new Error(`attentionDecode: qOffset + Tq = ${s.qOffset + s.Tq} exceeds maxT = ${s.maxT}`);
  const pl = plan(rt, s.HS, opts);
  const own = b.lse ? null : rt.pool.acquire(s.B * s.NH * s.Tq * 4, 'attention-decode-lse');
  rt.dispatch(pl.specs.forward, {
    bindings: { out: b.out, q: b.q, k: b.k, v: b.v, lse: b.lse ?? own! },
    params: { T: s.Tq, qOffset: s.qOffset, kvStride: s.maxT, scale: 1 / Math.sqrt(s.HS), hs4: s.HS / 4 },
    overrides: pl.overrides,
    workgroups: [Math.ceil(s.Tq / pl.qRows), heads(s.B, s.NH)],
  });
  if (own) rt.pool.release(own);
}

// ---- The composed path: what the fused kernels replace, kept for tests and as the bench baseline.
// It materialises the (B·NH, T, T) probability matrix (probs), which its backward reads.

/** out = P·v with P = causal softmax((q·scale)·kᵀ); writes probs (B, NH, T, T) for the backward. */
export function attentionComposed(
  rt: Runtime,
  b: { out: Buf; probs: Buf; q: Buf; k: Buf; v: Buf },
  s: { B: number; NH: number; T: number; HS: number },
): void {
  const { T, HS } = s;
  const batch = s.B * s.NH;
  const qs = rt.pool.acquire(batch * T * HS * 4, 'attention-qs');
  const scores = rt.pool.acquire(batch * T * T * 4, 'attention-scores');
  unary(rt, 'mulScalar', { out: qs, inp: b.q }, { n: batch * T * HS, scalar: 1 / Math.sqrt(HS) });
  matmul(rt, { out: scores, a: qs, b: b.k, transB: true, batch, M: T, N: T, K: HS });
  softmaxForward(rt, { out: b.probs, inp: scores }, { N: batch * T, C: T, causalT: T });
  matmul(rt, { out: b.out, a: b.probs, b: b.v, batch, M: T, N: HS, K: T });
  rt.pool.release(qs);
  rt.pool.release(scores);
}

/** The composed backward: writes dq, dk, dv from dout and the forward's probs. */
export function attentionComposedBackward(
  rt: Runtime,
  b: { dq: Buf; dk: Buf; dv: Buf; dout: Buf; q: Buf; k: Buf; v: Buf; probs: Buf },
  s: { B: number; NH: number; T: number; HS: number },
): void {
  const { T, HS } = s;
  const batch = s.B * s.NH;
  const n = batch * T * HS;
  const scale = 1 / Math.sqrt(HS);
  const dprobs = rt.pool.acquire(batch * T * T * 4, 'attention-dprobs');
  const dscores = rt.pool.acquire(batch * T * T * 4, 'attention-dscores');
  const qs = rt.pool.acquire(n * 4, 'attention-qs');
  const ks = rt.pool.acquire(n * 4, 'attention-ks');
  matmul(rt, { out: dprobs, a: b.dout, b: b.v, transB: true, batch, M: T, N: T, K: HS }); // dP = dout·vᵀ
  matmul(rt, { out: b.dv, a: b.probs, b: b.dout, transA: true, batch, M: T, N: HS, K: T }); // dv = Pᵀ·dout
  softmaxBackward(rt, { dinp: dscores, dout: dprobs, out: b.probs }, { N: batch * T, C: T }); // dS
  unary(rt, 'mulScalar', { out: ks, inp: b.k }, { n, scalar: scale });
  unary(rt, 'mulScalar', { out: qs, inp: b.q }, { n, scalar: scale });
  matmul(rt, { out: b.dq, a: dscores, b: ks, batch, M: T, N: HS, K: T }); // dq = dS·k·scale
  matmul(rt, { out: b.dk, a: dscores, b: qs, transA: true, batch, M: T, N: HS, K: T }); // dk = dSᵀ·q·scale
  for (const buf of [dprobs, dscores, qs, ks]) rt.pool.release(buf);
}
