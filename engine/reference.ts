// A tiny N-d float64 tensor library: the oracle for the GPU engine's generic ops.
//
// Every op has a forward and a backward in `refOps`; the GPU engine's op of the same name must
// agree with both. Shapes follow NumPy: row-major (C-contiguous) data, a scalar has shape [] and
// one element, binary ops broadcast by aligning shapes on the right. Backward functions return
// fresh gradient tensors (one per input, shaped like that input, or null where the input is not
// differentiable, e.g. integer ids or masks); the engine's autograd does the accumulation, so the
// kernel references' += / = rule (kernels/reference.ts) does not show through this table.
//
// Every backward here is checked against central finite differences in
// tests/reference/ops-fd.test.ts.

import type { Rng } from '../kernels/random.ts';
import {
  attentionBackward,
  attentionForward,
  crossEntropyBackward,
  crossEntropyForward,
  geluBackward,
  geluForward,
  layernormBackward,
  layernormForward,
  logSoftmaxBackward,
  logSoftmaxForward,
  matmulBackward,
  matmulForward,
  softmaxBackward,
  softmaxForward,
} from '../kernels/reference.ts';

export interface RefTensor {
  shape: number[];
  data: Float64Array;
}

// ----------------------------------------------------------------------------------------------
// construction and random numbers

export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function assertShape(shape: readonly number[]): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
  }
}

/** A tensor of the given shape: zeros, or a copy of `data` (whose length must match). */
export function refTensor(shape: readonly number[], data?: ArrayLike<number>): RefTensor {
  assertShape(shape);
  const n = numel(shape);
  if (data === undefined) return { shape: [...shape], data: new Float64Array(n) };
  if (data.length !== n) throw new Error(`data length ${data.length} != numel([${shape.join(', ')}]) = ${n}`);
  return { shape: [...shape], data: Float64Array.from(data) };
}

export function refScalar(x: number): RefTensor {
  return refTensor([], [x]);
}

export function refFull(shape: readonly number[], value: number): RefTensor {
  const t = refTensor(shape);
  t.data.fill(value);
  return t;
}

export function randn(shape: readonly number[], rng: Rng, std = 1): RefTensor {
  const t = refTensor(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = rng.normal() * std;
  return t;
}

export function randu(shape: readonly number[], rng: Rng, lo = 0, hi = 1): RefTensor {
  const t = refTensor(shape);
  for (let i = 0; i < t.data.length; i++) t.data[i] = lo + (hi - lo) * rng.uniform();
  return t;
}

// ----------------------------------------------------------------------------------------------
// shape helpers

export function stridesOf(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = acc;
    acc *= shape[d]!;
  }
  return s;
}

function shapeEq(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function fmt(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function normAxis(axis: number, ndim: number): number {
  const a = axis < 0 ? axis + ndim : axis;
  if (!Number.isInteger(a) || a < 0 || a >= ndim) throw new Error(`axis ${axis} out of range for ndim ${ndim}`);
  return a;
}

/** NumPy broadcasting: align on the right; each pair of dims must be equal or one of them 1. */
export function broadcastShapes(...shapes: (readonly number[])[]): number[] {
  const ndim = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(ndim).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = s[s.length - 1 - i]!;
      const o = ndim - 1 - i;
      const cur = out[o]!;
      if (d === cur || d === 1) continue;
      if (cur === 1) out[o] = d;
      else throw new Error(`shapes ${shapes.map(fmt).join(' and ')} do not broadcast`);
    }
  }
  return out;
}

/**
 * Maps a flat index of `outShape` to the flat index of an input of `inShape` broadcast to it
 * (stride 0 along broadcast dims). Calling it for every output element and accumulating with +=
 * is how every backward below sums gradients over broadcast axes.
 */
function broadcastIndexer(inShape: readonly number[], outShape: readonly number[]): (o: number) => number {
  const nd = outShape.length;
  const off = nd - inShape.length;
  const inStrides = stridesOf(inShape);
  const bstr = new Array<number>(nd).fill(0);
  for (let d = 0; d < inShape.length; d++) bstr[d + off] = inShape[d] === 1 ? 0 : inStrides[d]!;
  if (shapeEq(inShape, outShape)) return (o) => o;
  return (o) => {
    let rem = o;
    let idx = 0;
    for (let d = nd - 1; d >= 0; d--) {
      const dim = outShape[d]!;
      idx += (rem % dim) * bstr[d]!;
      rem = Math.floor(rem / dim);
    }
    return idx;
  };
}

/** x broadcast to `shape` (which must be what broadcastShapes(x.shape, shape) gives). */
export function broadcastToShape(x: RefTensor, shape: readonly number[]): RefTensor {
  if (!shapeEq(broadcastShapes(x.shape, shape), shape)) {
    throw new Error(`cannot broadcast ${fmt(x.shape)} to ${fmt(shape)}`);
  }
  const out = refTensor(shape);
  const ix = broadcastIndexer(x.shape, shape);
  for (let o = 0; o < out.data.length; o++) out.data[o] = x.data[ix(o)]!;
  return out;
}

/** Sum g (shaped like a broadcast result) back down to `shape`: the gradient of broadcasting. */
export function reduceToShape(g: RefTensor, shape: readonly number[]): RefTensor {
  if (!shapeEq(broadcastShapes(shape, g.shape), g.shape)) {
    throw new Error(`cannot reduce ${fmt(g.shape)} to ${fmt(shape)}`);
  }
  const out = refTensor(shape);
  const ix = broadcastIndexer(shape, g.shape);
  for (let o = 0; o < g.data.length; o++) out.data[ix(o)]! += g.data[o]!;
  return out;
}

function assertIntegerValued(name: string, t: RefTensor, lo: number, hi: number, allowed?: number): void {
  for (let i = 0; i < t.data.length; i++) {
    const x = t.data[i]!;
    if (x === allowed) continue;
    if (!Number.isInteger(x) || x < lo || x >= hi)
      throw new Error(`${name}: value ${x} at ${i} not an integer in [${lo}, ${hi})`);
  }
}

function assertBinaryMask(name: string, t: RefTensor): void {
  for (let i = 0; i < t.data.length; i++) {
    const x = t.data[i]!;
    if (x !== 0 && x !== 1) throw new Error(`${name}: mask value ${x} at ${i} is not 0 or 1`);
  }
}

// ----------------------------------------------------------------------------------------------
// the op table

/**
 * One differentiable op. Both members are required, so an op added without a backward does not
 * compile. `dout` has out's shape; the result has one entry per input.
 */
export interface RefOpDef<A> {
  forward(inputs: readonly RefTensor[], attrs: A): RefTensor;
  backward(inputs: readonly RefTensor[], attrs: A, out: RefTensor, dout: RefTensor): (RefTensor | null)[];
}

type NoAttrs = Record<string, never>;

export interface ReduceAttrs {
  /** reduce over this axis (negative counts from the end); undefined reduces over everything */
  axis?: number;
  keepdim?: boolean;
}

/** The attributes of every op; the keys of this interface are the op names. */
export interface RefOpAttrs {
  add: NoAttrs;
  sub: NoAttrs;
  mul: NoAttrs;
  div: NoAttrs;
  neg: NoAttrs;
  exp: NoAttrs;
  log: NoAttrs;
  sqrt: NoAttrs;
  tanh: NoAttrs;
  relu: NoAttrs;
  gelu: NoAttrs;
  powScalar: { p: number };
  addScalar: { s: number };
  mulScalar: { s: number };
  sum: ReduceAttrs;
  mean: ReduceAttrs;
  max: ReduceAttrs;
  matmul: NoAttrs;
  /** x [..., C] · W [C, OC] (W [OC, C] with transW) + optional bias [OC], then GELU when set */
  linear: { gelu?: boolean; transW?: boolean };
  softmax: NoAttrs;
  logSoftmax: NoAttrs;
  crossEntropy: { ignoreIndex?: number };
  embedding: NoAttrs;
  /** x [B, T, C] and positions pos [B] (integers in [0, T)) → x[b, pos[b], :] as [B, C] */
  gatherRows: NoAttrs;
  layernorm: { eps?: number };
  /** causal attention of q, k, v [B, NH, T, HS] */
  attention: NoAttrs;
  /** the same with q, k, v stacked in one [3, B, NH, T, HS] */
  attentionPacked: NoAttrs;
  dropout: { p: number };
  concat: { axis: number };
  slice: { axis: number; start: number; end: number };
  maskedFill: { value: number };
  permute: { perm: number[] };
  /** NumPy's transpose: perm defaults to reversing the axes */
  transpose: { perm?: number[] };
  reshape: { shape: number[] };
  broadcastTo: { shape: number[] };
}

export type RefOpName = keyof RefOpAttrs;

/**
 * A mapped type rather than Record<string, ...>, so a missing op is a compile error too. The GPU
 * engine's table (engine/ops.ts OpTable) is keyed by the same names: an op on one side only does
 * not compile.
 */
export type RefOpTable = { readonly [K in RefOpName]: RefOpDef<RefOpAttrs[K]> };

function input(inputs: readonly RefTensor[], i: number, op: string): RefTensor {
  const t = inputs[i];
  if (!t) throw new Error(`${op}: missing input ${i}`);
  return t;
}

function arity(inputs: readonly RefTensor[], n: number, op: string): void {
  if (inputs.length !== n) throw new Error(`${op}: expected ${n} inputs, got ${inputs.length}`);
}

// --- elementwise -------------------------------------------------------------------------------

function unary(name: string, f: (x: number) => number, df: (x: number, y: number) => number): RefOpDef<NoAttrs> {
  return {
    forward(inputs) {
      arity(inputs, 1, name);
      const x = input(inputs, 0, name);
      const out = refTensor(x.shape);
      for (let i = 0; i < out.data.length; i++) out.data[i] = f(x.data[i]!);
      return out;
    },
    backward(inputs, _attrs, out, dout) {
      const x = input(inputs, 0, name);
      const dx = refTensor(x.shape);
      for (let i = 0; i < dx.data.length; i++) dx.data[i] = dout.data[i]! * df(x.data[i]!, out.data[i]!);
      return [dx];
    },
  };
}

function unaryScalar<A>(
  name: string,
  f: (x: number, a: A) => number,
  df: (x: number, y: number, a: A) => number,
): RefOpDef<A> {
  return {
    forward(inputs, attrs) {
      arity(inputs, 1, name);
      const x = input(inputs, 0, name);
      const out = refTensor(x.shape);
      for (let i = 0; i < out.data.length; i++) out.data[i] = f(x.data[i]!, attrs);
      return out;
    },
    backward(inputs, attrs, out, dout) {
      const x = input(inputs, 0, name);
      const dx = refTensor(x.shape);
      for (let i = 0; i < dx.data.length; i++) dx.data[i] = dout.data[i]! * df(x.data[i]!, out.data[i]!, attrs);
      return [dx];
    },
  };
}

/** A broadcasting binary op given f(a, b) and its partial derivatives. */
function binary(
  name: string,
  f: (a: number, b: number) => number,
  dfa: (a: number, b: number) => number,
  dfb: (a: number, b: number) => number,
): RefOpDef<NoAttrs> {
  return {
    forward(inputs) {
      arity(inputs, 2, name);
      const a = input(inputs, 0, name);
      const b = input(inputs, 1, name);
      const shape = broadcastShapes(a.shape, b.shape);
      const out = refTensor(shape);
      const ia = broadcastIndexer(a.shape, shape);
      const ib = broadcastIndexer(b.shape, shape);
      for (let o = 0; o < out.data.length; o++) out.data[o] = f(a.data[ia(o)]!, b.data[ib(o)]!);
      return out;
    },
    backward(inputs, _attrs, out, dout) {
      const a = input(inputs, 0, name);
      const b = input(inputs, 1, name);
      const da = refTensor(a.shape);
      const db = refTensor(b.shape);
      const ia = broadcastIndexer(a.shape, out.shape);
      const ib = broadcastIndexer(b.shape, out.shape);
      for (let o = 0; o < out.data.length; o++) {
        const i = ia(o);
        const j = ib(o);
        const av = a.data[i]!;
        const bv = b.data[j]!;
        const g = dout.data[o]!;
        // += sums over the axes along which a (or b) was broadcast.
        da.data[i]! += g * dfa(av, bv);
        db.data[j]! += g * dfb(av, bv);
      }
      return [da, db];
    },
  };
}

const gelu: RefOpDef<NoAttrs> = {
  forward(inputs) {
    arity(inputs, 1, 'gelu');
    const x = input(inputs, 0, 'gelu');
    const out = refTensor(x.shape);
    geluForward(out.data, x.data, x.data.length);
    return out;
  },
  backward(inputs, _attrs, _out, dout) {
    const x = input(inputs, 0, 'gelu');
    const dx = refTensor(x.shape);
    geluBackward(dx.data, x.data, dout.data, x.data.length);
    return [dx];
  },
};

// --- reductions --------------------------------------------------------------------------------

interface ReduceGeom {
  outer: number;
  n: number;
  inner: number;
  outShape: number[];
}

/** Views x as (outer, n, inner) with n the reduced axis; axis undefined reduces everything. */
function reduceGeom(shape: readonly number[], attrs: ReduceAttrs): ReduceGeom {
  const keep = attrs.keepdim ?? false;
  if (attrs.axis === undefined) {
    return { outer: 1, n: numel(shape), inner: 1, outShape: keep ? shape.map(() => 1) : [] };
  }
  const ax = normAxis(attrs.axis, shape.length);
  const outShape = keep ? shape.map((d, i) => (i === ax ? 1 : d)) : shape.filter((_, i) => i !== ax);
  return {
    outer: numel(shape.slice(0, ax)),
    n: shape[ax]!,
    inner: numel(shape.slice(ax + 1)),
    outShape,
  };
}

function sumOrMean(name: string, isMean: boolean): RefOpDef<ReduceAttrs> {
  return {
    forward(inputs, attrs) {
      arity(inputs, 1, name);
      const x = input(inputs, 0, name);
      const { outer, n, inner, outShape } = reduceGeom(x.shape, attrs);
      const out = refTensor(outShape);
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          let s = 0;
          for (let k = 0; k < n; k++) s += x.data[(o * n + k) * inner + i]!;
          // mean over an empty axis is NaN, as in NumPy.
          out.data[o * inner + i] = isMean ? s / n : s;
        }
      }
      return out;
    },
    backward(inputs, attrs, _out, dout) {
      const x = input(inputs, 0, name);
      const { outer, n, inner } = reduceGeom(x.shape, attrs);
      const dx = refTensor(x.shape);
      const scale = isMean ? 1 / n : 1;
      for (let o = 0; o < outer; o++) {
        for (let i = 0; i < inner; i++) {
          const g = dout.data[o * inner + i]! * scale;
          for (let k = 0; k < n; k++) dx.data[(o * n + k) * inner + i] = g;
        }
      }
      return [dx];
    },
  };
}

/** Index along the reduced axis of the FIRST maximal element (NaN counts as maximal, as in torch). */
function argmaxAlong(x: RefTensor, o: number, i: number, n: number, inner: number): number {
  let best = 0;
  let bestV = x.data[o * n * inner + i]!;
  for (let k = 1; k < n; k++) {
    const v = x.data[(o * n + k) * inner + i]!;
    if (Number.isNaN(bestV)) break;
    if (v > bestV || Number.isNaN(v)) {
      best = k;
      bestV = v;
    }
  }
  return best;
}

const max: RefOpDef<ReduceAttrs> = {
  forward(inputs, attrs) {
    arity(inputs, 1, 'max');
    const x = input(inputs, 0, 'max');
    const { outer, n, inner, outShape } = reduceGeom(x.shape, attrs);
    if (n === 0) throw new Error('max: reduction over an empty axis');
    const out = refTensor(outShape);
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        out.data[o * inner + i] = x.data[(o * n + argmaxAlong(x, o, i, n, inner)) * inner + i]!;
      }
    }
    return out;
  },
  backward(inputs, attrs, _out, dout) {
    const x = input(inputs, 0, 'max');
    const { outer, n, inner } = reduceGeom(x.shape, attrs);
    const dx = refTensor(x.shape);
    // The whole gradient goes to the first maximal element, not split among ties: deterministic,
    // and what a GPU argmax-then-scatter kernel naturally produces.
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        dx.data[(o * n + argmaxAlong(x, o, i, n, inner)) * inner + i] = dout.data[o * inner + i]!;
      }
    }
    return [dx];
  },
};

// --- matmul ------------------------------------------------------------------------------------

interface MatmulGeom {
  M: number;
  K: number;
  N: number;
  /** a and b promoted to >= 2-D, as numpy.matmul does for 1-D operands */
  aShape: number[];
  bShape: number[];
  batchShape: number[];
  /** out's shape with the promoted dims (the ones numpy removes) still present */
  fullOutShape: number[];
  outShape: number[];
}

function matmulGeom(a: readonly number[], b: readonly number[]): MatmulGeom {
  if (a.length === 0 || b.length === 0) throw new Error('matmul: scalar operands are not allowed');
  // numpy.matmul: a 1-D left operand is a row vector, a 1-D right operand a column vector, and the
  // dimension added for the promotion is removed from the result.
  const aShape = a.length === 1 ? [1, a[0]!] : [...a];
  const bShape = b.length === 1 ? [b[0]!, 1] : [...b];
  const M = aShape[aShape.length - 2]!;
  const K = aShape[aShape.length - 1]!;
  const K2 = bShape[bShape.length - 2]!;
  const N = bShape[bShape.length - 1]!;
  if (K !== K2) throw new Error(`matmul: inner dims differ, ${fmt(a)} @ ${fmt(b)}`);
  const batchShape = broadcastShapes(aShape.slice(0, -2), bShape.slice(0, -2));
  const fullOutShape = [...batchShape, M, N];
  const outShape = [...batchShape];
  if (a.length !== 1) outShape.push(M);
  if (b.length !== 1) outShape.push(N);
  return { M, K, N, aShape, bShape, batchShape, fullOutShape, outShape };
}

const matmul: RefOpDef<NoAttrs> = {
  forward(inputs) {
    arity(inputs, 2, 'matmul');
    const a = input(inputs, 0, 'matmul');
    const b = input(inputs, 1, 'matmul');
    const g = matmulGeom(a.shape, b.shape);
    const out = refTensor(g.outShape);
    const nb = numel(g.batchShape);
    const ia = broadcastIndexer(g.aShape.slice(0, -2), g.batchShape);
    const ib = broadcastIndexer(g.bShape.slice(0, -2), g.batchShape);
    const { M, N, K } = g;
    for (let bt = 0; bt < nb; bt++) {
      const ai = ia(bt);
      const bi = ib(bt);
      matmulForward(
        out.data.subarray(bt * M * N, (bt + 1) * M * N),
        a.data.subarray(ai * M * K, (ai + 1) * M * K),
        b.data.subarray(bi * K * N, (bi + 1) * K * N),
        null,
        1,
        M,
        N,
        K,
        false,
        false,
      );
    }
    return out;
  },
  backward(inputs, _attrs, _out, dout) {
    const a = input(inputs, 0, 'matmul');
    const b = input(inputs, 1, 'matmul');
    const g = matmulGeom(a.shape, b.shape);
    const da = refTensor(a.shape);
    const db = refTensor(b.shape);
    const nb = numel(g.batchShape);
    const ia = broadcastIndexer(g.aShape.slice(0, -2), g.batchShape);
    const ib = broadcastIndexer(g.bShape.slice(0, -2), g.batchShape);
    const { M, N, K } = g;
    // A matrix shared by several batches (broadcast leading dims) collects the sum of their
    // gradients: matmulBackward accumulates dB, and each batch's dA (which it overwrites) is
    // added in from a scratch. The 1-D promotion does not change the flat layout.
    const daBatch = new Float64Array(M * K);
    for (let bt = 0; bt < nb; bt++) {
      const ai = ia(bt);
      const bi = ib(bt);
      matmulBackward(
        daBatch,
        db.data.subarray(bi * K * N, (bi + 1) * K * N),
        null,
        dout.data.subarray(bt * M * N, (bt + 1) * M * N),
        a.data.subarray(ai * M * K, (ai + 1) * M * K),
        b.data.subarray(bi * K * N, (bi + 1) * K * N),
        1,
        M,
        N,
        K,
        false,
        false,
      );
      for (let i = 0; i < M * K; i++) da.data[ai * M * K + i]! += daBatch[i]!;
    }
    return [da, db];
  },
};

interface LinearGeom {
  x: RefTensor;
  w: RefTensor;
  bias: RefTensor | null;
  M: number;
  C: number;
  OC: number;
  outShape: number[];
}

function linearGeom(inputs: readonly RefTensor[], transW: boolean): LinearGeom {
  if (inputs.length !== 2 && inputs.length !== 3)
    throw new Error(`linear: expected 2 or 3 inputs, got ${inputs.length}`);
  const x = input(inputs, 0, 'linear');
  const w = input(inputs, 1, 'linear');
  const bias = inputs[2] ?? null;
  const C = x.shape[x.shape.length - 1]!;
  if (w.shape.length !== 2) throw new Error(`linear: weight must be 2-D, got ${fmt(w.shape)}`);
  const [wc, OC] = transW ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
  if (wc !== C)
    throw new Error(`linear: input ${fmt(x.shape)} has ${C} features, weight ${fmt(w.shape)} expects ${wc}`);
  if (bias && !shapeEq(bias.shape, [OC])) throw new Error(`linear: bias must be [${OC}], got ${fmt(bias.shape)}`);
  return { x, w, bias, M: C === 0 ? 0 : x.data.length / C, C, OC, outShape: [...x.shape.slice(0, -1), OC] };
}

/** The pre-activation x·W + bias: llm.c's matmul_forward with M = rows, K = C, N = OC. */
function linearPreact(g: LinearGeom, transW: boolean): RefTensor {
  const pre = refTensor(g.outShape);
  matmulForward(pre.data, g.x.data, g.w.data, g.bias?.data ?? null, 1, g.M, g.OC, g.C, false, transW);
  return pre;
}

const linear: RefOpDef<{ gelu?: boolean; transW?: boolean }> = {
  forward(inputs, attrs) {
    const transW = attrs.transW ?? false;
    const pre = linearPreact(linearGeom(inputs, transW), transW);
    if (!attrs.gelu) return pre;
    const out = refTensor(pre.shape);
    geluForward(out.data, pre.data, pre.data.length);
    return out;
  },
  backward(inputs, attrs, _out, dout) {
    const transW = attrs.transW ?? false;
    const g = linearGeom(inputs, transW);
    let dpre = dout;
    if (attrs.gelu) {
      const pre = linearPreact(g, transW);
      dpre = refTensor(pre.shape);
      geluBackward(dpre.data, pre.data, dout.data, pre.data.length);
    }
    const dx = refTensor(g.x.shape);
    const dw = refTensor(g.w.shape);
    const db = g.bias ? refTensor(g.bias.shape) : null;
    matmulBackward(dx.data, dw.data, db?.data ?? null, dpre.data, g.x.data, g.w.data, 1, g.M, g.OC, g.C, false, transW);
    return db ? [dx, dw, db] : [dx, dw];
  },
};

// --- attention ---------------------------------------------------------------------------------

function attnDims(shape: readonly number[], op: string): [number, number, number, number] {
  if (shape.length !== 4) throw new Error(`${op}: q, k, v must be [B, NH, T, HS], got ${fmt(shape)}`);
  return shape as [number, number, number, number];
}

/** out and lse of causal attention over flat q, k, v of shape [B, NH, T, HS]. */
function attnForward(q: Float64Array, k: Float64Array, v: Float64Array, d: number[]): [Float64Array, Float64Array] {
  const [B, NH, T, HS] = d as [number, number, number, number];
  const out = new Float64Array(B * NH * T * HS);
  const lse = new Float64Array(B * NH * T);
  attentionForward(out, lse, q, k, v, B, NH, T, HS);
  return [out, lse];
}

/** dq, dk, dv written side by side into `dqkv` (3 · B·NH·T·HS), with lse recomputed. */
function attnBackward(
  dqkv: Float64Array,
  dout: Float64Array,
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  d: number[],
): void {
  const [B, NH, T, HS] = d as [number, number, number, number];
  const n = B * NH * T * HS;
  const [out, lse] = attnForward(q, k, v, d);
  const [dq, dk, dv] = [0, 1, 2].map((i) => dqkv.subarray(i * n, (i + 1) * n)) as [
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  attentionBackward(dq, dk, dv, dout, q, k, v, out, lse, B, NH, T, HS);
}

const attention: RefOpDef<NoAttrs> = {
  forward(inputs) {
    arity(inputs, 3, 'attention');
    const [q, k, v] = [0, 1, 2].map((i) => input(inputs, i, 'attention')) as [RefTensor, RefTensor, RefTensor];
    const d = attnDims(q.shape, 'attention');
    if (!shapeEq(k.shape, d) || !shapeEq(v.shape, d)) throw new Error(`attention: k, v must match q ${fmt(d)}`);
    return refTensor(d, attnForward(q.data, k.data, v.data, d)[0]);
  },
  backward(inputs, _attrs, _out, dout) {
    const [q, k, v] = [0, 1, 2].map((i) => input(inputs, i, 'attention')) as [RefTensor, RefTensor, RefTensor];
    const d = attnDims(q.shape, 'attention');
    const n = q.data.length;
    const dqkv = new Float64Array(3 * n);
    attnBackward(dqkv, dout.data, q.data, k.data, v.data, d);
    return [0, 1, 2].map((i) => refTensor(d, dqkv.subarray(i * n, (i + 1) * n)));
  },
};

function packedThirds(qkv: RefTensor): { d: number[]; q: Float64Array; k: Float64Array; v: Float64Array } {
  if (qkv.shape.length !== 5 || qkv.shape[0] !== 3)
    throw new Error(`attentionPacked: qkv must be [3, B, NH, T, HS], got ${fmt(qkv.shape)}`);
  const n = qkv.data.length / 3;
  const [q, k, v] = [0, 1, 2].map((i) => qkv.data.subarray(i * n, (i + 1) * n)) as [
    Float64Array,
    Float64Array,
    Float64Array,
  ];
  return { d: qkv.shape.slice(1), q, k, v };
}

const attentionPacked: RefOpDef<NoAttrs> = {
  forward(inputs) {
    arity(inputs, 1, 'attentionPacked');
    const { d, q, k, v } = packedThirds(input(inputs, 0, 'attentionPacked'));
    return refTensor(d, attnForward(q, k, v, d)[0]);
  },
  backward(inputs, _attrs, _out, dout) {
    const qkv = input(inputs, 0, 'attentionPacked');
    const { d, q, k, v } = packedThirds(qkv);
    const dqkv = refTensor(qkv.shape);
    attnBackward(dqkv.data, dout.data, q, k, v, d);
    return [dqkv];
  },
};

// --- softmax family ----------------------------------------------------------------------------

function lastAxis(x: RefTensor, op: string): { N: number; C: number } {
  if (x.shape.length === 0) throw new Error(`${op}: needs at least 1 dimension`);
  const C = x.shape[x.shape.length - 1]!;
  return { N: C === 0 ? 0 : x.data.length / C, C };
}

function rowwise(
  name: string,
  fwd: (out: Float64Array, inp: Float64Array, N: number, C: number) => void,
  bwd: (dinp: Float64Array, dout: Float64Array, out: Float64Array, N: number, C: number) => void,
): RefOpDef<NoAttrs> {
  return {
    forward(inputs) {
      arity(inputs, 1, name);
      const x = input(inputs, 0, name);
      const { N, C } = lastAxis(x, name);
      const out = refTensor(x.shape);
      fwd(out.data, x.data, N, C);
      return out;
    },
    backward(inputs, _attrs, out, dout) {
      const x = input(inputs, 0, name);
      const { N, C } = lastAxis(x, name);
      const dx = refTensor(x.shape);
      bwd(dx.data, dout.data, out.data, N, C);
      return [dx];
    },
  };
}

function ceTargets(logits: RefTensor, targets: RefTensor, ignoreIndex: number): Int32Array {
  if (logits.shape.length !== 2) throw new Error(`crossEntropy: logits must be [N, V], got ${fmt(logits.shape)}`);
  const [N, V] = logits.shape as [number, number];
  if (!shapeEq(targets.shape, [N])) throw new Error(`crossEntropy: targets must be [${N}], got ${fmt(targets.shape)}`);
  assertIntegerValued('crossEntropy targets', targets, 0, V, ignoreIndex);
  return Int32Array.from(targets.data);
}

const crossEntropy: RefOpDef<{ ignoreIndex?: number }> = {
  forward(inputs, attrs) {
    arity(inputs, 2, 'crossEntropy');
    const logits = input(inputs, 0, 'crossEntropy');
    const ignoreIndex = attrs.ignoreIndex ?? -1;
    const tg = ceTargets(logits, input(inputs, 1, 'crossEntropy'), ignoreIndex);
    const [N, V] = logits.shape as [number, number];
    const losses = new Float64Array(N);
    return refScalar(crossEntropyForward(losses, logits.data, tg, N, V, V, ignoreIndex));
  },
  backward(inputs, attrs, _out, dout) {
    const logits = input(inputs, 0, 'crossEntropy');
    const ignoreIndex = attrs.ignoreIndex ?? -1;
    const tg = ceTargets(logits, input(inputs, 1, 'crossEntropy'), ignoreIndex);
    const [N, V] = logits.shape as [number, number];
    const dlogits = refTensor(logits.shape);
    crossEntropyBackward(dlogits.data, logits.data, tg, N, V, V, ignoreIndex, dout.data[0]!);
    return [dlogits, null];
  },
};

// --- embedding / layernorm / dropout -----------------------------------------------------------

const embedding: RefOpDef<NoAttrs> = {
  forward(inputs) {
    arity(inputs, 2, 'embedding');
    const w = input(inputs, 0, 'embedding');
    const ids = input(inputs, 1, 'embedding');
    if (w.shape.length !== 2) throw new Error(`embedding: weight must be [V, C], got ${fmt(w.shape)}`);
    const [V, C] = w.shape as [number, number];
    assertIntegerValued('embedding ids', ids, 0, V);
    const out = refTensor([...ids.shape, C]);
    for (let i = 0; i < ids.data.length; i++) {
      const id = ids.data[i]!;
      for (let c = 0; c < C; c++) out.data[i * C + c] = w.data[id * C + c]!;
    }
    return out;
  },
  backward(inputs, _attrs, _out, dout) {
    const w = input(inputs, 0, 'embedding');
    const ids = input(inputs, 1, 'embedding');
    const C = w.shape[1]!;
    const dw = refTensor(w.shape);
    // Scatter-add: repeated ids sum their rows.
    for (let i = 0; i < ids.data.length; i++) {
      const id = ids.data[i]!;
      for (let c = 0; c < C; c++) dw.data[id * C + c]! += dout.data[i * C + c]!;
    }
    return [dw, null];
  },
};

// One row per sequence (a classifier reads the last real token's hidden state); the backward
// scatters each row back to its position, zero elsewhere.
function gatherDims(inputs: readonly RefTensor[]): { x: RefTensor; pos: RefTensor; B: number; T: number; C: number } {
  arity(inputs, 2, 'gatherRows');
  const x = input(inputs, 0, 'gatherRows');
  const pos = input(inputs, 1, 'gatherRows');
  if (x.shape.length !== 3) throw new Error(`gatherRows: x must be [B, T, C], got ${fmt(x.shape)}`);
  const [B, T, C] = x.shape as [number, number, number];
  if (!shapeEq(pos.shape, [B])) throw new Error(`gatherRows: pos must be [${B}], got ${fmt(pos.shape)}`);
  assertIntegerValued('gatherRows positions', pos, 0, T);
  return { x, pos, B, T, C };
}

const gatherRows: RefOpDef<NoAttrs> = {
  forward(inputs) {
    const { x, pos, B, T, C } = gatherDims(inputs);
    const out = refTensor([B, C]);
    for (let b = 0; b < B; b++) {
      const row = (b * T + pos.data[b]!) * C;
      for (let c = 0; c < C; c++) out.data[b * C + c] = x.data[row + c]!;
    }
    return out;
  },
  backward(inputs, _attrs, _out, dout) {
    const { x, pos, B, T, C } = gatherDims(inputs);
    const dx = refTensor(x.shape);
    for (let b = 0; b < B; b++) {
      const row = (b * T + pos.data[b]!) * C;
      for (let c = 0; c < C; c++) dx.data[row + c] = dout.data[b * C + c]!;
    }
    return [dx, null];
  },
};

function lnDims(x: RefTensor, w: RefTensor, b: RefTensor): { N: number; C: number } {
  const { N, C } = lastAxis(x, 'layernorm');
  if (!shapeEq(w.shape, [C]) || !shapeEq(b.shape, [C])) {
    throw new Error(`layernorm: weight/bias must be [${C}], got ${fmt(w.shape)}, ${fmt(b.shape)}`);
  }
  return { N, C };
}

const layernorm: RefOpDef<{ eps?: number }> = {
  forward(inputs, attrs) {
    arity(inputs, 3, 'layernorm');
    const x = input(inputs, 0, 'layernorm');
    const w = input(inputs, 1, 'layernorm');
    const b = input(inputs, 2, 'layernorm');
    const { N, C } = lnDims(x, w, b);
    const out = refTensor(x.shape);
    layernormForward(
      out.data,
      new Float64Array(N),
      new Float64Array(N),
      x.data,
      w.data,
      b.data,
      N,
      C,
      attrs.eps ?? 1e-5,
    );
    return out;
  },
  backward(inputs, attrs, _out, dout) {
    const x = input(inputs, 0, 'layernorm');
    const w = input(inputs, 1, 'layernorm');
    const b = input(inputs, 2, 'layernorm');
    const { N, C } = lnDims(x, w, b);
    // The op interface does not carry saved statistics, so recompute mean/rstd.
    const mean = new Float64Array(N);
    const rstd = new Float64Array(N);
    layernormForward(new Float64Array(N * C), mean, rstd, x.data, w.data, b.data, N, C, attrs.eps ?? 1e-5);
    const dx = refTensor(x.shape);
    const dw = refTensor(w.shape);
    const db = refTensor(b.shape);
    layernormBackward(dx.data, dw.data, db.data, dout.data, x.data, w.data, mean, rstd, N, C);
    return [dx, dw, db];
  },
};

function dropoutScale(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: p=${p} outside [0, 1]`);
  // p = 1 drops everything; PyTorch returns zeros rather than 0 * Inf = NaN.
  return p === 1 ? 0 : 1 / (1 - p);
}

const dropout: RefOpDef<{ p: number }> = {
  forward(inputs, attrs) {
    arity(inputs, 2, 'dropout');
    const x = input(inputs, 0, 'dropout');
    const mask = input(inputs, 1, 'dropout');
    if (!shapeEq(x.shape, mask.shape)) throw new Error(`dropout: mask ${fmt(mask.shape)} != x ${fmt(x.shape)}`);
    assertBinaryMask('dropout', mask);
    const s = dropoutScale(attrs.p);
    const out = refTensor(x.shape);
    for (let i = 0; i < out.data.length; i++) out.data[i] = x.data[i]! * mask.data[i]! * s;
    return out;
  },
  backward(inputs, attrs, _out, dout) {
    const x = input(inputs, 0, 'dropout');
    const mask = input(inputs, 1, 'dropout');
    const s = dropoutScale(attrs.p);
    const dx = refTensor(x.shape);
    for (let i = 0; i < dx.data.length; i++) dx.data[i] = dout.data[i]! * mask.data[i]! * s;
    return [dx, null];
  },
};

// --- shape ops ---------------------------------------------------------------------------------

/** Copies x[..., start:end, ...] (along axis) into / out of a larger tensor; the core of slice and concat. */
function copyAlongAxis(
  src: RefTensor,
  dst: RefTensor,
  axis: number,
  srcStart: number,
  dstStart: number,
  len: number,
  accumulate: boolean,
): void {
  const outer = numel(src.shape.slice(0, axis));
  const inner = numel(src.shape.slice(axis + 1));
  const sn = src.shape[axis]!;
  const dn = dst.shape[axis]!;
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < len; k++) {
      const si = (o * sn + srcStart + k) * inner;
      const di = (o * dn + dstStart + k) * inner;
      for (let i = 0; i < inner; i++) {
        if (accumulate) dst.data[di + i]! += src.data[si + i]!;
        else dst.data[di + i] = src.data[si + i]!;
      }
    }
  }
}

function sliceBounds(shape: readonly number[], attrs: { axis: number; start: number; end: number }) {
  const axis = normAxis(attrs.axis, shape.length);
  const dim = shape[axis]!;
  // Negative bounds count from the end, as in Python; anything else out of range is an error
  // rather than silently clamped, so that an engine bug shows up here.
  const start = attrs.start < 0 ? attrs.start + dim : attrs.start;
  const end = attrs.end < 0 ? attrs.end + dim : attrs.end;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > dim || start > end) {
    throw new Error(`slice: [${attrs.start}, ${attrs.end}) invalid for axis ${attrs.axis} of ${fmt(shape)}`);
  }
  return { axis, start, end };
}

const slice: RefOpDef<{ axis: number; start: number; end: number }> = {
  forward(inputs, attrs) {
    arity(inputs, 1, 'slice');
    const x = input(inputs, 0, 'slice');
    const { axis, start, end } = sliceBounds(x.shape, attrs);
    const out = refTensor(x.shape.map((d, i) => (i === axis ? end - start : d)));
    copyAlongAxis(x, out, axis, start, 0, end - start, false);
    return out;
  },
  backward(inputs, attrs, _out, dout) {
    const x = input(inputs, 0, 'slice');
    const { axis, start, end } = sliceBounds(x.shape, attrs);
    const dx = refTensor(x.shape);
    copyAlongAxis(dout, dx, axis, 0, start, end - start, false);
    return [dx];
  },
};

function concatGeom(inputs: readonly RefTensor[], axisAttr: number): { axis: number; shape: number[] } {
  const first = input(inputs, 0, 'concat');
  const axis = normAxis(axisAttr, first.shape.length);
  let total = 0;
  for (const t of inputs) {
    const ok = t.shape.length === first.shape.length && t.shape.every((d, i) => i === axis || d === first.shape[i]);
    if (!ok) throw new Error(`concat: shapes ${inputs.map((u) => fmt(u.shape)).join(', ')} differ off axis ${axis}`);
    total += t.shape[axis]!;
  }
  return { axis, shape: first.shape.map((d, i) => (i === axis ? total : d)) };
}

const concat: RefOpDef<{ axis: number }> = {
  forward(inputs, attrs) {
    const { axis, shape } = concatGeom(inputs, attrs.axis);
    const out = refTensor(shape);
    let pos = 0;
    for (const t of inputs) {
      copyAlongAxis(t, out, axis, 0, pos, t.shape[axis]!, false);
      pos += t.shape[axis]!;
    }
    return out;
  },
  backward(inputs, attrs, _out, dout) {
    const { axis } = concatGeom(inputs, attrs.axis);
    let pos = 0;
    return inputs.map((t) => {
      const n = t.shape[axis]!;
      const dx = refTensor(t.shape);
      copyAlongAxis(dout, dx, axis, pos, 0, n, false);
      pos += n;
      return dx;
    });
  },
};

const maskedFill: RefOpDef<{ value: number }> = {
  forward(inputs, attrs) {
    arity(inputs, 2, 'maskedFill');
    const x = input(inputs, 0, 'maskedFill');
    const mask = input(inputs, 1, 'maskedFill');
    // The mask broadcasts to x, never the other way: the output always has x's shape.
    if (!shapeEq(broadcastShapes(x.shape, mask.shape), x.shape)) {
      throw new Error(`maskedFill: mask ${fmt(mask.shape)} does not broadcast to x ${fmt(x.shape)}`);
    }
    assertBinaryMask('maskedFill', mask);
    const im = broadcastIndexer(mask.shape, x.shape);
    const out = refTensor(x.shape);
    for (let o = 0; o < out.data.length; o++) out.data[o] = mask.data[im(o)] === 1 ? attrs.value : x.data[o]!;
    return out;
  },
  backward(inputs, _attrs, _out, dout) {
    const x = input(inputs, 0, 'maskedFill');
    const mask = input(inputs, 1, 'maskedFill');
    const im = broadcastIndexer(mask.shape, x.shape);
    const dx = refTensor(x.shape);
    for (let o = 0; o < dx.data.length; o++) dx.data[o] = mask.data[im(o)] === 1 ? 0 : dout.data[o]!;
    return [dx, null];
  },
};

function checkPerm(perm: readonly number[], ndim: number): void {
  const seen = new Set(perm);
  if (perm.length !== ndim || seen.size !== ndim || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= ndim)) {
    throw new Error(`permute: [${perm.join(', ')}] is not a permutation of ${ndim} axes`);
  }
}

/** out.shape[i] = x.shape[perm[i]] */
export function permuteTensor(x: RefTensor, perm: readonly number[]): RefTensor {
  const nd = x.shape.length;
  checkPerm(perm, nd);
  const outShape = perm.map((p) => x.shape[p]!);
  const inStrides = stridesOf(x.shape);
  const strides = perm.map((p) => inStrides[p]!);
  const out = refTensor(outShape);
  for (let o = 0; o < out.data.length; o++) {
    let rem = o;
    let idx = 0;
    for (let d = nd - 1; d >= 0; d--) {
      const dim = outShape[d]!;
      idx += (rem % dim) * strides[d]!;
      rem = Math.floor(rem / dim);
    }
    out.data[o] = x.data[idx]!;
  }
  return out;
}

function inversePerm(perm: readonly number[]): number[] {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
}

function permuteOp<A>(name: string, permOf: (ndim: number, attrs: A) => number[]): RefOpDef<A> {
  return {
    forward(inputs, attrs) {
      arity(inputs, 1, name);
      const x = input(inputs, 0, name);
      return permuteTensor(x, permOf(x.shape.length, attrs));
    },
    backward(inputs, attrs, _out, dout) {
      const x = input(inputs, 0, name);
      return [permuteTensor(dout, inversePerm(permOf(x.shape.length, attrs)))];
    },
  };
}

/** Resolves a single -1 in a reshape target, as NumPy does. */
export function resolveShape(target: readonly number[], n: number): number[] {
  const neg = target.filter((d) => d === -1).length;
  if (neg > 1) throw new Error(`reshape: more than one -1 in ${fmt(target)}`);
  const known = numel(target.filter((d) => d !== -1));
  const shape = target.map((d) => (d === -1 ? (known === 0 ? 0 : n / known) : d));
  assertShape(shape);
  if (numel(shape) !== n) throw new Error(`reshape: ${fmt(target)} incompatible with ${n} elements`);
  return shape;
}

const reshape: RefOpDef<{ shape: number[] }> = {
  forward(inputs, attrs) {
    arity(inputs, 1, 'reshape');
    const x = input(inputs, 0, 'reshape');
    return refTensor(resolveShape(attrs.shape, x.data.length), x.data);
  },
  backward(inputs, _attrs, _out, dout) {
    const x = input(inputs, 0, 'reshape');
    return [refTensor(x.shape, dout.data)];
  },
};

const broadcastTo: RefOpDef<{ shape: number[] }> = {
  forward(inputs, attrs) {
    arity(inputs, 1, 'broadcastTo');
    return broadcastToShape(input(inputs, 0, 'broadcastTo'), attrs.shape);
  },
  backward(inputs, _attrs, _out, dout) {
    return [reduceToShape(dout, input(inputs, 0, 'broadcastTo').shape)];
  },
};

// --- the table ---------------------------------------------------------------------------------

export const refOps: RefOpTable = {
  add: binary(
    'add',
    (a, b) => a + b,
    () => 1,
    () => 1,
  ),
  sub: binary(
    'sub',
    (a, b) => a - b,
    () => 1,
    () => -1,
  ),
  mul: binary(
    'mul',
    (a, b) => a * b,
    (_a, b) => b,
    (a) => a,
  ),
  div: binary(
    'div',
    (a, b) => a / b,
    (_a, b) => 1 / b,
    (a, b) => -a / (b * b),
  ),
  neg: unary(
    'neg',
    (x) => -x,
    () => -1,
  ),
  exp: unary('exp', Math.exp, (_x, y) => y),
  log: unary('log', Math.log, (x) => 1 / x),
  sqrt: unary('sqrt', Math.sqrt, (_x, y) => 0.5 / y),
  tanh: unary('tanh', Math.tanh, (_x, y) => 1 - y * y),
  // The subgradient at 0 is taken as 0, as in PyTorch.
  relu: unary(
    'relu',
    (x) => (x > 0 ? x : 0),
    (x) => (x > 0 ? 1 : 0),
  ),
  gelu,
  powScalar: unaryScalar<{ p: number }>(
    'powScalar',
    (x, { p }) => Math.pow(x, p),
    // p = 0 is special-cased: 0 * x^-1 would be NaN at x = 0, but x^0 is constant.
    (x, _y, { p }) => (p === 0 ? 0 : p * Math.pow(x, p - 1)),
  ),
  addScalar: unaryScalar<{ s: number }>(
    'addScalar',
    (x, { s }) => x + s,
    () => 1,
  ),
  mulScalar: unaryScalar<{ s: number }>(
    'mulScalar',
    (x, { s }) => x * s,
    (_x, _y, { s }) => s,
  ),
  sum: sumOrMean('sum', false),
  mean: sumOrMean('mean', true),
  max,
  matmul,
  linear,
  softmax: rowwise('softmax', softmaxForward, softmaxBackward),
  logSoftmax: rowwise('logSoftmax', logSoftmaxForward, logSoftmaxBackward),
  crossEntropy,
  embedding,
  gatherRows,
  layernorm,
  attention,
  attentionPacked,
  dropout,
  concat,
  slice,
  maskedFill,
  permute: permuteOp<{ perm: number[] }>('permute', (_nd, { perm }) => perm),
  transpose: permuteOp<{ perm?: number[] }>(
    'transpose',
    (nd, { perm }) => perm ?? Array.from({ length: nd }, (_, i) => nd - 1 - i),
  ),
  reshape,
  broadcastTo,
};

export const refOpNames = Object.keys(refOps) as RefOpName[];

/** Typed dispatch: checks attrs against the op's attribute type. */
export function refForward<K extends RefOpName>(op: K, inputs: readonly RefTensor[], attrs: RefOpAttrs[K]): RefTensor {
  return (refOps[op] as RefOpDef<RefOpAttrs[K]>).forward(inputs, attrs);
}

export function refBackward<K extends RefOpName>(
  op: K,
  inputs: readonly RefTensor[],
  attrs: RefOpAttrs[K],
  out: RefTensor,
  dout: RefTensor,
): (RefTensor | null)[] {
  return (refOps[op] as RefOpDef<RefOpAttrs[K]>).backward(inputs, attrs, out, dout);
}

// --- split, built from slice -------------------------------------------------------------------
// split is not a table op: a multi-output op would complicate every consumer of the table for one
// op, while split is exactly a run of slices and its gradient the concat of their gradients.

/** Splits x along axis into pieces of the given sizes (which must sum to the axis length). */
export function refSplit(x: RefTensor, axis: number, sizes: readonly number[]): RefTensor[] {
  const ax = normAxis(axis, x.shape.length);
  const total = sizes.reduce((s, n) => s + n, 0);
  if (total !== x.shape[ax]) throw new Error(`split: sizes [${sizes.join(', ')}] do not sum to ${x.shape[ax]}`);
  let pos = 0;
  return sizes.map((n) => {
    const piece = refOps.slice.forward([x], { axis: ax, start: pos, end: pos + n });
    pos += n;
    return piece;
  });
}

/** Gradient of refSplit w.r.t. x; a null entry means that piece received no gradient (zeros). */
export function refSplitBackward(
  x: RefTensor,
  axis: number,
  sizes: readonly number[],
  douts: readonly (RefTensor | null)[],
): RefTensor {
  const ax = normAxis(axis, x.shape.length);
  if (douts.length !== sizes.length) throw new Error('split: one dout per piece');
  const dx = refTensor(x.shape);
  let pos = 0;
  sizes.forEach((n, i) => {
    const d = douts[i];
    if (d) copyAlongAxis(d, dx, ax, 0, pos, n, true);
    pos += n;
  });
  return dx;
}
