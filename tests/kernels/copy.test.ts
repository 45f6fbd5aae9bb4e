// The strided copy behind permute, slice, concat and broadcast, at both granularities the engine
// selects (VPI = 1 on GPUs, 16 on CPU adapters) and a ragged one, against a plain-loop oracle.
// Words are distinct integers, so any element read from or written to the wrong place shows.
import { describe, expect, it } from 'vitest';
import { stridedCopy } from '../../kernels/copy.ts';
import { poisoned, readU32 } from '../util/gpu.ts';
import { useRuntime } from '../util/kernel.ts';

const rt = await useRuntime();

interface Case {
  name: string;
  shape: number[];
  si: number[];
  so: number[];
  inOffset?: number;
  outOffset?: number;
}

/** Oracle: the same index arithmetic as plain nested loops. */
function expected(c: Case, inp: Uint32Array, outLen: number): Uint32Array {
  const out = new Uint32Array(outLen).fill(0xdeadbeef);
  const n = c.shape.reduce((a, b) => a * b, 1);
  for (let i = 0; i < n; i++) {
    let rem = i,
      ii = c.inOffset ?? 0,
      io = c.outOffset ?? 0;
    for (let d = c.shape.length - 1; d >= 0; d--) {
      const k = rem % c.shape[d]!;
      rem = Math.floor(rem / c.shape[d]!);
      ii += k * c.si[d]!;
      io += k * c.so[d]!;
    }
    out[io] = inp[ii]!;
  }
  return out;
}

const contiguous = (shape: number[]) => shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));

// The packed-qkv permute of the attention op, (B, T, 3, NH, HS) -> (3, B, NH, T, HS), and others.
const B = 2,
  T = 5,
  NH = 3,
  HS = 17;
const CASES: Case[] = [
  { name: 'rank 1, offsets', shape: [37], si: [1], so: [1], inOffset: 3, outOffset: 2 },
  { name: 'transpose 19x23', shape: [23, 19], si: [1, 23], so: [19, 1] },
  { name: 'rank 3 permute (2, 1, 0)', shape: [4, 3, 6], si: [1, 4, 12], so: contiguous([4, 3, 6]) },
  { name: 'rank 4 permute (0, 2, 1, 3)', shape: [2, 5, 3, 7], si: [105, 7, 35, 1], so: contiguous([2, 5, 3, 7]) },
  {
    name: 'qkv permute (rank 5)',
    shape: [3, B, NH, T, HS],
    si: [NH * HS, T * 3 * NH * HS, HS, 3 * NH * HS, 1],
    so: contiguous([3, B, NH, T, HS]),
  },
  {
    name: 'rank 6 with a broadcast (stride 0)',
    shape: [2, 3, 1, 2, 5, 7],
    si: [0, 70, 70, 35, 7, 1],
    so: contiguous([2, 3, 1, 2, 5, 7]),
  },
  { name: 'inner dimension strided (column gather)', shape: [6, 33], si: [1, 6], so: [33, 1] },
  { name: 'slice into a wider output', shape: [4, 9], si: [9, 1], so: [20, 1], outOffset: 5 },
];

describe('strided copy', () => {
  for (const VPI of [1, 16, 5]) {
    for (const c of CASES) {
      it(`VPI=${VPI}: ${c.name}`, async () => {
        const n = c.shape.reduce((a, b) => a * b, 1);
        const inLen = (c.inOffset ?? 0) + c.shape.reduce((a, s, d) => a + (s - 1) * c.si[d]!, 1);
        const outLen = (c.outOffset ?? 0) + c.shape.reduce((a, s, d) => a + (s - 1) * c.so[d]!, 1) + 3;
        const host = Uint32Array.from({ length: inLen }, (_, i) => 1000 + i);
        const inp = rt.pool.acquire(inLen * 4, 'test-input');
        rt.write(inp, 0, host);
        const out = poisoned(rt, outLen, 0xdeadbeef);
        stridedCopy(rt, { out, inp }, { ...c, VPI });
        const got = await readU32(rt, out, outLen);
        const want = expected(c, host, outLen);
        let bad = -1;
        for (let i = 0; i < outLen && bad < 0; i++) if (got[i] !== want[i]) bad = i;
        expect(bad, `first wrong word at ${bad}: got ${got[bad]}, want ${want[bad]} (${n} elements)`).toBe(-1);
        rt.pool.release(inp);
        rt.pool.release(out);
      });
    }
  }
});
