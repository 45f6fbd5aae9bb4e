// Every engine op, forward and backward, on the GPU against the float64 reference (engine/reference.ts),
// on fresh random inputs at several shapes: size 1, odd sizes (3, 17, 33, 257) and broadcasting.
// Every tensor the engine allocates is poisoned with NaN first, so an element a kernel forgot to
// write fails the comparison.
import { afterAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { Rng } from '../../kernels/random.ts';
import {
  randn,
  randu,
  refBackward,
  refForward,
  refTensor,
  type RefOpAttrs,
  type RefOpName,
  type RefTensor,
} from '../../engine/reference.ts';
import { assertClose, type TolName } from '../../kernels/check.ts';

const rt = await E.initEngine();
rt.poisonNewTensors = true;
afterAll(() => {
  rt.poisonNewTensors = false;
});

const f32 = (t: RefTensor): RefTensor => ({ shape: t.shape, data: Float64Array.from(Float32Array.from(t.data)) });

type Gen = (rng: Rng) => RefTensor;
const normal =
  (shape: number[]): Gen =>
  (rng) =>
    f32(randn(shape, rng));
const positive =
  (shape: number[]): Gen =>
  (rng) =>
    f32(randu(shape, rng, 0.5, 2));
const ints =
  (shape: number[], hi: number, extra: number[] = []): Gen =>
  (rng) =>
    refTensor(
      shape,
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => extra[i] ?? Math.floor(rng.uniform() * hi)),
    );
const mask =
  (shape: number[]): Gen =>
  (rng) =>
    refTensor(
      shape,
      Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.uniform() < 0.4 ? 1 : 0)),
    );

interface Case {
  name: string;
  ref: RefOpName;
  attrs: object;
  inputs: Gen[];
  /** Which inputs are integer tensors (ids, targets): uploaded as i32, no gradient. */
  intInputs?: number[];
  /** Which inputs get no gradient (masks). */
  noGrad?: number[];
  run: (xs: E.Tensor[]) => E.Tensor;
  tol?: TolName;
}

const binary = (op: 'add' | 'sub' | 'mul' | 'div', fn: (a: E.Tensor, b: E.Tensor) => E.Tensor): Case[] =>
  [
    [[1], [1]],
    [
      [3, 1, 5],
      [4, 5],
    ],
    [[17], [1]],
    [[33, 257], [257]],
    [[], [2, 3]],
    [
      [2, 1, 3, 1],
      [1, 17, 1, 5],
    ],
  ].map(([a, b]) => ({
    name: `${op} ${JSON.stringify(a)} ${JSON.stringify(b)}`,
    ref: op,
    attrs: {},
    inputs: [normal(a!), op === 'div' ? positive(b!) : normal(b!)],
    run: ([x, y]) => fn(x!, y!),
  }));

const unaryShapes = [[1], [3, 17], [257]];
const unary = (
  op: RefOpName,
  fn: (x: E.Tensor) => E.Tensor,
  gen: (s: number[]) => Gen = normal,
  attrs: object = {},
  tol: TolName = 'f32Math',
): Case[] =>
  unaryShapes.map((s) => ({
    name: `${op}${JSON.stringify(attrs)} ${JSON.stringify(s)}`,
    ref: op,
    attrs,
    inputs: [gen(s)],
    run: ([x]) => fn(x!),
    tol,
  }));

const reduceCases = (
  op: 'sum' | 'mean' | 'max',
  fn: (x: E.Tensor, axis?: number, keepdim?: boolean) => E.Tensor,
): Case[] =>
  (
    [
      [[1], undefined, false],
      [[3, 17], 1, false],
      [[3, 17], 0, true],
      [[33, 5, 7], 1, false],
      [[33, 5, 7], -1, true],
      [[257], undefined, true],
      [[4, 300], -1, false],
    ] as [number[], number | undefined, boolean][]
  ).map(([s, axis, keepdim]) => ({
    name: `${op} ${JSON.stringify(s)} axis=${axis} keepdim=${keepdim}`,
    ref: op,
    attrs: { axis, keepdim },
    inputs: [normal(s)],
    run: ([x]) => fn(x!, axis, keepdim),
    tol: 'f32Reduce',
  }));

const CASES: Case[] = [
  ...binary('add', E.add),
  ...binary('sub', E.sub),
  ...binary('mul', E.mul),
  ...binary('div', E.div),
  ...unary('neg', E.neg, normal, {}, 'f32'),
  ...unary('exp', E.exp),
  ...unary('log', E.log, positive),
  ...unary('sqrt', E.sqrt, positive),
  ...unary('tanh', E.tanh),
  ...unary('relu', E.relu, normal, {}, 'f32'),
  ...unary('gelu', E.gelu),
  ...unary('powScalar', (x) => E.powScalar(x, 3), normal, { p: 3 }),
  ...unary('powScalar', (x) => E.powScalar(x, 0.5), positive, { p: 0.5 }),
  ...unary('addScalar', (x) => E.addScalar(x, 1.5), normal, { s: 1.5 }, 'f32'),
  ...unary('mulScalar', (x) => E.mulScalar(x, -2.5), normal, { s: -2.5 }, 'f32'),
  ...reduceCases('sum', E.sum),
  ...reduceCases('mean', E.mean),
  ...reduceCases('max', E.max),
  ...(
    [
      [
        [3, 5],
        [5, 7],
      ],
      [
        [2, 3, 17],
        [17, 4],
      ],
      [
        [2, 3, 5],
        [2, 5, 33],
      ],
      [
        [1, 4, 3],
        [2, 3, 5],
      ],
      [
        [33, 1],
        [1, 17],
      ],
      [
        [1, 1],
        [1, 1],
      ],
    ] as number[][][]
  ).map(([a, b]): Case => ({
    name: `matmul ${JSON.stringify(a)}·${JSON.stringify(b)}`,
    ref: 'matmul',
    attrs: {},
    inputs: [normal(a!), normal(b!)],
    run: ([x, y]) => E.matmul(x!, y!),
    tol: 'f32Reduce',
  })),
  ...[
    [1, 1],
    [3, 17],
    [5, 257],
  ].flatMap((s): Case[] => [
    {
      name: `softmax ${JSON.stringify(s)}`,
      ref: 'softmax',
      attrs: {},
      inputs: [normal(s)],
      run: ([x]) => E.softmax(x!),
      tol: 'f32Math',
    },
    {
      name: `logSoftmax ${JSON.stringify(s)}`,
      ref: 'logSoftmax',
      attrs: {},
      inputs: [normal(s)],
      run: ([x]) => E.logSoftmax(x!),
      tol: 'f32Math',
    },
  ]),
  ...[
    [1, 3],
    [7, 33],
    [17, 257],
  ].map(([N, V]): Case => ({
    name: `crossEntropy N=${N} V=${V} with an ignored row`,
    ref: 'crossEntropy',
    attrs: { ignoreIndex: -1 },
    inputs: [normal([N!, V!]), ints([N!], V!, N! > 1 ? [-1] : [])],
    intInputs: [1],
    run: ([l, t]) => E.crossEntropy(l!, t!, { ignoreIndex: -1 }),
    tol: 'f32Math',
  })),
  ...[
    [[1, 1], [1]],
    [
      [17, 5],
      [3, 4],
    ],
    [[33, 3], [257]],
  ].map(([w, ids]): Case => ({
    name: `embedding ${JSON.stringify(w)} ids ${JSON.stringify(ids)}`,
    ref: 'embedding',
    attrs: {},
    inputs: [normal(w!), ints(ids!, w![0]!)],
    intInputs: [1],
    run: ([wt, i]) => E.embedding(wt!, i!),
  })),
  // Shapes that divide no tile or vector width (B·C odd, T > B, a single sequence).
  ...[
    [1, 1, 1],
    [3, 5, 7],
    [5, 17, 33],
    [2, 3, 4],
  ].map(([B, T, C]): Case => ({
    name: `gatherRows [${B},${T},${C}]`,
    ref: 'gatherRows',
    attrs: {},
    inputs: [normal([B!, T!, C!]), ints([B!], T!, [T! - 1])],
    intInputs: [1],
    run: ([x, p]) => E.gatherRows(x!, p!),
  })),
  ...[
    [1, 2],
    [3, 17],
    [2, 3, 33],
    [5, 257],
  ].map((s): Case => {
    const C = s[s.length - 1]!;
    return {
      name: `layernorm ${JSON.stringify(s)}`,
      ref: 'layernorm',
      attrs: { eps: 1e-5 },
      inputs: [normal(s), normal([C]), normal([C])],
      run: ([x, w, b]) => E.layernorm(x!, w!, b!, 1e-5),
      tol: 'f32Reduce',
    };
  }),
  ...[
    [
      [3, 5],
      [3, 1],
    ],
    [[2, 17], [17]],
    [[33], [33]],
  ].map(([x, m]): Case => ({
    name: `maskedFill ${JSON.stringify(x)} mask ${JSON.stringify(m)}`,
    ref: 'maskedFill',
    attrs: { value: -7 },
    inputs: [normal(x!), mask(m!)],
    noGrad: [1],
    run: ([t, k]) => E.maskedFill(t!, k!, -7),
    tol: 'exact',
  })),
  {
    name: 'concat axis 0',
    ref: 'concat',
    attrs: { axis: 0 },
    inputs: [normal([1, 3]), normal([4, 3]), normal([2, 3])],
    run: (xs) => E.concat(xs, 0),
    tol: 'exact',
  },
  {
    name: 'concat axis -1',
    ref: 'concat',
    attrs: { axis: 1 },
    inputs: [normal([3, 5]), normal([3, 17])],
    run: (xs) => E.concat(xs, -1),
    tol: 'exact',
  },
  {
    name: 'slice middle axis',
    ref: 'slice',
    attrs: { axis: 1, start: 2, end: 9 },
    inputs: [normal([3, 17, 5])],
    run: ([x]) => E.slice(x!, 1, 2, 9),
    tol: 'exact',
  },
  {
    name: 'slice leading axis (view)',
    ref: 'slice',
    attrs: { axis: 0, start: 64, end: 65 },
    inputs: [normal([129, 1])],
    run: ([x]) => E.slice(x!, 0, 64, 65),
    tol: 'exact',
  },
  {
    name: 'slice leading axis (unaligned)',
    ref: 'slice',
    attrs: { axis: 0, start: 1, end: 3 },
    inputs: [normal([3, 17])],
    run: ([x]) => E.slice(x!, 0, 1, 3),
    tol: 'exact',
  },
  {
    name: 'permute',
    ref: 'permute',
    attrs: { perm: [2, 0, 1] },
    inputs: [normal([3, 5, 17])],
    run: ([x]) => E.permute(x!, [2, 0, 1]),
    tol: 'exact',
  },
  {
    name: 'transpose',
    ref: 'transpose',
    attrs: { perm: [1, 0] },
    inputs: [normal([33, 7])],
    run: ([x]) => E.transpose(x!),
    tol: 'exact',
  },
  {
    name: 'reshape',
    ref: 'reshape',
    attrs: { shape: [17, 3] },
    inputs: [normal([3, 17])],
    run: ([x]) => E.reshape(x!, [17, 3]),
    tol: 'exact',
  },
  ...(
    [
      [[5, 17], [17, 33], true, false],
      [[2, 3, 8], [7, 8], false, true],
    ] as [number[], number[], boolean, boolean][]
  ).flatMap(([x, w, gelu, transW]): Case[] =>
    [true, false].map((bias) => ({
      name: `linear ${JSON.stringify(x)}·${JSON.stringify(w)} gelu=${gelu} transW=${transW} bias=${bias}`,
      ref: 'linear',
      attrs: { gelu, transW },
      inputs: [normal(x), normal(w), ...(bias ? [normal([w[transW ? 0 : 1]!])] : [])],
      run: ([a, b, c]) => E.linear(a!, b!, c, { gelu, transW }),
      tol: 'f32Reduce',
    })),
  ),
  {
    name: 'attention [1,2,5,32]',
    ref: 'attention',
    attrs: {},
    inputs: [normal([1, 2, 5, 32]), normal([1, 2, 5, 32]), normal([1, 2, 5, 32])],
    run: ([q, k, v]) => E.attention(q!, k!, v!),
    tol: 'f32Chain',
  },
  {
    name: 'attentionPacked [3,1,2,5,32]',
    ref: 'attentionPacked',
    attrs: {},
    inputs: [normal([3, 1, 2, 5, 32])],
    run: ([qkv]) => E.attentionPacked(qkv!),
    tol: 'f32Chain',
  },
  {
    name: 'broadcastTo',
    ref: 'broadcastTo',
    attrs: { shape: [4, 3, 5] },
    inputs: [normal([3, 1])],
    run: ([x]) => E.broadcastTo(x!, [4, 3, 5]),
    tol: 'f32',
  },
];

describe('engine ops vs the float64 reference, forward and backward', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const rng = new Rng(c.name.length * 7919 + c.name.charCodeAt(0));
      const refInputs = c.inputs.map((g) => g(rng));
      await E.tidy(async () => {
        const xs = refInputs.map((r, i) => {
          const isInt = c.intInputs?.includes(i);
          const t = E.fromArray(
            isInt ? Int32Array.from(r.data) : Float32Array.from(r.data),
            r.shape,
            isInt ? 'i32' : 'f32',
          );
          if (!isInt && !c.noGrad?.includes(i)) t.requiresGrad = true;
          return t;
        });
        const out = c.run(xs);
        const refOut = refForward(c.ref, refInputs, c.attrs as RefOpAttrs[typeof c.ref]);
        expect(out.shape).toEqual(refOut.shape);
        assertClose(await out.data(), refOut.data, c.tol ?? 'f32', `${c.name} forward`);
        const dout = f32(randn(refOut.shape, rng));
        E.backward(out, E.fromArray(Float32Array.from(dout.data), dout.shape));
        const refGrads = refBackward(c.ref, refInputs, c.attrs as RefOpAttrs[typeof c.ref], refOut, dout);
        for (let i = 0; i < xs.length; i++) {
          const x = xs[i]!;
          if (!x.requiresGrad) continue;
          const rg = refGrads[i];
          expect(x.grad, `${c.name}: input ${i} has a gradient`).not.toBeNull();
          expect(x.grad!.shape).toEqual(x.shape);
          assertClose(
            await x.grad!.data(),
            rg ? rg.data : new Float64Array(x.size),
            c.tol ?? 'f32',
            `${c.name} d(input ${i})`,
          );
          x.zeroGrad();
        }
      });
    });
  }
});

describe('coverage', () => {
  it('every op in the table has a case above (dropout, whose mask the GPU draws, has its own test below)', () => {
    const covered = new Set<string>([...CASES.map((c) => c.ref), 'dropout']);
    expect(Object.keys(E.OPS).filter((n) => !covered.has(n))).toEqual([]);
  });
});

describe('ops beyond the reference table', () => {
  it('dropout: the backward uses the forward mask; same seed, same mask', async () => {
    await E.tidy(async () => {
      const x = E.randn([33, 17], { seed: 1 });
      x.requiresGrad = true;
      const y = E.dropout(x, 0.3, 1234);
      const ones = E.dropout(E.ones([33, 17]), 0.3, 1234);
      const m = Array.from(await ones.data()).map((v) => v * 0.7);
      for (const v of m) expect([0, 1]).toContain(Math.round(v * 1e4) / 1e4);
      const kept = m.filter((v) => v > 0.5).length / m.length;
      expect(kept).toBeGreaterThan(0.55);
      expect(kept).toBeLessThan(0.85);
      const xd = await x.data();
      const refOut = refForward(
        'dropout',
        [
          { shape: [33, 17], data: Float64Array.from(xd) },
          { shape: [33, 17], data: Float64Array.from(m.map(Math.round)) },
        ],
        { p: 0.3 },
      );
      assertClose(await y.data(), refOut.data, 'f32', 'dropout forward');
      E.backward(E.sum(y));
      assertClose(
        await x.grad!.data(),
        m.map((v) => Math.round(v) / 0.7),
        'f32',
        'dropout backward',
      );
      const other = E.dropout(E.ones([33, 17]), 0.3, 99);
      expect(Array.from(await other.data())).not.toEqual(Array.from(await ones.data()));
    });
  });

  it('split is slices whose gradients land in the right places', async () => {
    await E.tidy(async () => {
      const x = E.randn([3, 10], { seed: 2 });
      x.requiresGrad = true;
      const [a, b, c] = E.split(x, [2, 5, 3], 1) as [E.Tensor, E.Tensor, E.Tensor];
      expect(b.shape).toEqual([3, 5]);
      const loss = E.add(E.sum(E.mulScalar(a, 1)), E.add(E.sum(E.mulScalar(b, 2)), E.sum(E.mulScalar(c, 3))));
      E.backward(loss);
      const g = await x.grad!.data();
      const expected = Array.from({ length: 30 }, (_, i) => (i % 10 < 2 ? 1 : i % 10 < 7 ? 2 : 3));
      assertClose(g, expected, 'exact', 'split gradient');
    });
  });

  it('linear with bias, GELU epilogue and a transposed weight matches the composed reference', async () => {
    const rng = new Rng(5);
    for (const [M, C, OC, geluOn, transW] of [
      [5, 17, 33, true, false],
      [3, 8, 7, false, true],
      [1, 3, 1, true, true],
    ] as [number, number, number, boolean, boolean][]) {
      const x = f32(randn([M, C], rng));
      const w = f32(randn(transW ? [OC, C] : [C, OC], rng));
      const b = f32(randn([OC], rng));
      const dout = f32(randn([M, OC], rng));
      // Reference: composed from table ops.
      const wt = transW ? refForward('transpose', [w], { perm: [1, 0] }) : w;
      const mm = refForward('matmul', [x, wt], {});
      const pre = refForward('add', [mm, b], {});
      const out = geluOn ? refForward('gelu', [pre], {}) : pre;
      const dpre = geluOn ? refBackward('gelu', [pre], {}, out, dout)[0]! : dout;
      const [dmm, db] = refBackward('add', [mm, b], {}, pre, dpre);
      const [dx, dwt] = refBackward('matmul', [x, wt], {}, mm, dmm!);
      const dw = transW ? refForward('transpose', [dwt!], { perm: [1, 0] }) : dwt!;
      await E.tidy(async () => {
        const X = E.fromArray(Float32Array.from(x.data), x.shape).param();
        const W = E.fromArray(Float32Array.from(w.data), w.shape).param();
        const Bb = E.fromArray(Float32Array.from(b.data), b.shape).param();
        const y = E.linear(X, W, Bb, { gelu: geluOn, transW });
        assertClose(await y.data(), out.data, 'f32Reduce', 'linear forward');
        E.backward(y, E.fromArray(Float32Array.from(dout.data), dout.shape));
        assertClose(await X.grad!.data(), dx!.data, 'f32Reduce', 'linear dx');
        assertClose(await W.grad!.data(), dw.data, 'f32Reduce', 'linear dw');
        assertClose(await Bb.grad!.data(), db!.data, 'f32Reduce', 'linear db');
        for (const p of [X, W, Bb]) {
          p.zeroGrad();
          p.dispose();
        }
      });
    }
  });

  it('attention: packed qkv (bindable thirds and the split fallback) matches the reference', async () => {
    const { attentionForward: refFwd, attentionBackward: refBwd } = await import('../../kernels/reference.ts');
    for (const [B, NH, T, HS] of [
      [2, 2, 16, 32],
      [1, 1, 3, 32],
    ] as [number, number, number, number][]) {
      const rng = new Rng(B * 1000 + T);
      const n = B * NH * T * HS;
      const qkv = f32(randn([3, B, NH, T, HS], rng));
      const dout = f32(randn([B, NH, T, HS], rng));
      const [q, k, v] = [0, 1, 2].map((i) => qkv.data.subarray(i * n, (i + 1) * n));
      const out = new Float64Array(n);
      const lse = new Float64Array(B * NH * T);
      refFwd(out, lse, q!, k!, v!, B, NH, T, HS);
      const dq = new Float64Array(n),
        dk = new Float64Array(n),
        dv = new Float64Array(n);
      refBwd(dq, dk, dv, dout.data, q!, k!, v!, out, lse, B, NH, T, HS);
      await E.tidy(async () => {
        const X = E.fromArray(Float32Array.from(qkv.data), qkv.shape);
        X.requiresGrad = true;
        const y = E.attentionPacked(X);
        assertClose(await y.data(), out, 'f32Reduce', `attention [${B},${NH},${T},${HS}] forward`);
        E.backward(y, E.fromArray(Float32Array.from(dout.data), dout.shape));
        const g = await X.grad!.data();
        assertClose(g, [...dq, ...dk, ...dv], 'f32Chain', `attention [${B},${NH},${T},${HS}] backward`);
        X.zeroGrad();
      });
    }
  });
});

describe('assign: an in-place write off the tape', () => {
  it('writes src into dst (and into a view of it), returns dst, and leaves grads alone', async () => {
    await E.tidy(async () => {
      const p = E.fromArray([1, 2, 3, 4]).param('p');
      E.backward(E.sum(E.mulScalar(p, 3)));
      const same = E.noGrad(() => E.assign(p, E.sub(p, E.mulScalar(p.grad!, 0.5))));
      expect(same).toBe(p);
      expect(Array.from(await p.data())).toEqual([-0.5, 0.5, 1.5, 2.5]);
      expect(Array.from(await p.grad!.data())).toEqual([3, 3, 3, 3]);
      // A view shares the storage: the write shows through it, and a write into it lands in place.
      const rows = E.fromArray(new Float32Array(128 * 2), [128, 2]);
      const row64 = E.slice(rows, 0, 64, 65);
      E.assign(row64, E.fromArray([7, 8], [1, 2]));
      const all = await rows.data();
      expect([all[128], all[129], all[127], all[130]]).toEqual([7, 8, 0, 0]);
      // dst and src two views of one buffer (a copy through a temporary), and dst = src (nothing to do).
      const x = E.fromArray(
        Array.from({ length: 128 }, (_, i) => i),
        [2, 64],
      );
      E.assign(E.slice(x, 0, 0, 1), E.slice(x, 0, 1, 2));
      const xs = Array.from(await x.data());
      expect(xs.slice(0, 64)).toEqual(xs.slice(64));
      expect(xs[0]).toBe(64);
      expect(E.assign(x, x)).toBe(x);
      p.zeroGrad();
      p.dispose();
    });
  });

  it('refuses what would corrupt a gradient or does not fit, with the reason', () => {
    E.tidy(() => {
      const p = E.zeros([3]).param('w');
      expect(() => E.assign(p, E.ones([3]))).toThrow(
        /assign: dst "w" f32\[3\] requires grad and the tape is recording.*noGrad/,
      );
      const y = E.mulScalar(p, 2);
      expect(() => E.noGrad(() => E.assign(y, E.ones([3])))).toThrow(/output of a mulScalar still on the tape/);
      expect(() => E.noGrad(() => E.assign(p, E.ones([4])))).toThrow(/assign: src f32\[4\] does not match dst/);
      expect(() => E.noGrad(() => E.assign(p, E.zeros([3], 'i32')))).toThrow(/assign: src i32\[3\] does not match/);
      p.dispose();
    });
  });
});
