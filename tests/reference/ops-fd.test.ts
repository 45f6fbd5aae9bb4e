// Every op in engine/reference.ts's refOps against central finite differences, plus hand-checked
// forwards. A final test fails if an op in the table has no finite-difference case here.

import { describe, expect, it } from 'vitest';
import { Rng } from '../../kernels/random.ts';
import {
  broadcastShapes,
  randn,
  randu,
  refBackward,
  refForward,
  refFull,
  refOpNames,
  refOps,
  refScalar,
  refSplit,
  refSplitBackward,
  refTensor,
  type RefOpAttrs,
  type RefOpName,
  type RefTensor,
} from '../../engine/reference.ts';
import { dot, expectClose, expectGradient } from './fd.ts';

interface OpCase {
  name: string;
  op: RefOpName;
  inputs: RefTensor[];
  run(inputs: readonly RefTensor[]): RefTensor;
  grad(inputs: readonly RefTensor[], out: RefTensor, dout: RefTensor): (RefTensor | null)[];
  /** indices of inputs whose gradient must be null (ids, targets, masks) */
  nondiff: number[];
}

/** Type-checks attrs against the op, then erases the type so that cases fit in one array. */
function opCase<K extends RefOpName>(
  name: string,
  op: K,
  inputs: RefTensor[],
  attrs: RefOpAttrs[K],
  nondiff: number[] = [],
): OpCase {
  return {
    name: `${op}: ${name}`,
    op,
    inputs,
    run: (ins) => refForward(op, ins, attrs),
    grad: (ins, out, dout) => refBackward(op, ins, attrs, out, dout),
    nondiff,
  };
}

const rng = new Rng(20240601);
const rn = (...shape: number[]) => randn(shape, rng);
/** Positive values away from 0, for log, sqrt, div and fractional powers. */
const pos = (...shape: number[]) => randu(shape, rng, 0.5, 2);
/** Values at least 0.1 away from 0, so relu's kink is never inside the FD stencil. */
const awayFromZero = (...shape: number[]) => {
  const t = randn(shape, rng);
  t.data.forEach((x, i) => (t.data[i] = Math.sign(x || 1) * (0.1 + Math.abs(x))));
  return t;
};
/** Distinct values spaced by at least 0.1, shuffled: no ties for max, even under FD perturbation. */
const noTies = (...shape: number[]) => {
  const t = refTensor(shape);
  const n = t.data.length;
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.37 + 0.05 * rng.uniform());
  rng.shuffle(vals);
  t.data.set(vals);
  return t;
};
const mask01 = (...shape: number[]) => {
  const t = refTensor(shape);
  t.data.forEach((_, i) => (t.data[i] = rng.uniform() < 0.4 ? 1 : 0));
  return t;
};
const ints = (shape: number[], values: number[]) => refTensor(shape, values);

const cases: OpCase[] = [
  // --- broadcasting binary ops
  opCase('[3,1,5] + [4,5]', 'add', [rn(3, 1, 5), rn(4, 5)], {}),
  opCase('scalar + matrix', 'add', [rn(), rn(2, 3)], {}),
  opCase('[2,1,4] + [3,1]', 'add', [rn(2, 1, 4), rn(3, 1)], {}),
  opCase('same shape', 'add', [rn(2, 3), rn(2, 3)], {}),
  opCase('[1] + [3]', 'add', [rn(1), rn(3)], {}),
  opCase('[3,1,5] - [4,5]', 'sub', [rn(3, 1, 5), rn(4, 5)], {}),
  opCase('matrix - scalar', 'sub', [rn(2, 3), rn()], {}),
  opCase('[3,1,5] * [4,5]', 'mul', [rn(3, 1, 5), rn(4, 5)], {}),
  opCase('[4,1] * [1,3]', 'mul', [rn(4, 1), rn(1, 3)], {}),
  opCase('scalar * scalar', 'mul', [rn(), rn()], {}),
  opCase('[3,1,5] / [4,5]', 'div', [rn(3, 1, 5), pos(4, 5)], {}),
  opCase('scalar / matrix', 'div', [rn(), pos(2, 3)], {}),
  opCase('[2,3] / [3]', 'div', [rn(2, 3), pos(3)], {}),
  // --- unary
  opCase('[2,3]', 'neg', [rn(2, 3)], {}),
  opCase('[7]', 'exp', [rn(7)], {}),
  opCase('scalar', 'exp', [rn()], {}),
  opCase('[2,3] positive', 'log', [pos(2, 3)], {}),
  opCase('[5] positive', 'sqrt', [pos(5)], {}),
  opCase('[3,3]', 'tanh', [rn(3, 3)], {}),
  opCase('[4,5] away from 0', 'relu', [awayFromZero(4, 5)], {}),
  opCase('[3,5]', 'gelu', [randn([3, 5], rng, 2)], {}),
  opCase('p=2', 'powScalar', [rn(2, 3)], { p: 2 }),
  opCase('p=3', 'powScalar', [rn(4)], { p: 3 }),
  opCase('p=0.5', 'powScalar', [pos(4)], { p: 0.5 }),
  opCase('p=-1.5', 'powScalar', [pos(2, 2)], { p: -1.5 }),
  opCase('p=0', 'powScalar', [rn(3)], { p: 0 }),
  opCase('s=2.5', 'addScalar', [rn(2, 3)], { s: 2.5 }),
  opCase('s=-0.7', 'mulScalar', [rn(3, 1)], { s: -0.7 }),
  // --- reductions
  opCase('axis 0', 'sum', [rn(3, 4, 5)], { axis: 0 }),
  opCase('axis 1 keepdim', 'sum', [rn(3, 4, 5)], { axis: 1, keepdim: true }),
  opCase('axis -1', 'sum', [rn(3, 1, 2)], { axis: -1 }),
  opCase('all', 'sum', [rn(3, 4)], {}),
  opCase('all keepdim', 'sum', [rn(2, 3)], { keepdim: true }),
  opCase('axis 2', 'mean', [rn(2, 3, 5)], { axis: 2 }),
  opCase('axis 0 keepdim', 'mean', [rn(3, 1, 2)], { axis: 0, keepdim: true }),
  opCase('all', 'mean', [rn(4, 3)], {}),
  opCase('axis 0', 'max', [noTies(3, 4, 5)], { axis: 0 }),
  opCase('axis 1 keepdim', 'max', [noTies(3, 4, 2)], { axis: 1, keepdim: true }),
  opCase('axis -1', 'max', [noTies(2, 7)], { axis: -1 }),
  opCase('all', 'max', [noTies(3, 5)], {}),
  opCase('size-1 axis', 'max', [noTies(3, 1)], { axis: 1 }),
  // --- matmul
  opCase('[3,4] @ [4,5]', 'matmul', [rn(3, 4), rn(4, 5)], {}),
  opCase('[2,3,4] @ [4,5]', 'matmul', [rn(2, 3, 4), rn(4, 5)], {}),
  opCase('[2,1,3,4] @ [3,4,2]', 'matmul', [rn(2, 1, 3, 4), rn(3, 4, 2)], {}),
  opCase('[5,3,4] @ [1,4,2]', 'matmul', [rn(5, 3, 4), rn(1, 4, 2)], {}),
  opCase('[1,3] @ [3,1]', 'matmul', [rn(1, 3), rn(3, 1)], {}),
  opCase('[4] @ [4,5]', 'matmul', [rn(4), rn(4, 5)], {}),
  opCase('[2,3,4] @ [4]', 'matmul', [rn(2, 3, 4), rn(4)], {}),
  opCase('[4] @ [4]', 'matmul', [rn(4), rn(4)], {}),
  // --- linear (the fused matmul: bias and GELU epilogue, transposed weight)
  opCase('[2,3,4] · [4,5] + bias, gelu', 'linear', [rn(2, 3, 4), rn(4, 5), rn(5)], { gelu: true }),
  opCase('[3,4] · [5,4]ᵀ, no bias', 'linear', [rn(3, 4), rn(5, 4)], { transW: true }),
  opCase('[1,2] · [3,2]ᵀ + bias, gelu', 'linear', [rn(1, 2), rn(3, 2), rn(3)], { gelu: true, transW: true }),
  // --- attention
  opCase('[1,2,4,3]', 'attention', [rn(1, 2, 4, 3), rn(1, 2, 4, 3), rn(1, 2, 4, 3)], {}),
  opCase('[2,1,1,2] (T=1)', 'attention', [rn(2, 1, 1, 2), rn(2, 1, 1, 2), rn(2, 1, 1, 2)], {}),
  opCase('[3,1,2,5,2]', 'attentionPacked', [rn(3, 1, 2, 5, 2)], {}),
  // --- softmax family
  opCase('[3,5]', 'softmax', [randn([3, 5], rng, 2)], {}),
  opCase('[2,3,4]', 'softmax', [rn(2, 3, 4)], {}),
  opCase('[4,1]', 'softmax', [rn(4, 1)], {}),
  opCase('[3,5]', 'logSoftmax', [randn([3, 5], rng, 2)], {}),
  opCase('[2,1,3]', 'logSoftmax', [rn(2, 1, 3)], {}),
  opCase('ignored rows', 'crossEntropy', [rn(6, 5), ints([6], [0, -1, 4, 2, -1, 3])], {}, [1]),
  opCase('ignoreIndex -100', 'crossEntropy', [rn(3, 4), ints([3], [3, -100, 0])], { ignoreIndex: -100 }, [1]),
  opCase('single row', 'crossEntropy', [rn(1, 2), ints([1], [1])], {}, [1]),
  // --- embedding / layernorm / dropout
  opCase('[5,3] ids [2,3] repeated', 'embedding', [rn(5, 3), ints([2, 3], [1, 4, 1, 0, 4, 1])], {}, [1]),
  opCase('ids [4]', 'embedding', [rn(6, 2), ints([4], [5, 0, 5, 2])], {}, [1]),
  opCase('scalar id', 'embedding', [rn(3, 4), ints([], [2])], {}, [1]),
  opCase('[3,5,2] last rows', 'gatherRows', [rn(3, 5, 2), ints([3], [4, 0, 2])], {}, [1]),
  opCase('[2,1,3] T=1', 'gatherRows', [rn(2, 1, 3), ints([2], [0, 0])], {}, [1]),
  opCase('[2,3,4]', 'layernorm', [rn(2, 3, 4), rn(4), rn(4)], {}),
  opCase('[5,2]', 'layernorm', [rn(5, 2), rn(2), rn(2)], {}),
  opCase('[3,7] eps 1e-3', 'layernorm', [rn(3, 7), rn(7), rn(7)], { eps: 1e-3 }),
  opCase('p=0.25', 'dropout', [rn(3, 4), mask01(3, 4)], { p: 0.25 }, [1]),
  opCase('p=0', 'dropout', [rn(5), mask01(5)], { p: 0 }, [1]),
  // --- shape ops
  opCase('axis 0, three inputs', 'concat', [rn(2, 3), rn(1, 3), rn(4, 3)], { axis: 0 }),
  opCase('axis -1', 'concat', [rn(2, 3, 1), rn(2, 3, 2)], { axis: -1 }),
  opCase('single input', 'concat', [rn(2, 2)], { axis: 1 }),
  opCase('axis 1 [1,3)', 'slice', [rn(3, 4, 2)], { axis: 1, start: 1, end: 3 }),
  opCase('negative bounds', 'slice', [rn(2, 5)], { axis: -1, start: -3, end: -1 }),
  opCase('full axis', 'slice', [rn(3, 2)], { axis: 0, start: 0, end: 3 }),
  opCase('mask [4,5] into [3,4,5]', 'maskedFill', [rn(3, 4, 5), mask01(4, 5)], { value: -5 }, [1]), // not -1e9: FD would drown in a 1e9 loss
  opCase('mask [1,5]', 'maskedFill', [rn(2, 5), mask01(1, 5)], { value: 0 }, [1]),
  opCase('same-shape mask', 'maskedFill', [rn(3, 3), mask01(3, 3)], { value: 2 }, [1]),
  opCase('[2,3,4] perm [2,0,1]', 'permute', [rn(2, 3, 4)], { perm: [2, 0, 1] }),
  opCase('[2,1,3,2] perm [0,2,1,3]', 'permute', [rn(2, 1, 3, 2)], { perm: [0, 2, 1, 3] }),
  opCase('[2,3] default', 'transpose', [rn(2, 3)], {}),
  opCase('[2,3,4] default reverses', 'transpose', [rn(2, 3, 4)], {}),
  opCase('[2,3,4] explicit perm', 'transpose', [rn(2, 3, 4)], { perm: [1, 0, 2] }),
  opCase('[2,3,4] -> [4,-1]', 'reshape', [rn(2, 3, 4)], { shape: [4, -1] }),
  opCase('[6] -> [1,6,1]', 'reshape', [rn(6)], { shape: [1, 6, 1] }),
  opCase('scalar -> [1]', 'reshape', [rn()], { shape: [1] }),
  opCase('[3,1] -> [2,3,4]', 'broadcastTo', [rn(3, 1)], { shape: [2, 3, 4] }),
  opCase('scalar -> [2,2]', 'broadcastTo', [rn()], { shape: [2, 2] }),
  opCase('[1,4] -> [3,4]', 'broadcastTo', [rn(1, 4)], { shape: [3, 4] }),
];

describe('refOps backward vs finite differences', () => {
  for (const c of cases) {
    it(c.name, () => {
      const out = c.run(c.inputs);
      const W = randn(out.shape, new Rng(c.name.length * 7919 + out.data.length));
      const f = () => dot(c.run(c.inputs).data, W.data);
      const grads = c.grad(c.inputs, out, W);
      expect(grads.length).toBe(c.inputs.length);
      c.inputs.forEach((x, i) => {
        const g = grads[i];
        if (c.nondiff.includes(i)) {
          expect(g, `input ${i} must have a null gradient`).toBeNull();
          return;
        }
        if (!g) throw new Error(`input ${i}: missing gradient`);
        expect(g.shape, `input ${i} gradient shape`).toEqual(x.shape);
        expectGradient(g.data, f, x.data, { label: `${c.name} input ${i}` });
      });
    });
  }

  it('every op in refOps has a finite-difference case', () => {
    const covered = new Set(cases.map((c) => c.op));
    expect(refOpNames.filter((n) => !covered.has(n))).toEqual([]);
  });
});

// ----------------------------------------------------------------------------------------------

describe('split (slice-based helper)', () => {
  it('forward pieces and backward vs finite differences, with a piece that gets no gradient', () => {
    const x = rn(2, 6, 3);
    const sizes = [1, 0, 3, 2];
    const pieces = refSplit(x, 1, sizes);
    expect(pieces.map((p) => p.shape)).toEqual([
      [2, 1, 3],
      [2, 0, 3],
      [2, 3, 3],
      [2, 2, 3],
    ]);
    const back = refOps.concat.forward(pieces, { axis: 1 });
    expect(Array.from(back.data)).toEqual(Array.from(x.data));
    const Ws: (RefTensor | null)[] = pieces.map((p, i) => (i === 2 ? null : randn(p.shape, rng)));
    const f = () => refSplit(x, 1, sizes).reduce((s, p, i) => s + (Ws[i] ? dot(p.data, Ws[i].data) : 0), 0);
    const dx = refSplitBackward(x, 1, sizes, Ws);
    expectGradient(dx.data, f, x.data);
  });

  it('rejects sizes that do not sum to the axis', () => {
    expect(() => refSplit(rn(2, 5), -1, [2, 2])).toThrow();
  });
});

// ----------------------------------------------------------------------------------------------

describe('forward sanity', () => {
  it('broadcast add [3,1,2] + [4,2] has shape [3,4,2] and the right values', () => {
    const a = refTensor([3, 1, 2], [0, 1, 10, 11, 20, 21]);
    const b = refTensor([4, 2], [100, 200, 300, 400, 500, 600, 700, 800]);
    const out = refOps.add.forward([a, b], {});
    expect(out.shape).toEqual([3, 4, 2]);
    // out[i, j, k] = a[i, 0, k] + b[j, k]
    expect(out.data[0]).toBe(100);
    expect(out.data[(1 * 4 + 2) * 2 + 1]).toBe(11 + 600);
    expect(out.data[(2 * 4 + 3) * 2 + 0]).toBe(20 + 700);
  });

  it('broadcastShapes and incompatible shapes', () => {
    expect(broadcastShapes([3, 1, 5], [4, 5])).toEqual([3, 4, 5]);
    expect(broadcastShapes([], [2, 3])).toEqual([2, 3]);
    expect(() => refOps.add.forward([rn(2, 3), rn(3, 2)], {})).toThrow();
    expect(() => refOps.broadcastTo.forward([rn(2, 3)], { shape: [3, 3] })).toThrow();
    expect(() => refOps.maskedFill.forward([rn(1, 3), mask01(2, 3)], { value: 0 })).toThrow();
  });

  it('matmul 2-D and numpy 1-D promotion', () => {
    const a = refTensor([2, 3], [1, 2, 3, 4, 5, 6]);
    const b = refTensor([3, 2], [7, 8, 9, 10, 11, 12]);
    const ab = refOps.matmul.forward([a, b], {});
    expect(ab.shape).toEqual([2, 2]);
    expect(Array.from(ab.data)).toEqual([58, 64, 139, 154]);
    const v = refTensor([3], [1, 0, -1]);
    const av = refOps.matmul.forward([a, v], {});
    expect(av.shape).toEqual([2]);
    expect(Array.from(av.data)).toEqual([-2, -2]);
    const vv = refOps.matmul.forward([v, v], {});
    expect(vv.shape).toEqual([]);
    expect(vv.data[0]).toBe(2);
    expect(refOps.matmul.forward([rn(2, 1, 3, 4), rn(3, 4, 2)], {}).shape).toEqual([2, 3, 3, 2]);
  });

  it('sum/mean/max shapes and values', () => {
    const x = refTensor([2, 3], [1, 5, 3, 4, 2, 6]);
    expect(refOps.sum.forward([x], { axis: 0 })).toEqual(refTensor([3], [5, 7, 9]));
    expect(refOps.sum.forward([x], { axis: 1, keepdim: true })).toEqual(refTensor([2, 1], [9, 12]));
    expect(refOps.mean.forward([x], {})).toEqual(refScalar(3.5));
    expect(refOps.max.forward([x], { axis: -1 })).toEqual(refTensor([2], [5, 6]));
    expect(refOps.max.forward([x], { keepdim: true })).toEqual(refTensor([1, 1], [6]));
  });

  it('max sends the whole gradient to the first of tied maxima', () => {
    const x = refTensor([2, 4], [1, 3, 3, 0, 2, 2, 2, 2]);
    const out = refOps.max.forward([x], { axis: 1 });
    const [dx] = refOps.max.backward([x], { axis: 1 }, out, refTensor([2], [10, 20]));
    expect(Array.from(dx!.data)).toEqual([0, 10, 0, 0, 20, 0, 0, 0]);
    const all = refOps.max.forward([x], {});
    const [dall] = refOps.max.backward([x], {}, all, refScalar(1));
    expect(Array.from(dall!.data)).toEqual([0, 1, 0, 0, 0, 0, 0, 0]);
  });

  it('softmax rows sum to 1; logSoftmax = log(softmax)', () => {
    const x = randn([3, 2, 5], rng, 3);
    const s = refOps.softmax.forward([x], {});
    const rows = refOps.sum.forward([s], { axis: -1 });
    expectClose(rows.data, new Float64Array(6).fill(1), { rtol: 1e-15, atol: 1e-15 });
    const ls = refOps.logSoftmax.forward([x], {});
    expectClose(ls.data, s.data.map(Math.log), { rtol: 1e-13, atol: 1e-15 });
  });

  it('crossEntropy equals the mean of -logSoftmax at the targets over non-ignored rows', () => {
    const logits = rn(4, 3);
    const targets = ints([4], [2, -1, 0, 0]);
    const ce = refOps.crossEntropy.forward([logits, targets], {});
    expect(ce.shape).toEqual([]);
    const ls = refOps.logSoftmax.forward([logits], {});
    const expected = -(ls.data[0 * 3 + 2]! + ls.data[2 * 3 + 0]! + ls.data[3 * 3 + 0]!) / 3;
    expect(ce.data[0]).toBeCloseTo(expected, 14);
    expect(() => refOps.crossEntropy.forward([logits, ints([4], [2, 3, 0, 0])], {})).toThrow();
    expect(() => refOps.crossEntropy.forward([logits, ints([4], [2, 0.5, 0, 0])], {})).toThrow();
  });

  it('layernorm output has mean 0 and variance ~1 per row', () => {
    const x = randn([4, 8], rng, 5);
    const out = refOps.layernorm.forward([x, refFull([8], 1), refTensor([8])], {});
    for (let n = 0; n < 4; n++) {
      const row = Array.from(out.data.subarray(n * 8, n * 8 + 8));
      const m = row.reduce((a, b) => a + b) / 8;
      const v = row.reduce((a, b) => a + (b - m) ** 2, 0) / 8;
      expect(Math.abs(m)).toBeLessThan(1e-14);
      expect(v).toBeCloseTo(1, 5);
    }
  });

  it('embedding gathers rows and scatters gradients', () => {
    const w = refTensor([3, 2], [0, 1, 10, 11, 20, 21]);
    const ids = ints([2, 2], [2, 0, 2, 2]);
    const out = refOps.embedding.forward([w, ids], {});
    expect(out.shape).toEqual([2, 2, 2]);
    expect(Array.from(out.data)).toEqual([20, 21, 0, 1, 20, 21, 20, 21]);
    const [dw, dids] = refOps.embedding.backward([w, ids], {}, out, refTensor([2, 2, 2], new Float64Array(8).fill(1)));
    expect(Array.from(dw!.data)).toEqual([1, 1, 0, 0, 3, 3]);
    expect(dids).toBeNull();
  });

  it('dropout scales kept elements by 1/(1-p); maskedFill fills where mask = 1', () => {
    const x = refTensor([4], [1, 2, 3, 4]);
    const mask = refTensor([4], [1, 0, 1, 0]);
    expect(Array.from(refOps.dropout.forward([x, mask], { p: 0.5 }).data)).toEqual([2, 0, 6, 0]);
    expect(Array.from(refOps.dropout.forward([x, refTensor([4])], { p: 1 }).data)).toEqual([0, 0, 0, 0]);
    expect(() => refOps.dropout.forward([x, refTensor([4], [1, 0, 2, 0])], { p: 0.5 })).toThrow();
    const mf = refOps.maskedFill.forward([refTensor([2, 2], [1, 2, 3, 4]), refTensor([2], [0, 1])], { value: -9 });
    expect(Array.from(mf.data)).toEqual([1, -9, 3, -9]);
  });

  it('derivatives at kinks and singular points: relu at 0 and x^0 at 0 are 0, not NaN', () => {
    const z = refTensor([2], [0, 0]);
    const one = refTensor([2], [1, 1]);
    const [dr] = refOps.relu.backward([z], {}, refOps.relu.forward([z], {}), one);
    expect(Array.from(dr!.data)).toEqual([0, 0]);
    const [dp] = refOps.powScalar.backward([z], { p: 0 }, refOps.powScalar.forward([z], { p: 0 }), one);
    expect(Array.from(dp!.data)).toEqual([0, 0]);
  });

  it('permute / transpose / reshape / slice / concat values', () => {
    const x = refTensor([2, 3], [1, 2, 3, 4, 5, 6]);
    expect(refOps.transpose.forward([x], {})).toEqual(refTensor([3, 2], [1, 4, 2, 5, 3, 6]));
    const y = refTensor([1, 2, 3], [1, 2, 3, 4, 5, 6]);
    expect(refOps.permute.forward([y], { perm: [2, 0, 1] })).toEqual(refTensor([3, 1, 2], [1, 4, 2, 5, 3, 6]));
    expect(refOps.reshape.forward([x], { shape: [-1, 2] }).shape).toEqual([3, 2]);
    expect(() => refOps.reshape.forward([x], { shape: [4, -1] })).toThrow();
    expect(refOps.slice.forward([x], { axis: 1, start: 1, end: 3 })).toEqual(refTensor([2, 2], [2, 3, 5, 6]));
    expect(() => refOps.slice.forward([x], { axis: 1, start: 2, end: 4 })).toThrow();
    expect(refOps.concat.forward([x, refTensor([2, 1], [7, 8])], { axis: 1 })).toEqual(
      refTensor([2, 4], [1, 2, 3, 7, 4, 5, 6, 8]),
    );
    expect(() => refOps.permute.forward([x], { perm: [0, 0] })).toThrow();
  });

  it('Rng is deterministic and roughly standard normal', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const xs = Array.from({ length: 20000 }, () => a.normal());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b.normal()));
    const m = xs.reduce((s, x) => s + x) / xs.length;
    const v = xs.reduce((s, x) => s + (x - m) ** 2, 0) / xs.length;
    expect(Math.abs(m)).toBeLessThan(0.03);
    expect(Math.abs(v - 1)).toBeLessThan(0.05);
    const u = new Rng(1);
    for (let i = 0; i < 1000; i++) {
      const x = u.uniform();
      expect(x >= 0 && x < 1).toBe(true);
    }
  });
});
