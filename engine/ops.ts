// The op table: every differentiable op as { forward, backward }, backward right under forward.
// The table's type requires both, so an op without a backward does not compile.
//
// Forward functions record kernels (kernels/*.ts) and return a new tensor; backward functions are
// written with the public ops below (run with the tape off), so each backward reads like its math.
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
import { empty, fmtShape, isGradEnabled, keep, noGrad, runtime, shapeSize, Tensor, type Shape } from './tensor.ts';

// ---- op definitions --------------------------------------------------------------------------

type Grads = (Tensor | null)[];

/** One differentiable op. `save` hands a tensor made in forward to the tape for backward. */
export interface OpDef<I extends readonly (Tensor | undefined)[], A> {
  forward(inputs: I, attrs: A, save: (t: Tensor) => void): Tensor;
  backward(dout: Tensor, inputs: I, attrs: A, saved: readonly Tensor[], out: Tensor): Grads;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyOp = OpDef<any, any>;

function apply<I extends readonly (Tensor | undefined)[], A>(
  name: string,
  def: OpDef<I, A>,
  inputs: I,
  attrs: A,
): Tensor {
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

/** Sum over axis `axis` of x viewed as [outer, R, inner] (keepdim shape). */
function kReduce(op: 'sum' | 'max', x: Tensor, axis: number, scale = 1): { out: Tensor; arg: Tensor | null } {
  const outer = shapeSize(x.shape.slice(0, axis));
  const R = x.shape[axis]!;
  const inner = shapeSize(x.shape.slice(axis + 1));
  const outShape = x.shape.map((d, i) => (i === axis ? 1 : d));
  const out = empty(outShape);
  const arg = op === 'max' ? empty(outShape, 'u32') : empty([1], 'u32', 'scratch');
  reduce(runtime(), op, { out: out.ref(), inp: x.ref(), arg: arg.ref() }, { outer, R, inner, scale });
  if (op === 'sum') {
    arg.dispose();
    return { out, arg: null };
  }
  return { out, arg };
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
      cur = kReduce('sum', v, 0).out.view(rest);
      v.dispose();
    }
    for (let d = 0; d < shape.length; d++) {
      if (shape[d] === 1 && cur.shape[d] !== 1) {
        const next = kReduce('sum', cur, d).out;
        if (cur !== g) cur.dispose();
        cur = next;
      }
    }
    return cur;
  });
}

// ---- the table -------------------------------------------------------------------------------

type T1 = readonly [Tensor];
type T2 = readonly [Tensor, Tensor];
type T3 = readonly [Tensor, Tensor, Tensor];
type None = Record<string, never>;

const unaryDef = (
  op: ew.UnaryOp,
  grad: (g: Tensor, x: Tensor, out: Tensor, s: number) => Tensor,
): OpDef<T1, { s: number }> => ({
  forward: ([x], { s }) => (assertF32(op, x), kUnary(op, x, s)),
  backward: (g, [x], { s }, _saved, out) => [grad(g, x, out, s)],
});

export const OPS = {
  add: {
    forward: ([a, b]: T2) => (assertF32('add', a, b), kBinary('add', a, b)),
    backward: (g: Tensor, [a, b]: T2) => [sumTo(g, a.shape), sumTo(g, b.shape)],
  },
  sub: {
    forward: ([a, b]: T2) => (assertF32('sub', a, b), kBinary('sub', a, b)),
    backward: (g: Tensor, [a, b]: T2) => [sumTo(g, a.shape), sumTo(neg(g), b.shape)],
  },
  mul: {
    forward: ([a, b]: T2) => (assertF32('mul', a, b), kBinary('mul', a, b)),
    backward: (g: Tensor, [a, b]: T2) => [
      a.requiresGrad ? sumTo(mul(g, b), a.shape) : null,
      b.requiresGrad ? sumTo(mul(g, a), b.shape) : null,
    ],
  },
  div: {
    forward: ([a, b]: T2) => (assertF32('div', a, b), kBinary('div', a, b)),
    // d(a/b)/db = -a/b² = -out/b
    backward: (g: Tensor, [a, b]: T2, _: None, _s: readonly Tensor[], out: Tensor) => [
      a.requiresGrad ? sumTo(div(g, b), a.shape) : null,
      b.requiresGrad ? sumTo(neg(div(mul(g, out), b)), b.shape) : null,
    ],
  },
  neg: unaryDef('neg', (g) => neg(g)),
  exp: unaryDef('exp', (g, _x, out) => mul(g, out)),
  log: unaryDef('log', (g, x) => div(g, x)),
  sqrt: unaryDef('sqrt', (g, _x, out) => div(mulScalar(g, 0.5), out)),
  tanh: unaryDef('tanh', (g, _x, out) => kBinary('tanhBackward', g, out)),
  relu: unaryDef('relu', (g, x) => kBinary('reluBackward', g, x)),
  pow: unaryDef('pow', (g, x, _out, p) => mul(g, mulScalar(powScalar(x, p - 1), p))),
  addScalar: unaryDef('addScalar', (g) => g),
  mulScalar: unaryDef('mulScalar', (g, _x, _out, s) => mulScalar(g, s)),
  gelu: {
    forward: ([x]: T1) => {
      assertF32('gelu', x);
      const out = empty(x.shape);
      geluForward(runtime(), { out: out.ref(), inp: x.ref() }, { n: x.size });
      return out;
    },
    backward: (g: Tensor, [x]: T1) => {
      const dinp = empty(x.shape);
      geluBackward(runtime(), { dinp: dinp.ref(), inp: x.ref(), dout: g.ref() }, { n: x.size });
      return [dinp];
    },
  },
  sum: {
    forward: ([x]: T1, { axis, scale }: { axis: number; scale: number }) => (
      assertF32('sum', x),
      kReduce('sum', x, axis, scale).out
    ),
    // The gradient of a sum is dout spread back over the summed axis.
    backward: (g: Tensor, [x]: T1, { scale }: { axis: number; scale: number }) => {
      const b = broadcastTo(g, x.shape);
      return [scale === 1 ? b : mulScalar(b, scale)];
    },
  },
  max: {
    forward: ([x]: T1, { axis }: { axis: number }, save: (t: Tensor) => void) => {
      assertF32('max', x);
      const { out, arg } = kReduce('max', x, axis);
      save(arg!);
      return out;
    },
    backward: (g: Tensor, [x]: T1, { axis }: { axis: number }, [arg]: readonly Tensor[]) => {
      const dinp = empty(x.shape);
      const outer = shapeSize(x.shape.slice(0, axis));
      const inner = shapeSize(x.shape.slice(axis + 1));
      maxBackward(
        runtime(),
        { dinp: dinp.ref(), dout: g.ref(), argmax: arg!.ref() },
        { outer, R: x.shape[axis]!, inner },
      );
      return [dinp];
    },
  },
  matmul: {
    // a [batchA, M, K] (or [batchA, K, M] with transA), b [batchB, K, N] (or [batchB, N, K]); batchA/B ∈ {1, batch}.
    forward: ([a, b]: T2, s: MatmulShape) => {
      const out = empty(s.outShape);
      matmulKernel(runtime(), {
        out: out.ref(),
        a: a.ref(),
        b: b.ref(),
        batch: s.batch,
        M: s.M,
        N: s.N,
        K: s.K,
        batchA: s.batchA,
        batchB: s.batchB,
      });
      return out;
    },
    backward: (g: Tensor, [a, b]: T2, s: MatmulShape) => {
      const rt = runtime();
      let da: Tensor | null = null;
      let db: Tensor | null = null;
      if (a.requiresGrad) {
        // dA = dC · Bᵀ, summed over the batch when A was broadcast.
        da = empty([s.batch, s.M, s.K]);
        matmulKernel(rt, {
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
          const full = da;
          da = sumTo(full.view([s.batch, s.M * s.K]), [1, s.M * s.K]);
          full.dispose();
        }
        da = da.view(a.shape);
      }
      if (b.requiresGrad) {
        if (s.batchB === 1 && s.batchA === s.batch) {
          // dB = Aᵀ · dC with the batch folded into the contraction: [K, batch·M] · [batch·M, N].
          db = empty([s.K, s.N]);
          matmulKernel(rt, { out: db.ref(), a: a.ref(), b: g.ref(), M: s.K, N: s.N, K: s.batch * s.M, transA: true });
        } else {
          db = empty([s.batch, s.K, s.N]);
          matmulKernel(rt, {
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
          if (s.batchB === 1) {
            const full = db;
            db = sumTo(full.view([s.batch, s.K * s.N]), [1, s.K * s.N]);
            full.dispose();
          }
        }
        db = db.view(b.shape);
      }
      return [da, db];
    },
  },
  linear: {
    // out = x · W (+ bias) (then GELU); W is [C, OC], or [OC, C] with transW (a tied LM head).
    forward: ([x, w, bias]: readonly [Tensor, Tensor, Tensor?], s: LinearShape, save: (t: Tensor) => void) => {
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
    backward: (
      g: Tensor,
      [x, w, bias]: readonly [Tensor, Tensor, Tensor?],
      s: LinearShape,
      saved: readonly Tensor[],
    ) => {
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
        if (s.transW)
          matmulKernel(rt, { out: dw.ref(), a: gp.ref(), b: x.ref(), M: s.OC, N: s.C, K: s.M, transA: true });
        else matmulKernel(rt, { out: dw.ref(), a: x.ref(), b: gp.ref(), M: s.C, N: s.OC, K: s.M, transA: true });
      }
      const db = bias?.requiresGrad ? sumTo(gp.view([s.M, s.OC]), [1, s.OC]).view([s.OC]) : null;
      if (gp !== g) gp.dispose();
      return [dx, dw, db];
    },
  },
  softmax: {
    forward: ([x]: T1, { log }: { log: boolean }) => {
      assertF32(log ? 'logSoftmax' : 'softmax', x);
      const out = empty(x.shape);
      const C = x.shape[x.rank - 1]!;
      softmaxForward(runtime(), { out: out.ref(), inp: x.ref() }, { N: x.size / C, C, log });
      return out;
    },
    backward: (g: Tensor, [x]: T1, { log }: { log: boolean }, _s: readonly Tensor[], out: Tensor) => {
      const dinp = empty(x.shape);
      const C = x.shape[x.rank - 1]!;
      softmaxBackward(runtime(), { dinp: dinp.ref(), dout: g.ref(), out: out.ref() }, { N: x.size / C, C, log });
      return [dinp];
    },
  },
  crossEntropy: {
    // logits [N, Vp] (columns >= V are padding), targets [N] ints → mean loss over non-ignored rows.
    forward: ([logits, targets]: T2, s: { N: number; V: number; Vp: number; ignoreIndex: number }) => {
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
    backward: (g: Tensor, [logits, targets]: T2, s: { N: number; V: number; Vp: number; ignoreIndex: number }) => {
      const dlogits = empty(logits.shape);
      crossEntropyBackward(
        runtime(),
        { dlogits: dlogits.ref(), logits: logits.ref(), targets: targets.ref(), dloss: g.ref() },
        s,
      );
      return [dlogits, null];
    },
  },
  embedding: {
    // weight [V, C], ids [...] → [..., C]; with wpe [maxT, C] and ids [B, T], adds wpe[t] (GPT's encoder).
    forward: (
      [weight, ids, wpe]: readonly [Tensor, Tensor, Tensor?],
      s: { B: number; T: number; C: number; V: number },
    ) => {
      const out = empty([...ids.shape, s.C]);
      embeddingForward(runtime(), { out: out.ref(), inp: ids.ref(), wte: weight.ref(), wpe: wpe?.ref() }, s);
      return out;
    },
    backward: (
      g: Tensor,
      [weight, ids, wpe]: readonly [Tensor, Tensor, Tensor?],
      s: { B: number; T: number; C: number; V: number },
    ) => {
      const dwte = zerosLike(weight.shape);
      const dwpe = wpe ? zerosLike(wpe.shape) : null;
      embeddingBackward(runtime(), { dwte: dwte.ref(), dwpe: dwpe?.ref(), dout: g.ref(), inp: ids.ref() }, s);
      return [dwte, null, dwpe];
    },
  },
  layernorm: {
    forward: ([x, w, b]: T3, s: { N: number; C: number; eps: number }, save: (t: Tensor) => void) => {
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
    backward: (g: Tensor, [x, w, b]: T3, s: { N: number; C: number; eps: number }, [mean, rstd]: readonly Tensor[]) => {
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
  },
  attention: {
    // Causal self-attention; q, k, v, out are [B, NH, T, HS]; lse [B, NH, T] is saved.
    forward: ([q, k, v]: T3, s: { B: number; NH: number; T: number; HS: number }, save: (t: Tensor) => void) => {
      const out = empty(q.shape);
      const lse = empty([s.B, s.NH, s.T]);
      attentionForward(runtime(), { out: out.ref(), lse: lse.ref(), q: q.ref(), k: k.ref(), v: v.ref() }, s);
      save(lse);
      return out;
    },
    backward: (
      g: Tensor,
      [q, k, v]: T3,
      s: { B: number; NH: number; T: number; HS: number },
      [lse]: readonly Tensor[],
      out: Tensor,
    ) => {
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
  },
  attentionPacked: {
    // qkv [3, B, NH, T, HS] (q, k, v stacked, each a bindable range) → [B, NH, T, HS]. The backward
    // writes dq, dk, dv straight into one [3, ...] gradient: no split, no zero-fill, no adds.
    forward: ([qkv]: T1, s: AttnShape, save: (t: Tensor) => void) => {
      const out = empty([s.B, s.NH, s.T, s.HS]);
      const lse = empty([s.B, s.NH, s.T]);
      const [q, k, v] = thirds(qkv);
      attentionForward(runtime(), { out: out.ref(), lse: lse.ref(), q, k, v }, s);
      save(lse);
      return out;
    },
    backward: (g: Tensor, [qkv]: T1, s: AttnShape, [lse]: readonly Tensor[], out: Tensor) => {
      const dqkv = empty(qkv.shape);
      const [q, k, v] = thirds(qkv);
      const [dq, dk, dv] = thirds(dqkv);
      attentionBackward(runtime(), { dq, dk, dv, dout: g.ref(), q, k, v, out: out.ref(), lse: lse!.ref() }, s);
      return [dqkv];
    },
  },
  dropout: {
    forward: ([x]: T1, s: { p: number; seed: number }) => {
      const out = empty(x.shape);
      dropoutKernel(runtime(), { out: out.ref(), inp: x.ref() }, { n: x.size, p: s.p, seed: s.seed });
      return out;
    },
    // The mask is a function of (seed, index), so backward applies the same dropout to dout.
    backward: (g: Tensor, _x: T1, s: { p: number; seed: number }) => {
      const dinp = empty(g.shape);
      dropoutKernel(runtime(), { out: dinp.ref(), inp: g.ref() }, { n: g.size, p: s.p, seed: s.seed });
      return [dinp];
    },
  },
  maskedFill: {
    forward: ([x, mask]: T2, { value }: { value: number }) => {
      const out = kBinary('maskedFill', x, mask, value, 'maskedFill');
      if (out.shape.length !== x.shape.length || out.shape.some((d, i) => d !== x.shape[i])) {
        out.dispose();
        throw new Error(
          `maskedFill: mask ${fmtShape(mask.shape)} must broadcast to the input's shape ${fmtShape(x.shape)}`,
        );
      }
      return out;
    },
    backward: (g: Tensor, [, mask]: T2) => [kBinary('maskedFill', g, mask, 0, 'maskedFill'), null],
  },
  reshape: {
    forward: ([x]: T1, { shape }: { shape: number[] }) => x.view(shape),
    backward: (g: Tensor, [x]: T1) => [g.view(x.shape)],
  },
  permute: {
    forward: ([x]: T1, { perm }: { perm: number[] }) => {
      const st = contiguousStrides(x.shape);
      return kGather(
        x,
        perm.map((p) => x.shape[p]!),
        perm.map((p) => st[p]!),
        0,
      );
    },
    backward: (g: Tensor, _x: T1, { perm }: { perm: number[] }) => {
      const inv = new Array<number>(perm.length);
      perm.forEach((p, i) => (inv[p] = i));
      return [permute(g, inv)];
    },
  },
  broadcastTo: {
    forward: ([x]: T1, { shape }: { shape: number[] }) => kGather(x, shape, broadcastStrides(x.shape, shape), 0),
    backward: (g: Tensor, [x]: T1) => [sumTo(g, x.shape)],
  },
  slice: {
    forward: ([x]: T1, { axis, start, end }: { axis: number; start: number; end: number }) => {
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
    backward: (g: Tensor, [x]: T1, { axis, start }: { axis: number; start: number; end: number }) => {
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
  },
} satisfies Record<string, AnyOp>;

export type OpName = keyof typeof OPS;

interface AttnShape {
  B: number;
  NH: number;
  T: number;
  HS: number;
}

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

interface MatmulShape {
  batch: number;
  M: number;
  N: number;
  K: number;
  batchA: number;
  batchB: number;
  outShape: number[];
}

interface LinearShape {
  M: number;
  C: number;
  OC: number;
  transW: boolean;
  gelu: boolean;
}

// ---- public functions ------------------------------------------------------------------------

const scalarOp =
  (name: 'pow' | 'addScalar' | 'mulScalar') =>
  (x: Tensor, s: number): Tensor =>
    apply(name, OPS[name] as OpDef<T1, { s: number }>, [x] as const, { s });

export const add = (a: Tensor, b: Tensor): Tensor => apply('add', OPS.add, [a, b] as const, {});
export const sub = (a: Tensor, b: Tensor): Tensor => apply('sub', OPS.sub, [a, b] as const, {});
export const mul = (a: Tensor, b: Tensor): Tensor => apply('mul', OPS.mul, [a, b] as const, {});
export const div = (a: Tensor, b: Tensor): Tensor => apply('div', OPS.div, [a, b] as const, {});
export const neg = (x: Tensor): Tensor => apply('neg', OPS.neg, [x] as const, { s: 0 });
export const exp = (x: Tensor): Tensor => apply('exp', OPS.exp, [x] as const, { s: 0 });
export const log = (x: Tensor): Tensor => apply('log', OPS.log, [x] as const, { s: 0 });
export const sqrt = (x: Tensor): Tensor => apply('sqrt', OPS.sqrt, [x] as const, { s: 0 });
export const tanh = (x: Tensor): Tensor => apply('tanh', OPS.tanh, [x] as const, { s: 0 });
export const relu = (x: Tensor): Tensor => apply('relu', OPS.relu, [x] as const, { s: 0 });
export const gelu = (x: Tensor): Tensor => apply('gelu', OPS.gelu, [x] as const, {});
export const powScalar = scalarOp('pow');
export const addScalar = scalarOp('addScalar');
export const mulScalar = scalarOp('mulScalar');

/** Sum over `axis` (or everything when axis is undefined). */
export function sum(x: Tensor, axis?: number, keepdim = false): Tensor {
  return reduceOp('sum', x, axis, keepdim, 1);
}

export function mean(x: Tensor, axis?: number, keepdim = false): Tensor {
  const n = axis === undefined ? x.size : x.shape[normAxis('mean', axis, x.rank)]!;
  return reduceOp('mean', x, axis, keepdim, 1 / n);
}

export function max(x: Tensor, axis?: number, keepdim = false): Tensor {
  return reduceOp('max', x, axis, keepdim, 1);
}

function reduceOp(
  name: 'sum' | 'mean' | 'max',
  x: Tensor,
  axis: number | undefined,
  keepdim: boolean,
  scale: number,
): Tensor {
  if (x.size === 0) throw new Error(`${name}: cannot reduce an empty tensor ${x.describe()}`);
  if (axis === undefined) {
    // The flattened view stays alive: the tape needs it until backward (tidy disposes it).
    const r = reduceOp(name, reshape(x, [x.size]), 0, false, scale);
    return keepdim
      ? reshape(
          r,
          x.shape.map(() => 1),
        )
      : r;
  }
  const a = normAxis(name, axis, x.rank);
  const out =
    name === 'max'
      ? apply('max', OPS.max, [x] as const, { axis: a })
      : apply('sum', OPS.sum, [x] as const, { axis: a, scale });
  if (keepdim) return out;
  const squeezed = reshape(
    out,
    x.shape.filter((_, i) => i !== a),
  );
  return squeezed;
}

export function reshape(x: Tensor, shape: readonly number[]): Tensor {
  const s = [...shape];
  const inferred = s.indexOf(-1);
  if (inferred >= 0) {
    const rest = shapeSize(s.filter((d) => d !== -1));
    s[inferred] = rest === 0 ? 0 : x.size / rest;
  }
  if (shapeSize(s) !== x.size || s.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`reshape: cannot reshape ${x.describe()} (${x.size} elements) to ${fmtShape(shape)}`);
  }
  return apply('reshape', OPS.reshape, [x] as const, { shape: s });
}

export function permute(x: Tensor, perm: readonly number[]): Tensor {
  if (perm.length !== x.rank || [...perm].sort((a, b) => a - b).some((p, i) => p !== i)) {
    throw new Error(`permute: ${fmtShape(perm)} is not a permutation of the ${x.rank} axes of ${x.describe()}`);
  }
  return apply('permute', OPS.permute, [x] as const, { perm: [...perm] });
}

export function transpose(x: Tensor, a = -2, b = -1): Tensor {
  if (x.rank < 2) throw new Error(`transpose: ${x.describe()} has fewer than 2 axes`);
  const i = normAxis('transpose', a, x.rank);
  const j = normAxis('transpose', b, x.rank);
  const perm = x.shape.map((_, k) => k);
  perm[i] = j;
  perm[j] = i;
  return permute(x, perm);
}

export function broadcastTo(x: Tensor, shape: readonly number[]): Tensor {
  const s = broadcastShapes('broadcastTo', x.shape, shape);
  if (s.length !== shape.length || s.some((d, i) => d !== shape[i])) {
    throw new Error(`broadcastTo: ${x.describe()} cannot be broadcast to ${fmtShape(shape)}`);
  }
  if (x.shape.length === shape.length && x.shape.every((d, i) => d === shape[i])) return reshape(x, shape);
  return apply('broadcastTo', OPS.broadcastTo, [x] as const, { shape: [...shape] });
}

export function slice(x: Tensor, axis: number, start: number, end: number): Tensor {
  const a = normAxis('slice', axis, x.rank);
  const n = x.shape[a]!;
  if (!Number.isInteger(start) || !Number.isInteger(end) || start < 0 || end > n || start > end) {
    throw new Error(`slice: range [${start}, ${end}) is out of bounds for axis ${axis} of ${x.describe()}`);
  }
  return apply('slice', OPS.slice, [x] as const, { axis: a, start, end });
}

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

export function concat(ts: readonly Tensor[], axis = -1): Tensor {
  if (ts.length === 0) throw new Error('concat: no tensors given');
  const first = ts[0]!;
  const a = normAxis('concat', axis, first.rank);
  for (const t of ts) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i]) || t.dtype !== first.dtype) {
      throw new Error(`concat: ${t.describe()} does not match ${first.describe()} outside axis ${axis}`);
    }
  }
  // concat(x₀..xₙ) = Σ pad(xᵢ): each piece is a slice-backward, so the tape needs no new op.
  const shape = first.shape.map((d, i) => (i === a ? ts.reduce((s, t) => s + t.shape[a]!, 0) : d));
  const st = contiguousStrides(shape);
  if (!isGradEnabled() || !ts.some((t) => t.requiresGrad)) {
    const out = empty(shape, first.dtype);
    let start = 0;
    for (const t of ts) {
      if (t.size > 0) {
        const c = collapse(t.shape, [contiguousStrides(t.shape), st]);
        stridedCopy(
          runtime(),
          { out: out.ref(), inp: t.ref() },
          { shape: c.shape, si: c.strides[0]!, so: c.strides[1]!, outOffset: start * st[a]! },
        );
      }
      start += t.shape[a]!;
    }
    return out;
  }
  return apply('concat', concatDef(ts.length), ts, { axis: a, shape });
}

function concatDef(n: number): OpDef<readonly Tensor[], { axis: number; shape: number[] }> {
  return {
    forward: (ts, { axis }) => noGrad(() => concat(ts, axis)),
    backward: (g, ts, { axis }) => {
      let start = 0;
      return ts.slice(0, n).map((t) => {
        const piece = slice(g, axis, start, start + t.shape[axis]!);
        start += t.shape[axis]!;
        return t.requiresGrad ? piece : (piece.dispose(), null);
      });
    },
  };
}

/** Matrix product over the last two axes with numpy broadcasting of the leading ones. */
export function matmul(a: Tensor, b: Tensor): Tensor {
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
  if (B.n === 1 && A.n === batch && batch > 1) {
    // A shared weight: fold the batch into M, one big matmul.
    const a2 = reshape(A.t, [batch * M, K]);
    const b2 = reshape(B.t, [K, N]);
    const o = apply('matmul', OPS.matmul, [a2, b2] as const, {
      batch: 1,
      M: batch * M,
      N,
      K,
      batchA: 1,
      batchB: 1,
      outShape: [batch * M, N],
    });
    return reshape(o, outShape);
  }
  return apply('matmul', OPS.matmul, [A.t, B.t] as const, { batch, M, N, K, batchA: A.n, batchB: B.n, outShape });
}

/** x [..., C] · W [C, OC] + bias [OC], optionally followed by GELU in the same kernel. W is [OC, C] with transW. */
export function linear(
  x: Tensor,
  w: Tensor,
  bias?: Tensor | null,
  opts: { gelu?: boolean; transW?: boolean } = {},
): Tensor {
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
  const s: LinearShape = { M: x.size / C, C, OC: woc, transW, gelu: opts.gelu ?? false };
  const inputs = (bias ? [x, w, bias] : [x, w]) as readonly [Tensor, Tensor, Tensor?];
  return apply('linear', OPS.linear, inputs, s);
}

export const softmax = (x: Tensor): Tensor => apply('softmax', OPS.softmax, [x] as const, { log: false });
export const logSoftmax = (x: Tensor): Tensor => apply('logSoftmax', OPS.softmax, [x] as const, { log: true });

/** Mean cross-entropy of logits [N, Vp] against integer targets [N]; rows whose target is ignoreIndex do not count. */
export function crossEntropy(logits: Tensor, targets: Tensor, opts: { ignoreIndex?: number; V?: number } = {}): Tensor {
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
  return apply('crossEntropy', OPS.crossEntropy, [logits, targets] as const, {
    N,
    V,
    Vp,
    ignoreIndex: opts.ignoreIndex ?? -1,
  });
}

/** weight [V, C] rows gathered by integer ids; with wpe [maxT, C] and ids [B, T], position rows are added. */
export function embedding(weight: Tensor, ids: Tensor, wpe?: Tensor | null): Tensor {
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
  const inputs = (wpe ? [weight, ids, wpe] : [weight, ids]) as readonly [Tensor, Tensor, Tensor?];
  return apply('embedding', OPS.embedding, inputs, { B, T, C, V });
}

export function layernorm(x: Tensor, w: Tensor, b: Tensor, eps = 1e-5): Tensor {
  assertF32('layernorm', x, w, b);
  const C = x.shape[x.rank - 1]!;
  if (w.size !== C || b.size !== C)
    throw new Error(
      `layernorm: weight ${w.describe()} and bias ${b.describe()} must have ${C} elements to match ${x.describe()}`,
    );
  return apply('layernorm', OPS.layernorm, [x, w, b] as const, { N: x.size / C, C, eps });
}

/** Causal scaled dot-product attention, q/k/v [B, NH, T, HS] → [B, NH, T, HS], fused (flash). */
export function attention(q: Tensor, k: Tensor, v: Tensor): Tensor {
  assertF32('attention', q, k, v);
  if (q.rank !== 4) throw new Error(`attention: q must be [B, NH, T, HS], got ${q.describe()}`);
  for (const t of [k, v])
    if (t.shape.some((d, i) => d !== q.shape[i]))
      throw new Error(`attention: ${t.describe()} must match q ${q.describe()}`);
  const [B, NH, T, HS] = q.shape as [number, number, number, number];
  return apply('attention', OPS.attention, [q, k, v] as const, { B, NH, T, HS });
}

/**
 * Causal attention over q, k, v stacked in one tensor [3, B, NH, T, HS] (what one permute of a
 * fused c_attn output gives). Falls back to three slices when a third does not start at a
 * bindable offset.
 */
export function attentionPacked(qkv: Tensor): Tensor {
  assertF32('attention', qkv);
  if (qkv.rank !== 5 || qkv.shape[0] !== 3)
    throw new Error(`attention: packed qkv must be [3, B, NH, T, HS], got ${qkv.describe()}`);
  const [, B, NH, T, HS] = qkv.shape as [number, number, number, number, number];
  const rt = runtime();
  if (((qkv.size / 3) * 4) % rt.limits.minStorageBufferOffsetAlignment !== 0 || !qkv.bindable) {
    const [q, k, v] = split(qkv, [1, 1, 1], 0).map((t) => reshape(t, [B, NH, T, HS])) as [Tensor, Tensor, Tensor];
    return attention(q, k, v);
  }
  return apply('attention', OPS.attentionPacked, [qkv] as const, { B, NH, T, HS });
}

/** Zeroes each element with probability p (seeded) and scales the rest by 1/(1-p). */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p < 1)) throw new Error(`dropout: p must be in [0, 1), got ${p}`);
  if (p === 0) return reshape(x, x.shape);
  return apply('dropout', OPS.dropout, [x] as const, { p, seed });
}

/** Where mask (broadcast to x) is nonzero, value; elsewhere x. */
export function maskedFill(x: Tensor, mask: Tensor, value: number): Tensor {
  assertF32('maskedFill', x, mask);
  return apply('maskedFill', OPS.maskedFill, [x, mask] as const, { value });
}

// `apply` for tests that check the tape mechanics directly.
export { apply as applyOp };

/** The same values, cut off from the tape: no gradient flows through the result. */
export function detach(x: Tensor): Tensor {
  x.storageFor('detach');
  return x.view(x.shape);
}
