import { describe, expect, it } from 'vitest';
import { adamw, globalNorm } from '../../kernels/adamw.ts';
import { adamwStep, globalNorm as refGlobalNorm } from '../../kernels/reference.ts';
import { assertClose } from '../../kernels/check.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, randu } from '../util/kernel.ts';

const rt = await useRuntime();

/** Uniform values in [-scale, scale), rounded to f32. */
const rand = (n: number, seed: number, scale = 1): Float64Array => randu(n, seed, -scale, scale);

/** A flat f32 buffer padded to whole vec4s (the layout contract), padding set to `pad`. */
function uploadPadded(data: Float64Array, pad = 0): GPUBuffer {
  const n4 = Math.ceil(data.length / 4) * 4;
  const arr = new Float32Array(Math.max(4, n4)).fill(pad);
  arr.set(data);
  return upload(rt, arr);
}

describe('globalNorm', () => {
  const cases: { n: number; gradScale?: number; chunkElems?: number; partials?: number }[] = [
    { n: 1 },
    { n: 3 },
    { n: 1000 },
    { n: 1027, gradScale: 0.25 },
    { n: 1_000_003 },
    { n: 1_000_003, chunkElems: 65536 },
    { n: 1_000_003, partials: 1024 }, // a GPU's partition: many short blocks
    { n: 1_000_003, partials: 7 },
    { n: 1001, partials: 1000 }, // more workgroups than vec4s: some blocks are empty
    { n: 5003, chunkElems: 256, gradScale: 3 },
  ];
  for (const c of cases) {
    it(`n=${c.n}${c.gradScale ? ` gradScale=${c.gradScale}` : ''}${c.chunkElems ? ` chunks of ${c.chunkElems}` : ''}${c.partials ? ` ${c.partials} partials` : ''}`, async () => {
      const g = rand(c.n, c.n, 2);
      const grads = uploadPadded(g, NaN); // padding lanes must not count
      const norm = poisoned(rt, 2);
      globalNorm(rt, { norm, grads }, c);
      const got = await readF32(rt, norm, 2);
      const nrm = (c.gradScale ?? 1) * refGlobalNorm([g]);
      assertClose(got, [nrm * nrm, nrm], 'f32Reduce', `globalNorm n=${c.n}`);
      rt.pool.release(grads);
      rt.pool.release(norm);
    });
  }

  it('is deterministic (bit-identical across runs)', async () => {
    const n = 300_001;
    const grads = uploadPadded(rand(n, 42));
    const norm = poisoned(rt, 2);
    const runs: Float32Array[] = [];
    for (let r = 0; r < 3; r++) {
      globalNorm(rt, { norm, grads }, { n });
      runs.push(await readF32(rt, norm, 2));
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    rt.pool.release(grads);
    rt.pool.release(norm);
  });

  it('refuses buffers shorter than whole vec4s', () => {
    const grads = rt.pool.acquire(256);
    const norm = rt.pool.acquire(16);
    expect(() => globalNorm(rt, { norm, grads: { buffer: grads, size: 20 } }, { n: 5 })).toThrow(/pad/);
    rt.pool.release(grads);
    rt.pool.release(norm);
  });
});

interface Case {
  n: number;
  decayEnd: number;
  /** maxNorm relative to the typical gradient norm: < 1 clips every step, 0 disables clipping. */
  clipRatio: number;
  gradScale?: number;
  chunkElems?: number;
  /** Non-default override constants. */
  WG?: number;
  VPT?: number;
}

const CASES: Case[] = [
  { n: 1, decayEnd: 1, clipRatio: 0 },
  { n: 3, decayEnd: 1, clipRatio: 0.5 },
  { n: 1000, decayEnd: 500, clipRatio: 0 },
  { n: 1000, decayEnd: 500, clipRatio: 0.3 },
  { n: 4099, decayEnd: 1234, clipRatio: 10 }, // clipping enabled, never active
  { n: 4099, decayEnd: 1234, clipRatio: 0.3, gradScale: 0.25 },
  { n: 4099, decayEnd: 0, clipRatio: 0.3 },
  { n: 4099, decayEnd: 4099, clipRatio: 0 },
  { n: 5003, decayEnd: 2011, clipRatio: 0.3, chunkElems: 256 }, // chunked: decayEnd inside a chunk
  { n: 4099, decayEnd: 1234, clipRatio: 0.3, WG: 64, VPT: 1 },
  { n: 4099, decayEnd: 1234, clipRatio: 0.3, WG: 128, VPT: 3 },
];

describe('adamw', () => {
  for (const c of CASES) {
    const name = `n=${c.n} decayEnd=${c.decayEnd} ${c.clipRatio > 0 ? `maxNorm=${c.clipRatio}·|g|` : 'no clipping'}${c.gradScale ? ` gradScale=${c.gradScale}` : ''}${c.chunkElems ? ` chunks of ${c.chunkElems}` : ''}${c.WG ? ` WG=${c.WG} VPT=${c.VPT}` : ''}`;
    it(`ten steps match the float64 reference: ${name}`, async () => {
      const { n, decayEnd } = c;
      const gradScale = c.gradScale ?? 1;
      const hp = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
      // The typical effective gradient norm: uniform(-1, 1) has E[g²] = 1/3.
      const maxNorm = c.clipRatio * gradScale * Math.sqrt(n / 3);

      const p64 = rand(n, 1);
      const m64 = new Float64Array(n);
      const v64 = new Float64Array(n);
      const decay = new Uint8Array(n).fill(1, 0, decayEnd);
      const SENTINEL = 12345;
      const params = uploadPadded(p64, SENTINEL);
      const m = uploadPadded(m64, SENTINEL);
      const v = uploadPadded(v64, SENTINEL);
      const norm = poisoned(rt, 2);
      let clipped = 0;

      for (let step = 1; step <= 10; step++) {
        const g = rand(n, 100 + step);
        const grads = uploadPadded(g, NaN);
        if (maxNorm > 0) globalNorm(rt, { norm, grads }, { n, gradScale, chunkElems: c.chunkElems });
        adamw(
          rt,
          { params, grads, m, v, norm },
          { n, decayEnd, ...hp, step, maxNorm, gradScale, chunkElems: c.chunkElems, WG: c.WG, VPT: c.VPT },
        );
        rt.pool.release(grads);

        const effNorm = gradScale * refGlobalNorm([g]);
        const clip = maxNorm > 0 ? Math.min(1, maxNorm / (effNorm + 1e-6)) : 1;
        if (clip < 1) clipped++;
        adamwStep(p64, g, m64, v64, decay, n, { ...hp, step, gradScale: gradScale * clip });
      }
      if (c.clipRatio > 0 && c.clipRatio < 1 && n > 100) expect(clipped).toBe(10);
      if (c.clipRatio >= 1) expect(clipped).toBe(0);

      const padded = Math.ceil(n / 4) * 4;
      const gotP = await readF32(rt, params, padded);
      const gotM = await readF32(rt, m, padded);
      const gotV = await readF32(rt, v, padded);
      assertClose(gotP.subarray(0, n), p64, 'f32Reduce', `params ${name}`);
      assertClose(gotM.subarray(0, n), m64, 'f32Reduce', `m ${name}`);
      assertClose(gotV.subarray(0, n), v64, 'f32Reduce', `v ${name}`);
      for (const arr of [gotP, gotM, gotV]) {
        expect(Array.from(arr.subarray(n)), 'padding lanes untouched').toEqual(new Array(padded - n).fill(SENTINEL));
      }
      for (const b of [params, m, v, norm]) rt.pool.release(b);
    });
  }

  it('one step on a 2-D grid (more than 65535 workgroups: WG=64, VPT=1)', async () => {
    const n = 4 * 65535 * 64 + 9;
    const decayEnd = 3_000_001;
    const p64 = rand(n, 51);
    const g = rand(n, 52);
    const params = uploadPadded(p64);
    const grads = uploadPadded(g);
    const m = uploadPadded(new Float64Array(n));
    const v = uploadPadded(new Float64Array(n));
    const norm = poisoned(rt, 2);
    const hp = { lr: 0.01, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    const gn = refGlobalNorm([g]);
    globalNorm(rt, { norm, grads }, { n });
    adamw(rt, { params, grads, m, v, norm }, { n, decayEnd, ...hp, step: 1, maxNorm: gn / 2, WG: 64, VPT: 1 });
    const m64 = new Float64Array(n);
    const v64 = new Float64Array(n);
    adamwStep(p64, g, m64, v64, new Uint8Array(n).fill(1, 0, decayEnd), n, {
      ...hp,
      step: 1,
      gradScale: Math.min(1, gn / 2 / (gn + 1e-6)),
    });
    assertClose(await readF32(rt, params, n), p64, 'f32Reduce', 'params');
    assertClose(await readF32(rt, v, n), v64, 'f32Reduce', 'v');
    for (const b of [params, grads, m, v, norm]) rt.pool.release(b);
  });

  it('a zero gradient only decays (no 0/0) and its norm is 0', async () => {
    const n = 37;
    const p64 = rand(n, 5);
    const params = uploadPadded(p64);
    const grads = uploadPadded(new Float64Array(n));
    const m = uploadPadded(new Float64Array(n));
    const v = uploadPadded(new Float64Array(n));
    const norm = poisoned(rt, 2);
    const hp = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.5 };
    globalNorm(rt, { norm, grads }, { n });
    adamw(rt, { params, grads, m, v, norm }, { n, decayEnd: 20, ...hp, step: 1, maxNorm: 1 });
    expect(Array.from(await readF32(rt, norm, 2))).toEqual([0, 0]);
    const want = p64.map((x, i) => (i < 20 ? x * (1 - hp.lr * hp.weightDecay) : x));
    assertClose(await readF32(rt, params, n), want, 'f32', 'decayed params');
    for (const b of [params, grads, m, v, norm]) rt.pool.release(b);
  });

  it('validates step, decayEnd and the norm buffer', () => {
    const a = rt.pool.acquire(256);
    const b = rt.pool.acquire(256);
    const c = rt.pool.acquire(256);
    const d = rt.pool.acquire(256);
    const hp = { n: 8, decayEnd: 4, lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, maxNorm: 0 };
    expect(() => adamw(rt, { params: a, grads: b, m: c, v: d }, { ...hp, step: 0 })).toThrow(/1-based/);
    expect(() => adamw(rt, { params: a, grads: b, m: c, v: d }, { ...hp, step: 1, decayEnd: 9 })).toThrow(/decayEnd/);
    expect(() => adamw(rt, { params: a, grads: b, m: c, v: d }, { ...hp, step: 1, maxNorm: 1 })).toThrow(/norm buffer/);
    for (const x of [a, b, c, d]) rt.pool.release(x);
  });
});
