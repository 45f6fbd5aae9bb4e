// Every backward in kernels/reference.ts against central finite differences, plus hand-checked
// forwards. Gradients are checked through the scalar L = sum(out * W) for a random W, which
// exercises every element of dout with a distinct weight.

import { describe, expect, it } from 'vitest';
import {
  adamwStep,
  attentionBackward,
  attentionForward,
  crossEntropyBackward,
  crossEntropyForward,
  dropoutBackward,
  dropoutForward,
  encoderBackward,
  encoderForward,
  geluBackward,
  geluForward,
  globalNorm,
  layernormBackward,
  layernormForward,
  logSoftmaxBackward,
  logSoftmaxForward,
  matmulBackward,
  matmulForward,
  residualBackward,
  residualForward,
  softmaxBackward,
  softmaxForward,
} from '../../kernels/reference.ts';
import { Rng } from '../../kernels/random.ts';
import { dot, expectClose, expectGradient } from './fd.ts';

function randArr(rng: Rng, n: number, std = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
}

// ----------------------------------------------------------------------------------------------

describe('matmul', () => {
  /** Naive out = A @ B + bias from logical (untransposed) per-batch matrices. */
  function naive(
    a: Float64Array,
    b: Float64Array,
    bias: Float64Array | null,
    batch: number,
    M: number,
    N: number,
    K: number,
    transA: boolean,
    transB: boolean,
    batchA: number,
    batchB: number,
  ): Float64Array {
    const out = new Float64Array(batch * M * N);
    for (let bt = 0; bt < batch; bt++) {
      const ab = batchA === 1 ? 0 : bt;
      const bb = batchB === 1 ? 0 : bt;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let s = bias ? bias[n]! : 0;
          for (let k = 0; k < K; k++) {
            const av = transA ? a[ab * K * M + k * M + m]! : a[ab * M * K + m * K + k]!;
            const bv = transB ? b[bb * N * K + n * K + k]! : b[bb * K * N + k * N + n]!;
            s += av * bv;
          }
          out[bt * M * N + m * N + n] = s;
        }
      }
    }
    return out;
  }

  const configs: { batch: number; batchA: number; batchB: number; M: number; N: number; K: number }[] = [
    { batch: 1, batchA: 1, batchB: 1, M: 3, N: 5, K: 4 },
    { batch: 3, batchA: 3, batchB: 3, M: 2, N: 3, K: 5 },
    { batch: 3, batchA: 1, batchB: 3, M: 4, N: 1, K: 3 },
    { batch: 2, batchA: 2, batchB: 1, M: 1, N: 3, K: 2 },
    { batch: 1, batchA: 1, batchB: 1, M: 1, N: 1, K: 1 },
  ];
  for (const cfg of configs) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const withBias of [false, true]) {
          const { batch, batchA, batchB, M, N, K } = cfg;
          const name = `batch=${batch} bA=${batchA} bB=${batchB} M=${M} N=${N} K=${K} tA=${transA} tB=${transB} bias=${withBias}`;
          it(name, () => {
            const rng = new Rng(M * 1000 + N * 100 + K * 10 + batch + (transA ? 7 : 0) + (transB ? 13 : 0));
            const a = randArr(rng, batchA * M * K);
            const b = randArr(rng, batchB * K * N);
            const bias = withBias ? randArr(rng, N) : null;
            const W = randArr(rng, batch * M * N);
            const out = new Float64Array(batch * M * N);
            const f = () => {
              matmulForward(out, a, b, bias, batch, M, N, K, transA, transB, batchA, batchB);
              return dot(out, W);
            };
            f();
            expectClose(out, naive(a, b, bias, batch, M, N, K, transA, transB, batchA, batchB), {
              rtol: 1e-14,
              atol: 1e-14,
              label: 'forward',
            });
            const da = new Float64Array(a.length);
            const db = new Float64Array(b.length);
            const dbias = withBias ? new Float64Array(N) : null;
            matmulBackward(da, db, dbias, W, a, b, batch, M, N, K, transA, transB, batchA, batchB);
            expectGradient(da, f, a, { label: 'da' });
            expectGradient(db, f, b, { label: 'db' });
            if (bias && dbias) expectGradient(dbias, f, bias, { label: 'dbias' });
          });
        }
      }
    }
  }

  it('default batchA/batchB equal batch', () => {
    const rng = new Rng(5);
    const a = randArr(rng, 2 * 3 * 4);
    const b = randArr(rng, 2 * 4 * 5);
    const o1 = new Float64Array(2 * 3 * 5);
    const o2 = new Float64Array(2 * 3 * 5);
    matmulForward(o1, a, b, null, 2, 3, 5, 4, false, false);
    matmulForward(o2, a, b, null, 2, 3, 5, 4, false, false, 2, 2);
    expect(o1).toEqual(o2);
  });

  it('hand-computed 2x2', () => {
    const out = new Float64Array(4);
    matmulForward(
      out,
      Float64Array.of(1, 2, 3, 4),
      Float64Array.of(5, 6, 7, 8),
      Float64Array.of(0.5, -1),
      1,
      2,
      2,
      2,
      false,
      false,
    );
    expect(Array.from(out)).toEqual([19.5, 21, 43.5, 49]);
  });

  it('backward accumulates and skips null gradients', () => {
    const rng = new Rng(9);
    const a = randArr(rng, 6);
    const b = randArr(rng, 6);
    const dout = randArr(rng, 4);
    const db1 = new Float64Array(6);
    matmulBackward(null, db1, null, dout, a, b, 1, 2, 2, 3, false, true);
    const db2 = new Float64Array(6).fill(1);
    matmulBackward(null, db2, null, dout, a, b, 1, 2, 2, 3, false, true);
    expectClose(
      db2,
      db1.map((x) => x + 1),
      { rtol: 1e-15, atol: 1e-15 },
    );
  });

  it('rejects a batch that is neither 1 nor batch', () => {
    const z = new Float64Array(100);
    expect(() => matmulForward(z, z, z, null, 3, 2, 2, 2, false, false, 2, 3)).toThrow();
  });
});

// ----------------------------------------------------------------------------------------------

describe('gelu', () => {
  it('backward matches finite differences', () => {
    const rng = new Rng(1);
    const N = 23;
    const inp = randArr(rng, N, 2.5);
    inp[0] = 0;
    inp[1] = 8;
    inp[2] = -8;
    const W = randArr(rng, N);
    const out = new Float64Array(N);
    const dinp = new Float64Array(N);
    geluBackward(dinp, inp, W, N);
    expectGradient(dinp, () => (geluForward(out, inp, N), dot(out, W)), inp);
  });

  it('forward matches hand-computed values', () => {
    const out = new Float64Array(4);
    geluForward(out, Float64Array.of(0, 1, -2, 3), 4);
    expectClose(out, [0, 0.8411919906082768, -0.04540230591222494, 2.996362607918227], { rtol: 1e-14, atol: 0 });
  });

  it('no NaN for huge inputs', () => {
    const inp = Float64Array.of(1e3, -1e3, 1e200);
    const out = new Float64Array(3);
    const d = new Float64Array(3);
    geluForward(out, inp, 3);
    geluBackward(d, inp, Float64Array.of(1, 1, 1), 3);
    expect(Array.from(out)).toEqual([1e3, -0, 1e200]);
    expect(Array.from(d)).toEqual([1, 0, 1]);
  });
});

// ----------------------------------------------------------------------------------------------

describe('softmax and logSoftmax', () => {
  for (const [N, C] of [
    [3, 5],
    [1, 1],
    [4, 2],
    [2, 7],
  ] as const) {
    it(`softmax backward N=${N} C=${C}`, () => {
      const rng = new Rng(N * 10 + C);
      const inp = randArr(rng, N * C, 2);
      const W = randArr(rng, N * C);
      const out = new Float64Array(N * C);
      const f = () => (softmaxForward(out, inp, N, C), dot(out, W));
      f();
      const dinp = new Float64Array(N * C);
      softmaxBackward(dinp, W, out, N, C);
      expectGradient(dinp, f, inp);
    });

    it(`logSoftmax backward N=${N} C=${C}`, () => {
      const rng = new Rng(N * 10 + C + 500);
      const inp = randArr(rng, N * C, 2);
      const W = randArr(rng, N * C);
      const out = new Float64Array(N * C);
      const f = () => (logSoftmaxForward(out, inp, N, C), dot(out, W));
      f();
      const dinp = new Float64Array(N * C);
      logSoftmaxBackward(dinp, W, out, N, C);
      expectGradient(dinp, f, inp);
    });
  }

  it('softmax rows sum to 1, are stable for large logits, and equal exp(logSoftmax)', () => {
    const N = 3;
    const C = 4;
    const inp = Float64Array.of(1, 2, 3, 4, 1000, 1001, 1002, 1003, -1e4, 0, 0, -1e4);
    const sm = new Float64Array(N * C);
    const lsm = new Float64Array(N * C);
    softmaxForward(sm, inp, N, C);
    logSoftmaxForward(lsm, inp, N, C);
    for (let n = 0; n < N; n++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += sm[n * C + c]!;
      expect(s).toBeCloseTo(1, 14);
    }
    // Softmax is shift invariant: rows 0 and 1 differ by a constant.
    expectClose(sm.subarray(0, 4), sm.subarray(4, 8), { rtol: 1e-14, atol: 0 });
    expectClose(sm.subarray(8), [0, 0.5, 0.5, 0], { rtol: 1e-15, atol: 0 });
    expectClose(lsm.subarray(0, 8).map(Math.exp), sm.subarray(0, 8), { rtol: 1e-14, atol: 0 });
    const e = [1, 2, 3, 4].map((x) => Math.exp(x));
    const z = e.reduce((a, b) => a + b);
    expectClose(
      sm.subarray(0, 4),
      e.map((x) => x / z),
      { rtol: 1e-14, atol: 0 },
    );
  });
});

// ----------------------------------------------------------------------------------------------

describe('layernorm', () => {
  for (const [N, C] of [
    [4, 6],
    [1, 2],
    [3, 7],
  ] as const) {
    it(`backward N=${N} C=${C}`, () => {
      const rng = new Rng(N * 31 + C);
      const inp = randArr(rng, N * C, 1.5);
      for (let i = 0; i < inp.length; i++) inp[i]! += 0.3;
      const weight = randArr(rng, C);
      const bias = randArr(rng, C);
      const W = randArr(rng, N * C);
      const out = new Float64Array(N * C);
      const mean = new Float64Array(N);
      const rstd = new Float64Array(N);
      const f = () => (layernormForward(out, mean, rstd, inp, weight, bias, N, C), dot(out, W));
      f();
      const dinp = new Float64Array(N * C);
      const dweight = new Float64Array(C);
      const dbias = new Float64Array(C);
      layernormBackward(dinp, dweight, dbias, W, inp, weight, mean, rstd, N, C);
      // The backward uses mean/rstd saved by the forward above; f() overwrites them with perturbed
      // values, which is fine since dinp etc. were computed already.
      expectGradient(dinp, f, inp, { label: 'dinp' });
      expectGradient(dweight, f, weight, { label: 'dweight' });
      expectGradient(dbias, f, bias, { label: 'dbias' });
    });
  }

  it('normalizes to mean 0 and variance var/(var+eps), and saves mean and rstd', () => {
    const rng = new Rng(77);
    const N = 3;
    const C = 16;
    const inp = randArr(rng, N * C, 3);
    for (let i = 0; i < C; i++) inp[i]! += 100; // a large mean must not hurt the variance
    const out = new Float64Array(N * C);
    const mean = new Float64Array(N);
    const rstd = new Float64Array(N);
    const eps = 1e-5;
    layernormForward(out, mean, rstd, inp, new Float64Array(C).fill(1), new Float64Array(C), N, C, eps);
    for (let n = 0; n < N; n++) {
      const row = Array.from(inp.subarray(n * C, (n + 1) * C));
      const mu = row.reduce((a, b) => a + b) / C;
      const v = row.reduce((a, b) => a + (b - mu) ** 2, 0) / C;
      expect(mean[n]).toBeCloseTo(mu, 12);
      expect(rstd[n]).toBeCloseTo(1 / Math.sqrt(v + eps), 12);
      const o = Array.from(out.subarray(n * C, (n + 1) * C));
      const om = o.reduce((a, b) => a + b) / C;
      const ov = o.reduce((a, b) => a + (b - om) ** 2, 0) / C;
      expect(Math.abs(om)).toBeLessThan(1e-13);
      expect(ov).toBeCloseTo(v / (v + eps), 12);
    }
  });

  it('applies weight and bias per channel', () => {
    const out = new Float64Array(2);
    layernormForward(
      out,
      new Float64Array(1),
      new Float64Array(1),
      Float64Array.of(1, 3),
      Float64Array.of(2, 3),
      Float64Array.of(10, 20),
      1,
      2,
      0,
    );
    expect(Array.from(out)).toEqual([8, 23]);
  });
});

// ----------------------------------------------------------------------------------------------

describe('attention', () => {
  /** Independent forward: full (T, T) scores, -Infinity above the diagonal, row softmax. */
  function naive(q: Float64Array, k: Float64Array, v: Float64Array, B: number, NH: number, T: number, HS: number) {
    const out = new Float64Array(B * NH * T * HS);
    const lse = new Float64Array(B * NH * T);
    const S = new Float64Array(T * T);
    const P = new Float64Array(T * T);
    for (let bh = 0; bh < B * NH; bh++) {
      const base = bh * T * HS;
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          let d = 0;
          for (let h = 0; h < HS; h++) d += q[base + i * HS + h]! * k[base + j * HS + h]!;
          S[i * T + j] = j <= i ? d / Math.sqrt(HS) : -Infinity;
        }
        let s = 0;
        for (let j = 0; j <= i; j++) s += Math.exp(S[i * T + j]!);
        lse[bh * T + i] = Math.log(s);
      }
      softmaxForward(P, S, T, T);
      matmulForward(
        out.subarray(base, base + T * HS),
        P,
        v.subarray(base, base + T * HS),
        null,
        1,
        T,
        HS,
        T,
        false,
        false,
      );
    }
    return { out, lse };
  }

  for (const [B, NH, T, HS] of [
    [2, 3, 1, 4],
    [2, 2, 5, 4],
    [1, 2, 7, 4],
    [1, 1, 3, 1],
  ] as const) {
    it(`forward and backward B=${B} NH=${NH} T=${T} HS=${HS}`, () => {
      const rng = new Rng(B * 1000 + NH * 100 + T * 10 + HS);
      const size = B * NH * T * HS;
      const q = randArr(rng, size);
      const k = randArr(rng, size);
      const v = randArr(rng, size);
      const W = randArr(rng, size);
      const out = new Float64Array(size);
      const lse = new Float64Array(B * NH * T);
      const f = () => (attentionForward(out, lse, q, k, v, B, NH, T, HS), dot(out, W));
      f();
      const ref = naive(q, k, v, B, NH, T, HS);
      expectClose(out, ref.out, { rtol: 1e-12, atol: 1e-14, label: 'out' });
      expectClose(lse, ref.lse, { rtol: 1e-12, atol: 1e-14, label: 'lse' });
      const dq = new Float64Array(size);
      const dk = new Float64Array(size);
      const dv = new Float64Array(size);
      attentionBackward(dq, dk, dv, W, q, k, v, out.slice(), lse.slice(), B, NH, T, HS);
      expectGradient(dq, f, q, { label: 'dq' });
      expectGradient(dk, f, k, { label: 'dk' });
      expectGradient(dv, f, v, { label: 'dv' });
    });
  }

  it('T=1 returns v and lse = q.k/sqrt(HS)', () => {
    const rng = new Rng(3);
    const B = 2;
    const NH = 2;
    const HS = 4;
    const q = randArr(rng, B * NH * HS);
    const k = randArr(rng, B * NH * HS);
    const v = randArr(rng, B * NH * HS);
    const out = new Float64Array(B * NH * HS);
    const lse = new Float64Array(B * NH);
    attentionForward(out, lse, q, k, v, B, NH, 1, HS);
    expect(Array.from(out)).toEqual(Array.from(v));
    for (let bh = 0; bh < B * NH; bh++) {
      const d = dot(q.subarray(bh * HS, (bh + 1) * HS), k.subarray(bh * HS, (bh + 1) * HS));
      expect(lse[bh]).toBeCloseTo(d / 2, 14);
    }
  });

  it('first position attends only to itself', () => {
    const rng = new Rng(4);
    const T = 5;
    const HS = 4;
    const q = randArr(rng, T * HS);
    const k = randArr(rng, T * HS);
    const v = randArr(rng, T * HS);
    const out = new Float64Array(T * HS);
    attentionForward(out, new Float64Array(T), q, k, v, 1, 1, T, HS);
    expect(Array.from(out.subarray(0, HS))).toEqual(Array.from(v.subarray(0, HS)));
  });
});

// ----------------------------------------------------------------------------------------------

describe('crossEntropy', () => {
  for (const { N, V, Vp, ignoreIndex, targets, dloss } of [
    { N: 6, V: 5, Vp: 8, ignoreIndex: -1, targets: [0, -1, 4, 2, -1, 2], dloss: 1 },
    { N: 4, V: 3, Vp: 3, ignoreIndex: -100, targets: [2, 0, -100, 1], dloss: 0.37 },
    { N: 1, V: 2, Vp: 4, ignoreIndex: -1, targets: [1], dloss: -2 },
    // ignoreIndex may also be a valid class id (PyTorch allows it): rows with target 1 are skipped.
    { N: 5, V: 4, Vp: 5, ignoreIndex: 1, targets: [1, 0, 3, 1, 2], dloss: 1 },
  ]) {
    it(`backward N=${N} V=${V} Vp=${Vp} ignore=${ignoreIndex}`, () => {
      const rng = new Rng(N * 100 + V * 10 + Vp);
      const logits = randArr(rng, N * Vp, 2);
      // Garbage in the padding must not leak into the loss.
      for (let n = 0; n < N; n++) for (let i = V; i < Vp; i++) logits[n * Vp + i] = 50 + n;
      const tg = Int32Array.from(targets);
      const losses = new Float64Array(N);
      const f = () => dloss * crossEntropyForward(losses, logits, tg, N, V, Vp, ignoreIndex);
      f();
      for (let n = 0; n < N; n++) {
        if (tg[n] === ignoreIndex) {
          expect(losses[n]).toBe(0);
          continue;
        }
        const row = Array.from(logits.subarray(n * Vp, n * Vp + V));
        const lse = Math.log(row.reduce((a, x) => a + Math.exp(x), 0));
        expect(losses[n]).toBeCloseTo(lse - row[tg[n]!]!, 12);
      }
      const dlogits = new Float64Array(N * Vp);
      crossEntropyBackward(dlogits, logits, tg, N, V, Vp, ignoreIndex, dloss);
      for (let n = 0; n < N; n++) {
        for (let i = 0; i < Vp; i++) {
          if (tg[n] === ignoreIndex || i >= V) expect(dlogits[n * Vp + i]).toBe(0);
        }
      }
      expectGradient(dlogits, f, logits);
    });
  }

  it('returns the mean over non-ignored rows; uniform logits give log V', () => {
    const N = 4;
    const V = 7;
    const losses = new Float64Array(N);
    const mean = crossEntropyForward(losses, new Float64Array(N * V), Int32Array.of(0, -1, 6, 3), N, V, V);
    expect(mean).toBeCloseTo(Math.log(7), 14);
    expect(Array.from(losses).map((x) => +x.toFixed(12))).toEqual(
      [Math.log(7), 0, Math.log(7), Math.log(7)].map((x) => +x.toFixed(12)),
    );
  });

  it('all rows ignored: loss 0 and no gradient (dlogits, an activation gradient, overwritten with 0)', () => {
    const logits = Float64Array.of(1, 2, 3, 4);
    const tg = Int32Array.of(-1, -1);
    expect(crossEntropyForward(new Float64Array(2), logits, tg, 2, 2, 2)).toBe(0);
    const d = new Float64Array(4).fill(0.5);
    crossEntropyBackward(d, logits, tg, 2, 2, 2, -1, 1);
    expect(Array.from(d)).toEqual([0, 0, 0, 0]);
  });

  it('rejects targets in the padding or out of range', () => {
    const logits = new Float64Array(8);
    expect(() => crossEntropyForward(new Float64Array(2), logits, Int32Array.of(0, 3), 2, 3, 4)).toThrow();
    expect(() => crossEntropyForward(new Float64Array(2), logits, Int32Array.of(0, -2), 2, 3, 4)).toThrow();
  });
});

// ----------------------------------------------------------------------------------------------

describe('encoder', () => {
  it('forward and backward with repeated ids and maxT > T', () => {
    const rng = new Rng(11);
    const B = 2;
    const T = 3;
    const C = 4;
    const V = 5;
    const maxT = 4;
    const inp = Int32Array.of(1, 3, 1, 4, 1, 0);
    const wte = randArr(rng, V * C);
    const wpe = randArr(rng, maxT * C);
    const W = randArr(rng, B * T * C);
    const out = new Float64Array(B * T * C);
    const f = () => (encoderForward(out, inp, wte, wpe, B, T, C), dot(out, W));
    f();
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T; t++) {
        for (let c = 0; c < C; c++) {
          expect(out[(b * T + t) * C + c]).toBe(wte[inp[b * T + t]! * C + c]! + wpe[t * C + c]!);
        }
      }
    }
    const dwte = new Float64Array(V * C);
    const dwpe = new Float64Array(maxT * C);
    encoderBackward(dwte, dwpe, W, inp, B, T, C);
    expectGradient(dwte, f, wte, { label: 'dwte' });
    expectGradient(dwpe, f, wpe, { label: 'dwpe' });
    // Unused token 2 and unused position 3 get exactly nothing.
    expect(Array.from(dwte.subarray(2 * C, 3 * C))).toEqual([0, 0, 0, 0]);
    expect(Array.from(dwpe.subarray(3 * C))).toEqual([0, 0, 0, 0]);
  });

  it('rejects out-of-range ids', () => {
    expect(() =>
      encoderForward(new Float64Array(2), Int32Array.of(3), new Float64Array(6), new Float64Array(2), 1, 1, 2),
    ).toThrow();
  });
});

// ----------------------------------------------------------------------------------------------

describe('residual and dropout', () => {
  it('residual backward', () => {
    const rng = new Rng(12);
    const N = 9;
    const a = randArr(rng, N);
    const b = randArr(rng, N);
    const W = randArr(rng, N);
    const out = new Float64Array(N);
    const f = () => (residualForward(out, a, b, N), dot(out, W));
    f();
    expectClose(
      out,
      a.map((x, i) => x + b[i]!),
      { rtol: 0, atol: 0 },
    );
    const da = new Float64Array(N);
    const db = new Float64Array(N);
    residualBackward(da, db, W, N);
    expectGradient(da, f, a, { label: 'dinp1' });
    expectGradient(db, f, b, { label: 'dinp2' });
  });

  it('dropout forward/backward with a given mask', () => {
    const rng = new Rng(13);
    const N = 11;
    const p = 0.3;
    const inp = randArr(rng, N);
    const mask = new Float64Array(N).map(() => (rng.uniform() < p ? 0 : 1 / (1 - p)));
    const W = randArr(rng, N);
    const out = new Float64Array(N);
    const f = () => (dropoutForward(out, mask, inp, N), dot(out, W));
    f();
    expectClose(
      out,
      inp.map((x, i) => x * mask[i]!),
      { rtol: 0, atol: 0 },
    );
    const dinp = new Float64Array(N);
    dropoutBackward(dinp, mask, W, N);
    expectGradient(dinp, f, inp);
  });
});

// ----------------------------------------------------------------------------------------------

describe('the gradient rule: parameter gradients +=, activation gradients =', () => {
  // Every backward is called twice on the same arrays, which start as garbage: an overwritten
  // gradient ends as one call's value, an accumulated one as garbage + twice that value.
  const rng = new Rng(14);
  const N = 3;
  const C = 4;
  // N·C, or C·C for matmul's weight: the largest gradient below.
  const garbage = () => new Float64Array(C * C).fill(7);
  const twice = (f: () => void) => (f(), f());
  const once = (f: (d: Float64Array) => void) => {
    const d = new Float64Array(C * C);
    f(d);
    return d;
  };
  const x = randArr(rng, N * C);
  const g = randArr(rng, N * C);

  it('activation gradients are overwritten: gelu, softmax, logSoftmax, dropout, crossEntropy, matmul dA, attention', () => {
    const w = randArr(rng, C * C);
    const tg = Int32Array.of(0, 2, 1);
    const mask = new Float64Array(N * C).fill(2);
    const [q, k, v] = [0, 1, 2].map(() => randArr(rng, N * C));
    const out = new Float64Array(N * C);
    const lse = new Float64Array(N);
    attentionForward(out, lse, q!, k!, v!, 1, 1, N, C);
    const cases: [string, (d: Float64Array) => void][] = [
      ['gelu', (d) => geluBackward(d, x, g, N * C)],
      ['softmax', (d) => softmaxBackward(d, g, x, N, C)],
      ['logSoftmax', (d) => logSoftmaxBackward(d, g, x, N, C)],
      ['dropout', (d) => dropoutBackward(d, mask, g, N * C)],
      ['crossEntropy', (d) => crossEntropyBackward(d, x, tg, N, C - 1, C, -1, 1)],
      ['matmul dA', (d) => matmulBackward(d, null, null, g, x, w, 1, N, C, C, false, false)],
      ['attention dq', (d) => attentionBackward(d, garbage(), garbage(), g, q!, k!, v!, out, lse, 1, 1, N, C)],
      ['attention dk', (d) => attentionBackward(garbage(), d, garbage(), g, q!, k!, v!, out, lse, 1, 1, N, C)],
      ['attention dv', (d) => attentionBackward(garbage(), garbage(), d, g, q!, k!, v!, out, lse, 1, 1, N, C)],
    ];
    for (const [name, f] of cases) {
      const d = garbage();
      twice(() => f(d));
      expectClose(d.subarray(0, N * C), once(f).subarray(0, N * C), { rtol: 0, atol: 0, label: name });
    }
  });

  it('parameter gradients accumulate (matmul dB and dbias, layernorm dweight and dbias, encoder), and so does the residual stream (layernorm dinp, residual)', () => {
    const w = randArr(rng, C * C);
    const wl = randArr(rng, C);
    const mean = new Float64Array(N);
    const rstd = new Float64Array(N);
    layernormForward(new Float64Array(N * C), mean, rstd, x, wl, new Float64Array(C), N, C);
    const ids = Int32Array.of(1, 0, 1);
    const cases: [string, (d: Float64Array) => void][] = [
      ['matmul dB', (d) => matmulBackward(null, d, null, g, x, w, 1, N, C, C, false, false)],
      ['matmul dbias', (d) => matmulBackward(null, null, d, g, x, w, 1, N, C, C, false, false)],
      ['layernorm dinp', (d) => layernormBackward(d, garbage(), garbage(), g, x, wl, mean, rstd, N, C)],
      ['layernorm dweight', (d) => layernormBackward(garbage(), d, garbage(), g, x, wl, mean, rstd, N, C)],
      ['layernorm dbias', (d) => layernormBackward(garbage(), garbage(), d, g, x, wl, mean, rstd, N, C)],
      ['encoder dwte', (d) => encoderBackward(d, garbage(), g, ids, 1, N, C)],
      ['encoder dwpe', (d) => encoderBackward(garbage(), d, g, ids, 1, N, C)],
      ['residual dinp1', (d) => residualBackward(d, garbage(), g, N * C)],
    ];
    for (const [name, f] of cases) {
      const d = garbage();
      twice(() => f(d));
      const one = once(f);
      expectClose(
        d,
        one.map((v) => 7 + 2 * v),
        { rtol: 1e-14, atol: 1e-14, label: name },
      );
    }
  });
});

// ----------------------------------------------------------------------------------------------

describe('optimizer', () => {
  it('globalNorm over several tensors', () => {
    expect(globalNorm([Float64Array.of(3, 4), Float64Array.of(12), new Float64Array(0)])).toBe(13);
    expect(globalNorm([])).toBe(0);
  });

  it('AdamW first step, hand-computed', () => {
    // g = 0.5, m = 0.05, v = 0.00025, mhat = 0.5, vhat = 0.25, adam term = 0.5 / (0.5 + 1e-8)
    const params = Float64Array.of(1, 1);
    const m = new Float64Array(2);
    const v = new Float64Array(2);
    adamwStep(params, Float64Array.of(0.5, 0.5), m, v, Uint8Array.of(1, 0), 2, {
      lr: 0.1,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.1,
      step: 1,
      gradScale: 1,
    });
    const adam = 0.5 / (0.5 + 1e-8);
    expect(params[0]).toBeCloseTo(1 * (1 - 0.1 * 0.1) - 0.1 * adam, 15); // 0.890000002
    expect(params[1]).toBeCloseTo(1 - 0.1 * adam, 15); // no decay: 0.900000002
    expect(m[0]).toBeCloseTo(0.05, 16);
    expect(v[0]).toBeCloseTo(0.00025, 16);
  });

  it('AdamW second step with gradScale, hand-computed', () => {
    // g = 0.4 * 0.5 = 0.2; m = 0.9*0.1 + 0.1*0.2 = 0.11; v = 0.999*0.01 + 0.001*0.04 = 0.01003
    // bc1 = 1 - 0.81 = 0.19, bc2 = 1 - 0.998001 = 0.001999
    // param = 2 * (1 - 0.01*0.1) - 0.01 * (0.11/0.19) / (sqrt(0.01003/0.001999) + 1e-8) = 1.99541539...
    const params = Float64Array.of(2);
    const m = Float64Array.of(0.1);
    const v = Float64Array.of(0.01);
    adamwStep(params, Float64Array.of(0.4), m, v, [true], 1, {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.1,
      step: 2,
      gradScale: 0.5,
    });
    expect(params[0]).toBeCloseTo(1.9954153900445541, 14);
    expect(m[0]).toBeCloseTo(0.11, 15);
    expect(v[0]).toBeCloseTo(0.01003, 15);
  });

  it('AdamW equals the llm.c form param -= lr*(mhat/(sqrt(vhat)+eps) + wd*param)', () => {
    const rng = new Rng(21);
    const N = 10;
    const params = randArr(rng, N);
    const grads = randArr(rng, N);
    const m = randArr(rng, N, 0.1);
    const v = randArr(rng, N, 0.1).map(Math.abs);
    const opts = { lr: 3e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 7, gradScale: 0.8 };
    const expected = params.map((p, i) => {
      const g = grads[i]! * opts.gradScale;
      const mi = opts.beta1 * m[i]! + (1 - opts.beta1) * g;
      const vi = opts.beta2 * v[i]! + (1 - opts.beta2) * g * g;
      const mhat = mi / (1 - opts.beta1 ** opts.step);
      const vhat = vi / (1 - opts.beta2 ** opts.step);
      return p - opts.lr * (mhat / (Math.sqrt(vhat) + opts.eps) + opts.weightDecay * p);
    });
    adamwStep(params, grads, m, v, new Uint8Array(N).fill(1), N, opts);
    expectClose(params, expected, { rtol: 1e-14, atol: 1e-16 });
  });

  it('AdamW rejects step 0', () => {
    const z = new Float64Array(1);
    expect(() =>
      adamwStep(z, z, z, z, [true], 1, {
        lr: 1,
        beta1: 0.9,
        beta2: 0.9,
        eps: 0,
        weightDecay: 0,
        step: 0,
        gradScale: 1,
      }),
    ).toThrow();
  });
});
