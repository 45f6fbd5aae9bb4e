// Inference-only ops for decoding with a KV cache: writing new key/value rows into a cache at
// position `pos`, and causal attention of new queries over the cached rows 0..pos+Tq-1.
//
// These are engine ops so that the model never calls kernels: model/kv-cache.ts holds the cache
// tensors and GPT.forward reaches them through these two functions. They have NO backward (decoding
// does not train), so they refuse any tensor that requires grad instead of silently cutting the
// tape: run them under `noGrad` (GPT.forward does when given a cache). `cacheWrite` mutates its
// cache tensor in place, which the tape could not record anyway.
//
// Shapes (llm.c letters): a cache is [B, NH, maxT, HS]; new rows and queries are [B, NH, Tq, HS].
import { attentionDecode } from '../kernels/attention.ts';
import { stridedCopy } from '../kernels/copy.ts';
import type { BufferRef } from '../kernels/gpu/runtime.ts';
import { fromArray } from './create.ts';
import { maskedFill, matmul, mulScalar, permute, slice, softmax, transpose } from './ops.ts';
import { empty, runtime, type Tensor } from './tensor.ts';

/**
 * How `decodeAttention` computes: 'decode-kernel' is the fused kernel (kernels/attention.ts
 * attentionDecode, the default); 'composed' runs the same math as engine ops (matmul, masked
 * softmax, matmul), the slower path the kernel is tested against.
 */
export type DecodeAttention = 'decode-kernel' | 'composed';

/** Throws unless every tensor is an f32 tensor outside the tape. */
function checkInference(op: string, ts: Record<string, Tensor>): void {
  for (const [name, t] of Object.entries(ts)) {
    t.storageFor(op);
    if (t.requiresGrad)
      throw new Error(
        `${op}: ${name} ${t.describe()} requires grad, but ${op} is inference-only (it has no backward); ` +
          'call it under noGrad',
      );
    if (t.dtype !== 'f32') throw new Error(`${op}: ${name} must be f32, got ${t.describe()}`);
  }
}

/** [B, NH, T, HS] of a rank-4 tensor, or a clear error. */
function dims4(op: string, name: string, t: Tensor): [number, number, number, number] {
  if (t.rank !== 4) throw new Error(`${op}: ${name} must be [B, NH, T, HS], got ${t.describe()}`);
  return t.shape as [number, number, number, number];
}

/** Checks rows/queries [B, NH, Tq, HS] against a cache [B, NH, maxT, HS] at `pos`; returns the dims. */
function checkCacheShapes(op: string, rows: Tensor, cache: Tensor, pos: number) {
  const [B, NH, Tq, HS] = dims4(op, 'rows', rows);
  const [cB, cNH, maxT, cHS] = dims4(op, 'cache', cache);
  if (cB !== B || cNH !== NH || cHS !== HS)
    throw new Error(`${op}: ${rows.describe()} does not fit the cache ${cache.describe()} (B, NH and HS must match)`);
  if (!Number.isInteger(pos) || pos < 0 || pos + Tq > maxT)
    throw new Error(`${op}: positions ${pos}..${pos + Tq - 1} are outside the cache's ${maxT}`);
  return { B, NH, Tq, HS, maxT };
}

/**
 * A binding of t's region that starts at an aligned offset at or before it, and t's first element
 * relative to that binding: any view binds, whatever its offset.
 */
function alignedRef(t: Tensor): { ref: BufferRef; shift: number } {
  const align = runtime().limits.minStorageBufferOffsetAlignment / 4;
  const base = Math.floor(t.offset / align) * align;
  const shift = t.offset - base;
  return { ref: { buffer: t.buffer, offset: base * 4, size: Math.max(4, (shift + t.size) * 4) }, shift };
}

/** Writes rows [B, NH, Tq, HS] into cache [B, NH, maxT, HS] at positions pos..pos+Tq-1, in place. */
export function cacheWrite(cache: Tensor, rows: Tensor, pos: number): void {
  checkInference('cacheWrite', { cache, rows });
  const { B, NH, Tq, HS, maxT } = checkCacheShapes('cacheWrite', rows, cache, pos);
  const out = alignedRef(cache);
  const inp = alignedRef(rows);
  stridedCopy(
    runtime(),
    { out: out.ref, inp: inp.ref },
    {
      shape: [B, NH, Tq, HS],
      si: [NH * Tq * HS, Tq * HS, HS, 1],
      so: [NH * maxT * HS, maxT * HS, HS, 1],
      inOffset: inp.shift,
      outOffset: out.shift + pos * HS,
    },
  );
}

/**
 * Causal attention of Tq queries at absolute positions pos..pos+Tq-1 over the first pos+Tq rows of
 * the caches: q [B, NH, Tq, HS]; k, v [B, NH, maxT, HS] → [B, NH, Tq, HS]. Cache rows past
 * pos+Tq are never read (they may hold anything).
 */
export function decodeAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  pos: number,
  opts: { attention?: DecodeAttention } = {},
): Tensor {
  checkInference('decodeAttention', { q, k, v });
  const { B, NH, Tq, HS, maxT } = checkCacheShapes('decodeAttention', q, k, pos);
  if (v.shape.some((d, i) => d !== k.shape[i]))
    throw new Error(`decodeAttention: v ${v.describe()} must match k ${k.describe()}`);
  const attention = opts.attention ?? 'decode-kernel';
  if (attention === 'composed') return composed(q, k, v, pos);
  if (attention !== 'decode-kernel')
    throw new Error(`decodeAttention: attention must be 'decode-kernel' or 'composed', got '${String(attention)}'`);
  // The kernel binds whole tensors; a copy makes an odd view bindable (identity permute).
  const bind = (t: Tensor) => (t.bindable ? t : permute(t, [0, 1, 2, 3]));
  const out = empty(q.shape);
  attentionDecode(
    runtime(),
    { out: out.ref(), q: bind(q).ref(), k: bind(k).ref(), v: bind(v).ref() },
    { B, NH, Tq, qOffset: pos, maxT, HS },
  );
  return out;
}

/** The same attention as engine ops: scores over the first L = pos+Tq cached rows, the future masked out. */
function composed(q: Tensor, kc: Tensor, vc: Tensor, pos: number): Tensor {
  const Tq = q.shape[2]!;
  const HS = q.shape[3]!;
  const L = pos + Tq;
  const k = slice(kc, 2, 0, L);
  const v = slice(vc, 2, 0, L);
  const scores = mulScalar(matmul(q, transpose(k)), 1 / Math.sqrt(HS)); // [B, NH, Tq, L]
  const mask = new Float32Array(Tq * L);
  for (let i = 0; i < Tq; i++) for (let j = pos + i + 1; j < L; j++) mask[i * L + j] = 1;
  const p = softmax(maskedFill(scores, fromArray(mask, [Tq, L]), -1e30));
  return matmul(p, v); // [B, NH, Tq, HS]
}
