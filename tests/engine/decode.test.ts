// The inference-only decode ops (engine/decode.ts) against the float64 reference: keys and values
// written into a cache a few rows at a time (a prefill, then one row per step), and each step's
// attention over the cached prefix equal to the reference's full causal attention at those rows.
// Both ways of computing it (fused kernel, composed engine ops); shapes that divide no tile; every
// new tensor poisoned with NaN, so a cache row read before it is written fails the comparison.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { attentionForward } from '../../kernels/reference.ts';
import { assertClose } from '../../kernels/check.ts';

let rt: E.Runtime;
beforeAll(async () => {
  rt = await E.initEngine();
  rt.poisonNewTensors = true;
});
afterAll(() => {
  rt.poisonNewTensors = false;
});

/** Random f32-representable values. */
function randn(n: number, rng: E.Rng): Float64Array {
  return Float64Array.from(Float32Array.from({ length: n }, () => rng.normal()));
}

/** Rows p0..p1 of a [B, NH, T, HS] host array, as [B, NH, p1-p0, HS]. */
function rowsOf(x: Float64Array, BNH: number, T: number, HS: number, p0: number, p1: number): Float32Array {
  const out = new Float32Array(BNH * (p1 - p0) * HS);
  for (let bh = 0; bh < BNH; bh++) out.set(x.subarray((bh * T + p0) * HS, (bh * T + p1) * HS), bh * (p1 - p0) * HS);
  return out;
}

describe('decode ops', () => {
  const [B, NH, T, HS, maxT] = [2, 3, 13, 8, 19];
  const n = B * NH * T * HS;
  const rng = new E.Rng(42);
  const q = randn(n, rng);
  const k = randn(n, rng);
  const v = randn(n, rng);
  const ref = new Float64Array(n);
  attentionForward(ref, new Float64Array(B * NH * T), q, k, v, B, NH, T, HS);
  // A prefill, a chunk of 3 at a nonzero position, then one row at a time.
  const steps: [number, number][] = [
    [0, 5],
    [5, 8],
  ];
  for (let p = 8; p < T; p++) steps.push([p, p + 1]);

  for (const attention of ['decode-kernel', 'composed'] as const) {
    it(`${attention}: a prefill, a chunk, then one row at a time match the reference on the prefix`, async () => {
      const kc = E.empty([B, NH, maxT, HS]);
      const vc = E.empty([B, NH, maxT, HS]);
      for (const [p0, p1] of steps) {
        const shape = [B, NH, p1 - p0, HS];
        const out = E.tidy(() => {
          // The k rows of the prefill come from a view at an odd offset: any view must bind.
          const kData = rowsOf(k, B * NH, T, HS, p0, p1);
          const kRows =
            p0 === 0 ? E.fromArray(Float32Array.from([0, 0, 0, ...kData])).view(shape, 3) : E.fromArray(kData, shape);
          E.cacheWrite(kc, kRows, p0);
          E.cacheWrite(vc, E.fromArray(rowsOf(v, B * NH, T, HS, p0, p1), shape), p0);
          return E.keep(
            E.decodeAttention(E.fromArray(rowsOf(q, B * NH, T, HS, p0, p1), shape), kc, vc, p0, { attention }),
          );
        });
        expect(out.shape).toEqual(shape);
        const want = Float64Array.from(rowsOf(ref, B * NH, T, HS, p0, p1));
        assertClose(await out.data(), want, 'f32Reduce', `${attention} rows ${p0}..${p1 - 1}`);
        out.dispose();
      }
      // The cache holds exactly the written rows; the rest is the untouched poison.
      const cached = (await kc.data()) as Float32Array;
      for (let bh = 0; bh < B * NH; bh++) {
        const row = cached.subarray(bh * maxT * HS, (bh + 1) * maxT * HS);
        expect(Array.from(row.subarray(0, T * HS))).toEqual(
          Array.from(Float32Array.from(k.subarray(bh * T * HS, (bh + 1) * T * HS))),
        );
        expect(row.subarray(T * HS).every(Number.isNaN)).toBe(true);
      }
      kc.dispose();
      vc.dispose();
    });
  }

  it('refuses tensors that require grad, and positions past the cache', () => {
    E.tidy(() => {
      const kc = E.full([1, 1, 4, HS], 0);
      const rows = E.randn([1, 1, 1, HS]);
      rows.requiresGrad = true;
      expect(() => E.cacheWrite(kc, rows, 0)).toThrow(
        /requires grad, but cacheWrite is inference-only \(it has no backward\)/,
      );
      expect(() => E.decodeAttention(rows, kc, kc, 0)).toThrow(/decodeAttention is inference-only/);
      const q = E.randn([1, 1, 2, HS]);
      expect(() => E.cacheWrite(kc, q, 3)).toThrow(/positions 3\.\.4 are outside the cache's 4/);
      expect(() => E.decodeAttention(q, kc, kc, 3)).toThrow(/outside the cache's 4/);
      expect(() => E.decodeAttention(E.randn([1, 2, 1, HS]), kc, kc, 0)).toThrow(/B, NH and HS must match/);
    });
  });
});
