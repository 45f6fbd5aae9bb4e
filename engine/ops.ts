// Every differentiable op, each defined in one place by `defineOp`: the checks that turn the
// public arguments into tape inputs and attributes (and throw errors that name the op), the
// forward, and the backward right under it. `defineOp` returns the public function itself, so the
// checks, the table entry and the export cannot drift apart.
//
// Forward functions record kernels (kernels/*.ts) and return a new tensor. Backward functions run
// with the tape off; the simple ones are written with the public ops (so they read like their
// math), the fused ones (matmul, linear, softmax, layernorm, attention, ...) call the kernels'
// backward launchers directly. Backwards return fresh gradients; autograd.ts sums them.
import * as ew from '../kernels/elementwise.ts';
import { stridedCopy } from '../kernels/copy.ts';
import { reduce, maxBackward } from '../kernels/reduce.ts';
import { dropout as dropoutKernel } from '../kernels/dropout.ts';
import { matmul as matmulKernel } from '../kernels/matmul.ts';
import { softmaxForward, softmaxBackward } from '../kernels/softmax.ts';
import { layernormForward, layernormBackward } from '../kernels/layernorm.ts';
import { crossEntropyForward, crossEntropyBackward } from '../kernels/crossentropy.ts';
import { embeddingForward, embeddingBackward } from '../kernels/embedding.ts';
import { geluForward, geluBackward } from '../kernels/gelu.ts';
import { attentionForward, attentionBackward } from '../kernels/attention.ts';
import type { BufferRef } from '../kernels/gpu/runtime.ts';
import type { RefOpName } from './reference.ts';
import { empty, fmtShape, isGradEnabled, keep, noGrad, runtime, shapeSize, Tensor, type Shape } from './tensor.ts';

// ---- op definitions --------------------------------------------------------------------------

type Inputs = readonly (Tensor | undefined)[];
type Grads = (Tensor | null)[];

/** One differentiable op. `save` hands a tensor made in forward to the tape for backward. */
export interface OpDef<I extends Inputs, A> {
  forward(inputs: I, attrs: A, save: (t: Tensor) => void): Tensor;
  backward(dout: Tensor, inputs: I, attrs: A, saved: readonly Tensor[], out: Tensor): Grads;
}

/** What an op's check hands to the tape: its tensor inputs and its attributes. */
export interface OpCall<I extends Inputs, A> {
  inputs: I;
  attrs: A;
}

/**
 * An op as written: `check` validates the public arguments and returns the tape's inputs and
 * attributes, or, for a case another op already covers (a no-op reshape, a fallback), that
 * op's result.
 */
export interface OpSpec<P extends unknown[], I extends Inputs, A> extends OpDef<I, A> {
  check(...args: P): OpCall<I, A> | Tensor;
}

/** The public function of an op, carrying its tape name and definition. */
export type Op<K extends string, P extends unknown[], I extends Inputs, A> = ((...args: P) => Tensor) & {
  readonly opName: K;
  readonly def: OpDef<I, A>;
};

function apply<I extends Inputs, A>(name: string, def: OpDef<I, A>, inputs: I, attrs: A): Tensor {
  // Optional trailing inputs (a bias, positions) are absent, not undefined: the array is shorter.
  const present = inputs as unknown as readonly Tensor[];
  for (const t of present) t.storageFor(name);
  const saved: Tensor[] = [];
  const out = noGrad(() => def.forward(inputs, attrs, (t) => saved.push(keep(t))));
  if (isGradEnabled() && present.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.node = { op: name, inputs: present, saved, backward: (dout) => def.backward(dout, inputs, attrs, saved, out) };
  } else {
    for (const s of saved) s.dispose();
  }
  return out;
}

/**
 * The names of the ops: those of the float64 reference (engine/reference.ts RefOpAttrs), so that a
 * GPU op without a reference, or a reference without a GPU op, does not compile (see OpTable).
 */
export type OpName = RefOpName;

/** Defines an op and returns its public function: check, then forward on the tape. */
export function defineOp<K extends OpName, P extends unknown[], I extends Inputs, A>(
  name: K,
  spec: OpSpec<P, I, A>,
): Op<K, P, I, A> {
  const op = (...args: P): Tensor => {
    // A disposed argument is reported as such before any check reads its shape.
    for (const a of args) if (a instanceof Tensor) a.storageFor(name);
    const c = spec.check(...args);
    return c instanceof Tensor ? c : apply(name, spec, c.inputs, c.attrs);
  };
  return Object.assign(op, { opName: name, def: spec });
}

// ---- shape helpers ---------------------------------------------------------------------------

function contiguousStrides(shape: Shape): number[] {
  const st = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    st[d] = s;
    s *= shape[d]!;
  }
  return st;
}

export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const r = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < r; i++) {
    const da = a[a.length - r + i] ?? 1;
    const db = b[b.length - r + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(
        `${op}: shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`,
      );
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Strides of `shape` read as `outShape` under broadcasting (0 on broadcast dimensions). */
function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const st = contiguousStrides(shape);
  const lead = outShape.length - shape.length;
  return outShape.map((_, d) => (d < lead || shape[d - lead] === 1 ? 0 : st[d - lead]!));
}

/** Merges dimensions that every stride set walks contiguously, so ranks stay within the kernel's 6. */
function collapse(shape: Shape, strides: number[][]): { shape: number[]; strides: number[][] } {
  const outShape: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < shape.length; d++) {
    const n = shape[d]!;
    if (n === 1 && shape.length > 1) continue;
    const last = outShape.length - 1;
    if (last >= 0 && strides.every((st, k) => st[d]! * n === outStrides[k]![last])) {
      outShape[last] = outShape[last]! * n;
      strides.forEach((st, k) => (outStrides[k]![last] = st[d]!));
    } else {
      outShape.push(n);
      strides.forEach((st, k) => outStrides[k]!.push(st[d]!));
    }
  }
  if (outShape.length === 0) return { shape: [1], strides: strides.map(() => [0]) };
  return { shape: outShape, strides: outStrides };
}

function assertF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) if (t.dtype !== 'f32') throw new Error(`${op}: expected an f32 tensor, got ${t.describe()}`);
}

function assertInt(op: string, t: Tensor): void {
  if (t.dtype === 'f32') throw new Error(`${op}: expected an i32 or u32 index tensor, got ${t.describe()}`);
}

function normAxis(op: string, axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw new Error(`${op}: axis ${axis} is out of range for a tensor of rank ${rank}`);
  return a;
}

// ---- kernel-level helpers (no tape) ----------------------------------------------------------

function kUnary(op: ew.UnaryOp, x: Tensor, scalar = 0): Tensor {
  const out = empty(x.shape);
  ew.unary(runtime(), op, { out: out.ref(), inp: x.ref() }, { n: x.size, scalar });
  return out;
}

function kBinary(op: ew.BinaryOp, a: Tensor, b: Tensor, value = 0, name: string = op): Tensor {
  const shape = broadcastShapes(name, a.shape, b.shape);
  const out = empty(shape);
  if (out.size === 0) return out;
  const c = collapse(shape, [broadcastStrides(a.shape, shape), broadcastStrides(b.shape, shape)]);
  if (c.shape.length > ew.MAX_RANK)
    throw new Error(
      `${name}: broadcasting ${fmtShape(a.shape)} with ${fmtShape(b.shape)} needs more than ${ew.MAX_RANK} dimensions`,
    );
  ew.binary(
    runtime(),
    op,
    { out: out.ref(), a: a.ref(), b: b.ref() },
    { shape: c.shape, sa: c.strides[0]!, sb: c.strides[1]!, value },
  );
  return out;
}

/** Copies x (read through `strides` from `offset`) into a new contiguous tensor of `shape`. */
function kGather(x: Tensor, shape: Shape, strides: number[], offset = 0): Tensor {
  const out = empty(shape, x.dtype);
  if (out.size === 0) return out;
  const c = collapse(shape, [strides, contiguousStrides(shape)]);
  stridedCopy(
    runtime(),
    { out: out.ref(), inp: x.ref() },
    { shape: c.shape, si: c.strides[0]!, so: c.strides[1]!, inOffset: offset },
  );
  return out;
}

export function zerosLike(shape: Shape): Tensor {
  const out = empty(shape);
  if (out.size > 0) ew.fill(runtime(), { out: out.ref() }, { n: out.size, value: 0 });
  return out;
}

/** The reduction of x viewed as [outer, R, inner] over R, returned with shape `outShape`. */
function kReduce(
  op: 'sum' | 'max',
  x: Tensor,
  d: { outer: number; R: number; inner: number; scale?: number; outShape: Shape },
): { out: Tensor; arg: Tensor | null } {
  const out = empty(d.outShape);
  const arg = op === 'max' ? empty(d.outShape, 'u32') : empty([1], 'u32', 'scratch');
  reduce(
    runtime(),
    op,
    { out: out.ref(), inp: x.ref(), arg: arg.ref() },
    { outer: d.outer, R: d.R, inner: d.inner, scale: d.scale ?? 1 },
  );
  if (op === 'sum') {
    arg.dispose();
    return { out, arg: null };
  }
  return { out, arg };
}

/** Sum over axis `axis` (keepdim shape). */
function kSum(x: Tensor, axis: number): Tensor {
  const outer = shapeSize(x.shape.slice(0, axis));
  const inner = shapeSize(x.shape.slice(axis + 1));
  const outShape = x.shape.map((d, i) => (i === axis ? 1 : d));
  return kReduce('sum', x, { outer, R: x.shape[axis]!, inner, outShape }).out;
}

/** Sums g over the axes that broadcasting expanded, giving a tensor of `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) return g;
  return noGrad(() => {
    const lead = g.shape.length - shape.length;
    let cur = g;
    // Leading axes fold into one: [prod(lead), ...rest] summed over axis 0.
    if (lead > 0) {
      const rest = g.shape.slice(lead);
      const v = cur.view([shapeSize(g.shape.slice(0, lead)), ...rest]);
      cur = kSum(v, 0).view(rest);
      v.dispose();
    }
    for (let d = 0; d < shape.length; d++) {
      if (shape[d] === 1 && cur.shape[d] !== 1) {
        const next = kSum(cur, d);
        if (cur !== g) cur.dispose();
        cur = next;
      }
    }
    return cur;
  });
}

// ---- elementwise -----------------------------------------------------------------------------

type T1 = readonly [Tensor];
type T2 = readonly [Tensor, Tensor];
type T3 = readonly [Tensor, Tensor, Tensor];

function binaryCheck(name: string) {
  return (a: Tensor, b: Tensor): OpCall<T2, Record<string, never>> => {
    assertF32(name, a, b);
    return { inputs: [a, b], attrs: {} };
  };
}

export const add = defineOp('add', {
  check: binaryCheck('add'),
  forward: ([a, b]) => kBinary('add', a, b),
  backward: (g, [a, b]) => [sumTo(g, a.shape), sumTo(g, b.shape)],
});

export const sub = defineOp('sub', {
  check: binaryCheck('sub'),
  forward: ([a, b]) => kBinary('sub', a, b),
  backward: (g, [a, b]): Grads => [sumTo(g, a.shape), sumTo(neg(g), b.shape)],
});

export const mul = defineOp('mul', {
  check: binaryCheck('mul'),
  forward: ([a, b]) => kBinary('mul', a, b),
  backward: (g, [a, b]): Grads => [
    a.requiresGrad ? sumTo(mul(g, b), a.shape) : null,
    b.requiresGrad ? sumTo(mul(g, a), b.shape) : null,
  ],
});

export const div = defineOp('div', {
  check: binaryCheck('div'),
  forward: ([a, b]) => kBinary('div', a, b),
  // d(a/b)/db = -a/b² = -out/b
  backward: (g, [a, b], _attrs, _saved, out): Grads => [
    a.requiresGrad ? sumTo(div(g, b), a.shape) : null,
    b.requiresGrad ? sumTo(neg(div(mul(g, out), b)), b.shape) : null,
  ],
});

type UnaryGrad = (g: Tensor, x: Tensor, out: Tensor, s: number) => Tensor;

/** An elementwise op of one tensor, run by the unary kernel's `op`. */
function unaryOp<K extends OpName>(name: K, op: ew.UnaryOp, grad: UnaryGrad) {
  return defineOp(name, {
    check: (x: Tensor): OpCall<T1, { s: number }> => (assertF32(name, x), { inputs: [x], attrs: { s: 0 } }),
    forward: ([x], { s }) => kUnary(op, x, s),
    backward: (g, [x], { s }, _saved, out) => [grad(g, x, out, s)],
  });
}

/** An elementwise op of one tensor and a scalar s. */
function scalarOp<K extends OpName>(name: K, op: ew.UnaryOp, grad: UnaryGrad) {
  return defineOp(name, {
    check: (x: Tensor, s: number): OpCall<T1, { s: number }> => (assertF32(name, x), { inputs: [x], attrs: { s } }),
    forward: ([x], { s }) => kUnary(op, x, s),
    backward: (g, [x], { s }, _saved, out) => [grad(g, x, out, s)],
  });
}

export const neg = unaryOp('neg', 'neg', (g): Tensor => neg(g));
export const exp = unaryOp('exp', 'exp', (g, _x, out) => mul(g, out));
export const log = unaryOp('log', 'log', (g, x) => div(g, x));
export const sqrt = unaryOp('sqrt', 'sqrt', (g, _x, out) => div(mulScalar(g, 0.5), out));
export const tanh = unaryOp('tanh', 'tanh', (g, _x, out) => kBinary('tanhBackward', g, out));
export const relu = unaryOp('relu', 'relu', (g, x) => kBinary('reluBackward', g, x));
export const powScalar = scalarOp('powScalar', 'pow', (g, x, _out, p): Tensor =>
  mul(g, mulScalar(powScalar(x, p - 1), p)),
);
export const addScalar = scalarOp('addScalar', 'addScalar', (g) => g);
export const mulScalar = scalarOp('mulScalar', 'mulScalar', (g, _x, _out, s): Tensor => mulScalar(g, s));

export const gelu = defineOp('gelu', {
  check: (x: Tensor): OpCall<T1, Record<string, never>> => (assertF32('gelu', x), { inputs: [x], attrs: {} }),
  forward: ([x]) => {
    const out = empty(x.shape);
    geluForward(runtime(), { out: out.ref(), inp: x.ref() }, { n: x.size });
    return out;
  },
  backward: (g, [x]) => {
    const dinp = empty(x.shape);
    geluBackward(runtime(), { dinp: dinp.ref(), inp: x.ref(), dout: g.ref() }, { n: x.size });
    return [dinp];
  },
});

/** Where mask (broadcast to x) is nonzero, value; elsewhere x. */
export const maskedFill = defineOp('maskedFill', {
  check: (x: Tensor, mask: Tensor, value: number): OpCall<T2, { value: number }> => {
    assertF32('maskedFill', x, mask);
    return { inputs: [x, mask], attrs: { value } };
  },
  forward: ([x, mask], { value }) => {
    const out = kBinary('maskedFill', x, mask, value, 'maskedFill');
    if (out.shape.length !== x.shape.length || out.shape.some((d, i) => d !== x.shape[i])) {
      out.dispose();
      throw new Error(
        `maskedFill: mask ${fmtShape(mask.shape)} must broadcast to the input's shape ${fmtShape(x.shape)}`,
      );
    }
    return out;
  },
  backward: (g, [, mask]) => [kBinary('maskedFill', g, mask, 0, 'maskedFill'), null],
});

/** Zeroes each element with probability p (seeded) and scales the rest by 1/(1-p). */
export const dropout = defineOp('dropout', {
  check: (x: Tensor, p: number, seed: number): OpCall<T1, { p: number; seed: number }> | Tensor => {
    if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
    if (p === 0) return reshape(x, x.shape);
    return { inputs: [x], attrs: { p, seed } };
  },
  forward: ([x], s) => {
    const out = empty(x.shape);
    dropoutKernel(runtime(), { out: out.ref(), inp: x.ref() }, { n: x.size, p: s.p, seed: s.seed });
    return out;
  },
  // The mask is a function of (seed, index), so backward applies the same dropout to dout.
  backward: (g, _x, s) => {
    const dinp = empty(g.shape);
    dropoutKernel(runtime(), { out: dinp.ref(), inp: g.ref() }, { n: g.size, p: s.p, seed: s.seed });
    return [dinp];
  },
});

// ---- reductions ------------------------------------------------------------------------------

/** x viewed as [outer, R, inner], reduced over R; `keepShape` is the result with R kept as 1. */
interface ReduceAttrs {
  outer: number;
  R: number;
  inner: number;
  scale: number;
  outShape: number[];
  keepShape: number[];
}

/** Over `axis`, or over everything when axis is undefined (then keepdim keeps every axis as 1). */
function reduceCheck(name: string, x: Tensor, axis: number | undefined, keepdim: boolean): OpCall<T1, ReduceAttrs> {
  assertF32(name, x);
  if (x.size === 0) throw new Error(`${name}: cannot reduce an empty tensor ${x.describe()}`);
  const a = axis === undefined ? undefined : normAxis(name, axis, x.rank);
  const R = a === undefined ? x.size : x.shape[a]!;
  const outer = a === undefined ? 1 : shapeSize(x.shape.slice(0, a));
  const inner = a === undefined ? 1 : shapeSize(x.shape.slice(a + 1));
  const keepShape = x.shape.map((d, i) => (a === undefined || i === a ? 1 : d));
  const outShape = keepdim ? keepShape : a === undefined ? [] : x.shape.filter((_, i) => i !== a);
  const scale = name === 'mean' ? 1 / R : 1;
  return { inputs: [x], attrs: { outer, R, inner, scale, outShape, keepShape } };
}

function sumOp<K extends OpName>(name: K) {
  return defineOp(name, {
    check: (x: Tensor, axis?: number, keepdim: boolean = false) => reduceCheck(name, x, axis, keepdim),
    forward: ([x], s) => kReduce('sum', x, s).out,
    // The gradient of a sum is dout spread back over the summed axis.
    backward: (g, [x], s) => {
      const b = broadcastTo(g.view(s.keepShape), x.shape);
      return [s.scale === 1 ? b : mulScalar(b, s.scale)];
    },
  });
}

/** Sum over `axis` (or everything when axis is undefined). */
export const sum = sumOp('sum');
export const mean = sumOp('mean');

export const max = defineOp('max', {
  check: (x: Tensor, axis?: number, keepdim: boolean = false) => reduceCheck('max', x, axis, keepdim),
  forward: ([x], s, save) => {
    const { out, arg } = kReduce('max', x, s);
    save(arg!);
    return out;
  },
  backward: (g, [x], s, [arg]) => {
    const dinp = empty(x.shape);
    maxBackward(runtime(), { dinp: dinp.ref(), dout: g.ref(), argmax: arg!.ref() }, s);
    return [dinp];
  },
});

// ---- matmul and linear -----------------------------------------------------------------------

interface MatmulShape {
  batch: number;
  M: number;
  N: number;
  K: number;
  batchA: number;
  batchB: number;
  outShape: number[];
}

/** Matrix product over the last two axes with numpy broadcasting of the leading ones. */
export const matmul = defineOp('matmul', {
  check: (a: Tensor, b: Tensor): OpCall<T2, MatmulShape> => {
    assertF32('matmul', a, b);
    if (a.rank < 2 || b.rank < 2)
      throw new Error(`matmul: both operands need at least 2 dimensions, got ${a.describe()} and ${b.describe()}`);
    const [M, K] = a.shape.slice(-2) as [number, number];
    const [K2, N] = b.shape.slice(-2) as [number, number];
    if (K !== K2) throw new Error(`matmul: inner dimensions differ: ${a.describe()} · ${b.describe()} (${K} vs ${K2})`);
    const batchShape = broadcastShapes('matmul', a.shape.slice(0, -2), b.shape.slice(0, -2));
    const batch = shapeSize(batchShape);
    const fit = (t: Tensor, last: number[]) => {
      const own = shapeSize(t.shape.slice(0, -2));
      if (own === 1 || own === batch) return { t, n: own };
      return { t: broadcastTo(t, [...batchShape, ...last]), n: batch };
    };
    const A = fit(a, [M, K]);
    const B = fit(b, [K, N]);
    const outShape = [...batchShape, M, N];
    // A shared weight: fold the batch into M, one big matmul (the same memory layout).
    if (B.n === 1 && A.n === batch && batch > 1)
      return { inputs: [A.t, B.t], attrs: { batch: 1, M: batch * M, N, K, batchA: 1, batchB: 1, outShape } };
    return { inputs: [A.t, B.t], attrs: { batch, M, N, K, batchA: A.n, batchB: B.n, outShape } };
  },
  // a [batchA, M, K], b [batchB, K, N]; batchA/B ∈ {1, batch}.
  forward: ([a, b], s) => {
    const out = empty(s.outShape);
    const { batch, M, N, K, batchA, batchB } = s;
    matmulKernel(runtime(), { out: out.ref(), a: a.ref(), b: b.ref(), batch, M, N, K, batchA, batchB });
    return out;
  },
  backward: (g, [a, b], s) => [
    a.requiresGrad ? matmulDa(g, b, s).view(a.shape) : null,
    b.requiresGrad ? matmulDb(g, a, s).view(b.shape) : null,
  ],
});

/** dA = dC · Bᵀ, summed over the batch when A was broadcast. */
function matmulDa(g: Tensor, b: Tensor, s: MatmulShape): Tensor {
  const da = empty([s.batch, s.M, s.K]);
  matmulKernel(runtime(), {
    out: da.ref(),
    a: g.ref(),
    b: b.ref(),
    batch: s.batch,
    M: s.M,
    N: s.K,
    K: s.N,
    transB: true,
    batchA: s.batch,
    batchB: s.batchB,
  });
  if (s.batchA === 1 && s.batch > 1) {
    const sum = sumTo(da.view([s.batch, s.M * s.K]), [1, s.M * s.K]);
    da.dispose();
    return sum;
  }
  return da;
}

/** dB = Aᵀ · dC, summed over the batch when B was broadcast. */
function matmulDb(g: Tensor, a: Tensor, s: MatmulShape): Tensor {
  if (s.batchB === 1 && s.batchA === s.batch) {
    // The batch folded into the contraction: [K, batch·M] · [batch·M, N].
    const db = empty([s.K, s.N]);
    matmulKernel(runtime(), { out: db.ref(), a: a.ref(), b: g.ref(), M: s.K, N: s.N, K: s.batch * s.M, transA: true });
    return db;
  }
  const db = empty([s.batch, s.K, s.N]);
  matmulKernel(runtime(), {
    out: db.ref(),
    a: a.ref(),
    b: g.ref(),
    batch: s.batch,
    M: s.K,
    N: s.N,
    K: s.M,
    transA: true,
    batchA: s.batchA,
    batchB: s.batch,
  });
  if (s.batchB !== 1) return db;
  const sum = sumTo(db.view([s.batch, s.K * s.N]), [1, s.K * s.N]);
  db.dispose();
  return sum;
}

interface LinearShape {
  M: number;
  C: number;
  OC: number;
  transW: boolean;
  gelu: boolean;
}

type LinearInputs = readonly [Tensor, Tensor, Tensor?];

/** x [..., C] · W [C, OC] + bias [OC], optionally followed by GELU in the same kernel. W is [OC, C] with transW. */
export const linear = defineOp('linear', {
  check: (
    x: Tensor,
    w: Tensor,
    bias?: Tensor | null,
    opts: { gelu?: boolean; transW?: boolean } = {},
  ): OpCall<LinearInputs, LinearShape> => {
    assertF32('linear', x, w);
    const transW = opts.transW ?? false;
    const C = x.shape[x.rank - 1]!;
    if (w.rank !== 2) throw new Error(`linear: weight must be 2-D, got ${w.describe()}`);
    const [wc, woc] = transW ? [w.shape[1]!, w.shape[0]!] : [w.shape[0]!, w.shape[1]!];
    if (wc !== C)
      throw new Error(
        `linear: input ${x.describe()} has ${C} features but weight ${w.describe()} expects ${wc}${transW ? ' (transposed)' : ''}`,
      );
    if (bias && (bias.rank !== 1 || bias.shape[0] !== woc))
      throw new Error(`linear: bias ${bias.describe()} must be [${woc}]`);
    const attrs = { M: x.size / C, C, OC: woc, transW, gelu: opts.gelu ?? false };
    return { inputs: bias ? [x, w, bias] : [x, w], attrs };
  },
  forward: ([x, w, bias], s, save) => {
    const out = empty([...x.shape.slice(0, -1), s.OC]);
    const preact = s.gelu ? empty(out.shape) : null;
    matmulKernel(runtime(), {
      out: out.ref(),
      a: x.ref(),
      b: w.ref(),
      bias: bias?.ref(),
      preact: preact?.ref(),
      M: s.M,
      N: s.OC,
      K: s.C,
      transB: s.transW,
      gelu: s.gelu,
    });
    if (preact) save(preact);
    return out;
  },
  backward: (g, [x, w, bias], s, saved) => {
    const rt = runtime();
    let gp = g;
    if (s.gelu) {
      gp = empty(g.shape);
      geluBackward(rt, { dinp: gp.ref(), inp: saved[0]!.ref(), dout: g.ref() }, { n: g.size });
    }
    let dx: Tensor | null = null;
    let dw: Tensor | null = null;
    if (x.requiresGrad) {
      dx = empty(x.shape);
      // dX = dY · Wᵀ ([M, OC]·[OC, C]); with transW, W is stored [OC, C] and read as is.
      matmulKernel(rt, { out: dx.ref(), a: gp.ref(), b: w.ref(), M: s.M, N: s.C, K: s.OC, transB: !s.transW });
    }
    if (w.requiresGrad) {
      dw = empty(w.shape);
      if (s.transW) matmulKernel(rt, { out: dw.ref(), a: gp.ref(), b: x.ref(), M: s.OC, N: s.C, K: s.M, transA: true });
      else matmulKernel(rt, { out: dw.ref(), a: x.ref(), b: gp.ref(), M: s.C, N: s.OC, K: s.M, transA: true });
    }
    const db = bias?.requiresGrad ? sumTo(gp.view([s.M, s.OC]), [1, s.OC]).view([s.OC]) : null;
    if (gp !== g) gp.dispose();
    return [dx, dw, db];
  },
});

// ---- row ops: softmax, cross-entropy, layernorm ----------------------------------------------

function softmaxOp<K extends OpName>(name: K, log: boolean) {
  return defineOp(name, {
    check: (x: Tensor): OpCall<T1, { log: boolean }> => (assertF32(name, x), { inputs: [x], attrs: { log } }),
    forward: ([x]) => {
      const out = empty(x.shape);
      const C = x.shape[x.rank - 1]!;
      softmaxForward(runtime(), { out: out.ref(), inp: x.ref() }, { N: x.size / C, C, log });
      return out;
    },
    backward: (g, [x], _attrs, _saved, out) => {
      const dinp = empty(x.shape);
      const C = x.shape[x.rank - 1]!;
      softmaxBackward(runtime(), { dinp: dinp.ref(), dout: g.ref(), out: out.ref() }, { N: x.size / C, C, log });
      return [dinp];
    },
  });
}

export const softmax = softmaxOp('softmax', false);
export const logSoftmax = softmaxOp('logSoftmax', true);

interface CrossEntropyShape {
  N: number;
  V: number;
  Vp: number;
  ignoreIndex: number;
}

/** Mean cross-entropy of logits [N, Vp] against integer targets [N]; rows whose target is ignoreIndex do not count. */
export const crossEntropy = defineOp('crossEntropy', {
  check: (
    logits: Tensor,
    targets: Tensor,
    opts: { ignoreIndex?: number; V?: number } = {},
  ): OpCall<T2, CrossEntropyShape> => {
    assertF32('crossEntropy', logits);
    assertInt('crossEntropy', targets);
    const Vp = logits.shape[logits.rank - 1]!;
    const N = logits.size / Vp;
    if (targets.size !== N)
      throw new Error(
        `crossEntropy: ${targets.describe()} has ${targets.size} targets for ${N} rows of logits ${logits.describe()}`,
      );
    const V = opts.V ?? Vp;
    if (V > Vp || V < 1) throw new Error(`crossEntropy: V=${V} must be in [1, ${Vp}]`);
    return { inputs: [logits, targets], attrs: { N, V, Vp, ignoreIndex: opts.ignoreIndex ?? -1 } };
  },
  // logits [N, Vp] (columns >= V are padding), targets [N] ints → mean loss over non-ignored rows.
  forward: ([logits, targets], s) => {
    const losses = empty([s.N]);
    const loss = empty([]);
    crossEntropyForward(
      runtime(),
      { losses: losses.ref(), loss: loss.ref(), logits: logits.ref(), targets: targets.ref() },
      s,
    );
    losses.dispose();
    return loss;
  },
  backward: (g, [logits, targets], s) => {
    const dlogits = empty(logits.shape);
    crossEntropyBackward(
      runtime(),
      { dlogits: dlogits.ref(), logits: logits.ref(), targets: targets.ref(), dloss: g.ref() },
      s,
    );
    return [dlogits, null];
  },
});

export const layernorm = defineOp('layernorm', {
  check: (x: Tensor, w: Tensor, b: Tensor, eps: number = 1e-5): OpCall<T3, { N: number; C: number; eps: number }> => {
    assertF32('layernorm', x, w, b);
    const C = x.shape[x.rank - 1]!;
    if (w.size !== C || b.size !== C)
      throw new Error(
        `layernorm: weight ${w.describe()} and bias ${b.describe()} must have ${C} elements to match ${x.describe()}`,
      );
    return { inputs: [x, w, b], attrs: { N: x.size / C, C, eps } };
  },
  forward: ([x, w, b], s, save) => {
    const out = empty(x.shape);
    const mean = empty([s.N]);
    const rstd = empty([s.N]);
    layernormForward(
      runtime(),
      { out: out.ref(), mean: mean.ref(), rstd: rstd.ref(), inp: x.ref(), weight: w.ref(), bias: b.ref() },
      s,
    );
    save(mean);
    save(rstd);
    return out;
  },
  backward: (g, [x, w, b], s, [mean, rstd]) => {
    const dinp = empty(x.shape);
    const dweight = empty(w.shape);
    const dbias = empty(b.shape);
    layernormBackward(
      runtime(),
      {
        dinp: dinp.ref(),
        dweight: dweight.ref(),
        dbias: dbias.ref(),
        dout: g.ref(),
        inp: x.ref(),
        weight: w.ref(),
        mean: mean!.ref(),
        rstd: rstd!.ref(),
      },
      { N: s.N, C: s.C },
    );
    return [dinp, dweight, dbias];
  },
});

// ---- embedding and attention -----------------------------------------------------------------

type EmbeddingInputs = readonly [Tensor, Tensor, Tensor?];

/** weight [V, C] rows gathered by integer ids; with wpe [maxT, C] and ids [B, T], position rows are added. */
export const embedding = defineOp('embedding', {
  check: (
    weight: Tensor,
    ids: Tensor,
    wpe?: Tensor | null,
  ): OpCall<EmbeddingInputs, { B: number; T: number; C: number; V: number }> => {
    assertF32('embedding', weight);
    assertInt('embedding', ids);
    if (weight.rank !== 2) throw new Error(`embedding: weight must be [V, C], got ${weight.describe()}`);
    const [V, C] = weight.shape as [number, number];
    let B = 1;
    let T = ids.size;
    if (wpe) {
      if (ids.rank !== 2) throw new Error(`embedding: with positions, ids must be [B, T], got ${ids.describe()}`);
      [B, T] = ids.shape as [number, number];
      if (wpe.rank !== 2 || wpe.shape[1] !== C || wpe.shape[0]! < T)
        throw new Error(`embedding: positions ${wpe.describe()} must be [>= ${T}, ${C}]`);
    }
    return { inputs: wpe ? [weight, ids, wpe] : [weight, ids], attrs: { B, T, C, V } };
  },
  forward: ([weight, ids, wpe], s) => {
    const out = empty([...ids.shape, s.C]);
    embeddingForward(runtime(), { out: out.ref(), inp: ids.ref(), wte: weight.ref(), wpe: wpe?.ref() }, s);
    return out;
  },
  // The kernel accumulates into its parameter gradients, so they start from zero.
  backward: (g, [weight, ids, wpe], s) => {
    const dwte = zerosLike(weight.shape);
    const dwpe = wpe ? zerosLike(wpe.shape) : null;
    embeddingBackward(runtime(), { dwte: dwte.ref(), dwpe: dwpe?.ref(), dout: g.ref(), inp: ids.ref() }, s);
    return [dwte, null, dwpe];
  },
});

/**
 * x [B, T, C] and positions pos [B] (i32) → x[b, pos[b], :] as [B, C]: the hidden state of each
 * sequence's last real token, for a classifier. Built from the copy and embedding kernels, which a
 * training run has compiled already: x is copied to a table [T, B·C] whose row t holds every
 * sequence's token t, the lookup of pos[b] gives [B, B·C], and sequence b's own block is the
 * diagonal. The backward runs the same path in reverse (diagonal into zeros, the embedding's
 * scatter-add into a zero table, the table copied back to [B, T, C]), so dx is zero except at the
 * gathered rows. A position outside [0, T) reads a zero row (the lookup's rule) and gets no gradient.
 */
export const gatherRows = defineOp('gatherRows', {
  check: (x: Tensor, pos: Tensor): OpCall<T2, { B: number; T: number; C: number }> => {
    assertF32('gatherRows', x);
    assertInt('gatherRows', pos);
    if (x.rank !== 3) throw new Error(`gatherRows: x must be [B, T, C], got ${x.describe()}`);
    const [B, T, C] = x.shape as [number, number, number];
    if (pos.rank !== 1 || pos.size !== B)
      throw new Error(`gatherRows: positions ${pos.describe()} must be [${B}] to match ${x.describe()}`);
    return { inputs: [x, pos], attrs: { B, T, C } };
  },
  forward: ([x, pos], { B, T, C }) => {
    const table = kGather(x, [T, B, C], [C, T * C, 1]);
    const rows = empty([B, B * C]);
    embeddingForward(runtime(), { out: rows.ref(), inp: pos.ref(), wte: table.ref() }, { B: 1, T: B, C: B * C, V: T });
    table.dispose();
    const out = kGather(rows, [B, C], [B * C + C, 1]);
    rows.dispose();
    return out;
  },
  backward: (g, [, pos], { B, T, C }) => {
    const rt = runtime();
    const drows = zerosLike([B, B * C]);
    stridedCopy(rt, { out: drows.ref(), inp: g.ref() }, { shape: [B, C], si: [C, 1], so: [B * C + C, 1] });
    const dtable = zerosLike([T, B * C]);
    embeddingBackward(rt, { dwte: dtable.ref(), dout: drows.ref(), inp: pos.ref() }, { B: 1, T: B, C: B * C, V: T });
    drows.dispose();
    const dx = kGather(dtable, [B, T, C], [C, B * C, 1]);
    dtable.dispose();
    return [dx, null];
  },
});

interface AttnShape {
  B: number;
  NH: number;
  T: number;
  HS: number;
}

/** Causal scaled dot-product attention, q/k/v [B, NH, T, HS] → [B, NH, T, HS], fused (flash). */
export const attention = defineOp('attention', {
  check: (q: Tensor, k: Tensor, v: Tensor): OpCall<T3, AttnShape> => {
    assertF32('attention', q, k, v);
    if (q.rank !== 4) throw new Error(`attention: q must be [B, NH, T, HS], got ${q.describe()}`);
    for (const t of [k, v])
      if (t.shape.some((d, i) => d !== q.shape[i]))
        throw new Error(`attention: ${t.describe()} must match q ${q.describe()}`);
    const [B, NH, T, HS] = q.shape as [number, number, number, number];
    return { inputs: [q, k, v], attrs: { B, NH, T, HS } };
  },
  // lse [B, NH, T] is saved for the backward.
  forward: ([q, k, v], s, save) => {
    const out = empty(q.shape);
    const lse = empty([s.B, s.NH, s.T]);
    attentionForward(runtime(), { out: out.ref(), lse: lse.ref(), q: q.ref(), k: k.ref(), v: v.ref() }, s);
    save(lse);
    return out;
  },
  backward: (g, [q, k, v], s, [lse], out) => {
    const dq = empty(q.shape);
    const dk = empty(k.shape);
    const dv = empty(v.shape);
    attentionBackward(
      runtime(),
      {
        dq: dq.ref(),
        dk: dk.ref(),
        dv: dv.ref(),
        dout: g.ref(),
        q: q.ref(),
        k: k.ref(),
        v: v.ref(),
        out: out.ref(),
        lse: lse!.ref(),
      },
      s,
    );
    return [dq, dk, dv];
  },
});

/**
 * Causal attention over q, k, v stacked in one tensor [3, B, NH, T, HS] (what one permute of a
 * fused c_attn output gives). Falls back to three slices when a third does not start at a
 * bindable offset. The backward writes dq, dk, dv straight into one [3, ...] gradient: no split,
 * no zero-fill, no adds.
 */
export const attentionPacked = defineOp('attentionPacked', {
  check: (qkv: Tensor): OpCall<T1, AttnShape> | Tensor => {
    assertF32('attention', qkv);
    if (qkv.rank !== 5 || qkv.shape[0] !== 3)
      throw new Error(`attention: packed qkv must be [3, B, NH, T, HS], got ${qkv.describe()}`);
    const [, B, NH, T, HS] = qkv.shape as [number, number, number, number, number];
    const rt = runtime();
    if (((qkv.size / 3) * 4) % rt.limits.minStorageBufferOffsetAlignment !== 0 || !qkv.bindable) {
      const [q, k, v] = split(qkv, [1, 1, 1], 0).map((t) => reshape(t, [B, NH, T, HS])) as [Tensor, Tensor, Tensor];
      return attention(q, k, v);
    }
    return { inputs: [qkv], attrs: { B, NH, T, HS } };
  },
  forward: ([qkv], s, save) => {
    const out = empty([s.B, s.NH, s.T, s.HS]);
    const lse = empty([s.B, s.NH, s.T]);
    const [q, k, v] = thirds(qkv);
    attentionForward(runtime(), { out: out.ref(), lse: lse.ref(), q, k, v }, s);
    save(lse);
    return out;
  },
  backward: (g, [qkv], s, [lse], out) => {
    const dqkv = empty(qkv.shape);
    const [q, k, v] = thirds(qkv);
    const [dq, dk, dv] = thirds(dqkv);
    attentionBackward(runtime(), { dq, dk, dv, dout: g.ref(), q, k, v, out: out.ref(), lse: lse!.ref() }, s);
    return [dqkv];
  },
});

/** The three equal leading-axis thirds of a [3, ...] tensor as buffer ranges. */
function thirds(t: Tensor): [BufferRef, BufferRef, BufferRef] {
  const r = t.ref();
  const third = (t.size / 3) * 4;
  return [0, 1, 2].map((i) => ({ buffer: r.buffer, offset: (r.offset ?? 0) + i * third, size: third })) as [
    BufferRef,
    BufferRef,
    BufferRef,
  ];
}

// ---- shapes: views and copies ----------------------------------------------------------------

export const reshape = defineOp('reshape', {
  check: (x: Tensor, shape: readonly number[]): OpCall<T1, { shape: number[] }> => {
    const s = [...shape];
    const inferred = s.indexOf(-1);
    if (inferred >= 0) {
      const rest = shapeSize(s.filter((d) => d !== -1));
      s[inferred] = rest === 0 ? 0 : x.size / rest;
    }
    if (shapeSize(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`reshape: cannot reshape ${x.describe()} (${x.size} elements) to ${fmtShape(shape)}`);
    }
    return { inputs: [x], attrs: { shape: s } };
  },
  forward: ([x], { shape }) => x.view(shape),
  backward: (g, [x]) => [g.view(x.shape)],
});

/** A permutation of the axes, as a copy. Its backward is the inverse permutation. */
const permuteRules: OpDef<T1, { perm: number[] }> = {
  forward: ([x], { perm }) => {
    const st = contiguousStrides(x.shape);
    return kGather(
      x,
      perm.map((p) => x.shape[p]!),
      perm.map((p) => st[p]!),
      0,
    );
  },
  backward: (g, _x, { perm }) => {
    const inv = new Array<number>(perm.length);
    perm.forEach((p, i) => (inv[p] = i));
    return [permute(g, inv)];
  },
};

export const permute = defineOp('permute', {
  check: (x: Tensor, perm: readonly number[]): OpCall<T1, { perm: number[] }> => {
    if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
      throw new Error(`permute: ${fmtShape(perm)} is not a permutation of the ${x.rank} axes of ${x.describe()}`);
    }
    return { inputs: [x], attrs: { perm: [...perm] } };
  },
  ...permuteRules,
});

/** Swaps axes a and b (the last two by default). */
export const transpose = defineOp('transpose', {
  check: (x: Tensor, a: number = -2, b: number = -1): OpCall<T1, { perm: number[] }> => {
    if (x.rank < 2) throw new Error(`transpose: ${x.describe()} has fewer than 2 axes`);
    const i = normAxis('transpose', a, x.rank);
    const j = normAxis('transpose', b, x.rank);
    const perm = x.shape.map((_, k) => k);
    perm[i] = j;
    perm[j] = i;
    return { inputs: [x], attrs: { perm } };
  },
  ...permuteRules,
});

export const broadcastTo = defineOp('broadcastTo', {
  check: (x: Tensor, shape: readonly number[]): OpCall<T1, { shape: number[] }> | Tensor => {
    const s = broadcastShapes('broadcastTo', x.shape, shape);
    if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) {
      throw new Error(`broadcastTo: ${x.describe()} cannot be broadcast to ${fmtShape(shape)}`);
    }
    if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return reshape(x, shape);
    return { inputs: [x], attrs: { shape: [...shape] } };
  },
  forward: ([x], { shape }) => kGather(x, shape, broadcastStrides(x.shape, shape), 0),
  backward: (g, [x]) => [sumTo(g, x.shape)],
});

export const slice = defineOp('slice', {
  check: (
    x: Tensor,
    axis: number,
    start: number,
    end: number,
  ): OpCall<T1, { axis: number; start: number; end: number }> => {
    const a = normAxis('slice', axis, x.rank);
    const n = x.shape[a]!;
    if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end) {
      throw new Error(`slice: range [${start}, ${end}) is out of bounds for axis ${axis} of ${x.describe()}`);
    }
    return { inputs: [x], attrs: { axis: a, start, end } };
  },
  forward: ([x], { axis, start, end }) => {
    const shape = x.shape.map((d, i) => (i === axis ? end - start : d));
    const st = contiguousStrides(x.shape);
    const offset = start * st[axis]!;
    // A slice along the leading axes of a contiguous tensor is a contiguous range: a view when
    // it starts at a bindable offset.
    const leading = x.shape.slice(0, axis).every((d) => d === 1);
    const rt = runtime();
    if (leading && ((x.offset + offset) * 4) % rt.limits.minStorageBufferOffsetAlignment === 0)
      return x.view(shape, x.offset + offset);
    return kGather(x, shape, st, offset);
  },
  backward: (g, [x], { axis, start }) => {
    const dinp = zerosLike(x.shape);
    const st = contiguousStrides(x.shape);
    const c = collapse(g.shape, [contiguousStrides(g.shape), st]);
    stridedCopy(
      runtime(),
      { out: dinp.ref(), inp: g.ref() },
      { shape: c.shape, si: c.strides[0]!, so: c.strides[1]!, outOffset: start * st[axis]! },
    );
    return [dinp];
  },
});

/** The pieces copied side by side along `axis` into a new tensor of `shape`, off the tape. */
function kConcat(ts: readonly Tensor[], axis: number, shape: number[]): Tensor {
  const out = empty(shape, ts[0]!.dtype);
  const st = contiguousStrides(shape);
  let start = 0;
  for (const t of ts) {
    if (t.size > 0) {
      const c = collapse(t.shape, [contiguousStrides(t.shape), st]);
      stridedCopy(
        runtime(),
        { out: out.ref(), inp: t.ref() },
        { shape: c.shape, si: c.strides[0]!, so: c.strides[1]!, outOffset: start * st[axis]! },
      );
    }
    start += t.shape[axis]!;
  }
  return out;
}

export const concat = defineOp('concat', {
  check: (
    ts: readonly Tensor[],
    axis: number = -1,
  ): OpCall<readonly Tensor[], { axis: number; shape: number[] }> | Tensor => {
    if (ts.length === 0) throw new Error('concat: no tensors given');
    const first = ts[0]!;
    const a = normAxis('concat', axis, first.rank);
    for (const t of ts) {
      t.storageFor('concat');
      if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i]) || t.dtype !== first.dtype) {
        throw new Error(`concat: ${t.describe()} does not match ${first.describe()} outside axis ${axis}`);
      }
    }
    const shape = first.shape.map((d, i) => (i === a ? ts.reduce((s, t) => s + t.shape[a]!, 0) : d));
    if (!isGradEnabled() || !ts.some((t) => t.requiresGrad)) return kConcat(ts, a, shape);
    return { inputs: ts, attrs: { axis: a, shape } };
  },
  forward: (ts, { axis, shape }) => kConcat(ts, axis, shape),
  // concat(x₀..xₙ) = Σ pad(xᵢ): each piece's gradient is a slice of dout.
  backward: (g, ts, { axis }) => {
    let start = 0;
    return ts.map((t) => {
      const piece = slice(g, axis, start, start + t.shape[axis]!);
      start += t.shape[axis]!;
      return t.requiresGrad ? piece : (piece.dispose(), null);
    });
  },
});

/** Pieces of the given sizes along `axis`: a run of slices (split is not a table op). */
export function split(x: Tensor, sizes: readonly number[], axis = -1): Tensor[] {
  const a = normAxis('split', axis, x.rank);
  const total = sizes.reduce((p, q) => p + q, 0);
  if (total !== x.shape[a])
    throw new Error(
      `split: sizes [${sizes.join(', ')}] add up to ${total}, but axis ${axis} of ${x.describe()} has ${x.shape[a]}`,
    );
  let start = 0;
  return sizes.map((n) => {
    const t = slice(x, a, start, start + n);
    start += n;
    return t;
  });
}

/** The same values, cut off from the tape: no gradient flows through the result. */
export function detach(x: Tensor): Tensor {
  x.storageFor('detach');
  return x.view(x.shape);
}

/**
 * Writes src's values into dst in place and returns dst: the optimizer's `p ← p − lr·g`. Not on
 * the tape, so no gradient flows through it; it refuses a dst the tape could still read (one that
 * requires grad while the tape records, or an op's output still on the tape), whose gradient the
 * write would silently corrupt.
 */
export function assign(dst: Tensor, src: Tensor): Tensor {
  const to = dst.storageFor('assign');
  const from = src.storageFor('assign');
  if (dst.dtype !== src.dtype || dst.shape.length !== src.shape.length || dst.shape.some((d, i) => d !== src.shape[i]))
    throw new Error(`assign: src ${src.describe()} does not match dst ${dst.describe()}`);
  if (dst.requiresGrad && isGradEnabled())
    throw new Error(
      `assign: dst ${dst.describe()} requires grad and the tape is recording; an in-place write would corrupt its gradient (update parameters inside noGrad)`,
    );
  if (dst.node)
    throw new Error(
      `assign: dst ${dst.describe()} is the output of a ${dst.node.op} still on the tape; backward may read it`,
    );
  const bytes = dst.size * 4;
  if (bytes === 0 || (to === from && dst.offset === src.offset)) return dst;
  const rt = runtime();
  // WebGPU copies between two ranges of one buffer through a temporary.
  const tmp = to === from ? empty(src.shape, src.dtype) : src;
  if (tmp !== src) rt.copy(from.buffer, src.offset * 4, tmp.buffer, tmp.offset * 4, bytes);
  rt.copy(tmp.storage.buffer, tmp.offset * 4, to.buffer, dst.offset * 4, bytes);
  if (tmp !== src) tmp.dispose();
  return dst;
}

// `apply` for tests that check the tape mechanics directly.
export { apply as applyOp };

// ---- the table -------------------------------------------------------------------------------

/**
 * One entry per reference op, under its own name: a mapped type over OpName, so a missing op is a
 * compile error, and `satisfies` rejects an extra one (defineOp already refuses a name the
 * reference lacks).
 */
export type OpTable = { readonly [K in OpName]: { readonly opName: K; readonly def: OpDef<never, never> } };

/** Every op on the tape, by the name its nodes carry. */
export const OPS = {
  add,
  sub,
  mul,
  div,
  neg,
  exp,
  log,
  sqrt,
  tanh,
  relu,
  gelu,
  powScalar,
  addScalar,
  mulScalar,
  sum,
  mean,
  max,
  matmul,
  linear,
  softmax,
  logSoftmax,
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
  permute,
  transpose,
  reshape,
  broadcastTo,
} satisfies OpTable;
