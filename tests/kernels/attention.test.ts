// Fused causal attention against the float64 reference (forward, lse, backward), against the
// composed path (matmul -> causal softmax -> matmul), and KV-cache decoding against the full
// forward's rows. Both variants (tiled; subgroup where the adapter has 8-lane-or-wider subgroups),
// ragged T that divides no tile, head sizes 4 .. 128, non-default tile configurations.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  attentionBackward,
  attentionComposed,
  attentionComposedBackward,
  attentionDecode,
  attentionForward,
  attentionSupportsHS,
  type AttentionOptions,
  type AttentionVariant,
} from '../../kernels/attention.ts';
import { attentionBackward as refBackward, attentionForward as refForward } from '../../kernels/reference.ts';
import { assertClose } from '../../kernels/check.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, randn } from '../util/kernel.ts';

const rt = await useRuntime();
let variants: AttentionVariant[] = ['tiled'];
/** Head sizes the tiled variant is tested at here (see SMALL_HS). */
let tiledHS = (HS: number) => HS > 0;
const held: GPUBuffer[] = [];
beforeAll(() => {
  const minSg = (rt.adapter.info as GPUAdapterInfo & { subgroupMinSize?: number }).subgroupMinSize ?? 0;
  if (rt.features.has('subgroups') && minSg >= 8) variants = ['tiled', 'subgroup'];
  // On CPU adapters the tiled (GPU) variant is tested up to HS = 32 only: lavapipe runs each
  // workgroup as an LLVM coroutine (to suspend at barriers), and compiling the fully unrolled
  // tiled kernels takes ~70 s for the three entry points at HS = 32 with an empty shader cache and
  // minutes at HS = 128. The code paths are the same at every HS (HS only bounds the loops); GPUs
  // test every size.
  if (rt.isSoftware) tiledHS = (HS) => HS <= 32;
});
afterEach(() => {
  for (const b of held.splice(0)) rt.pool.release(b);
});

function hold<T extends GPUBuffer>(b: T): T {
  held.push(b);
  return b;
}

interface Shape {
  B: number;
  NH: number;
  T: number;
  HS: number;
}

function inputs(s: Shape, seed: number, qScale = 1) {
  const n = s.B * s.NH * s.T * s.HS;
  return { q: randn(n, seed, qScale), k: randn(n, seed + 1), v: randn(n, seed + 2), dout: randn(n, seed + 3) };
}

function reference(s: Shape, x: ReturnType<typeof inputs>) {
  const n = s.B * s.NH * s.T * s.HS;
  const r = {
    out: new Float64Array(n),
    lse: new Float64Array(s.B * s.NH * s.T),
    dq: new Float64Array(n),
    dk: new Float64Array(n),
    dv: new Float64Array(n),
  };
  refForward(r.out, r.lse, x.q, x.k, x.v, s.B, s.NH, s.T, s.HS);
  refBackward(r.dq, r.dk, r.dv, x.dout, x.q, x.k, x.v, r.out, r.lse, s.B, s.NH, s.T, s.HS);
  return r;
}

/** Runs the fused forward and backward; returns what they wrote. */
async function flash(s: Shape, x: ReturnType<typeof inputs>, opts: AttentionOptions) {
  const n = s.B * s.NH * s.T * s.HS;
  const nl = s.B * s.NH * s.T;
  const [q, k, v, dout] = [x.q, x.k, x.v, x.dout].map((a) => hold(upload(rt, a)));
  const out = hold(poisoned(rt, n));
  const lse = hold(poisoned(rt, nl));
  const [dq, dk, dv] = [0, 1, 2].map(() => hold(poisoned(rt, n)));
  const scratch = hold(poisoned(rt, nl));
  attentionForward(rt, { out, lse, q: q!, k: k!, v: v! }, s, opts);
  attentionBackward(rt, { dq: dq!, dk: dk!, dv: dv!, dout: dout!, q: q!, k: k!, v: v!, out, lse, scratch }, s, opts);
  return {
    out: await readF32(rt, out, n),
    lse: await readF32(rt, lse, nl),
    dq: await readF32(rt, dq!, n),
    dk: await readF32(rt, dk!, n),
    dv: await readF32(rt, dv!, n),
  };
}

async function checkAgainstReference(s: Shape, opts: AttentionOptions, qScale = 1): Promise<void> {
  const x = inputs(s, s.T * 131 + s.HS * 7 + s.B * 3 + s.NH, qScale);
  const r = reference(s, x);
  const g = await flash(s, x, opts);
  const tag = `${opts.variant} ${JSON.stringify(s)}${opts.BR ? ` BR=${opts.BR} BC=${opts.BC}` : ''}${opts.WG ? ` WG=${opts.WG}` : ''}`;
  assertClose(g.out, r.out, 'f32Reduce', `out ${tag}`);
  assertClose(g.lse, r.lse, 'f32Reduce', `lse ${tag}`);
  assertClose(g.dq, r.dq, 'f32Chain', `dq ${tag}`);
  assertClose(g.dk, r.dk, 'f32Chain', `dk ${tag}`);
  assertClose(g.dv, r.dv, 'f32Chain', `dv ${tag}`);
}

// T = 1, 7, 33, 65 and larger; head sizes 4 .. 128; B·NH > 1.
const SHAPES: Shape[] = [
  { B: 1, NH: 2, T: 1, HS: 64 },
  { B: 2, NH: 1, T: 7, HS: 32 },
  { B: 1, NH: 3, T: 33, HS: 64 },
  { B: 2, NH: 1, T: 65, HS: 128 },
  { B: 1, NH: 2, T: 33, HS: 4 },
  { B: 2, NH: 1, T: 65, HS: 16 },
  { B: 1, NH: 2, T: 65, HS: 32 },
  { B: 2, NH: 1, T: 7, HS: 8 },
  { B: 1, NH: 2, T: 1, HS: 16 },
  { B: 1, NH: 3, T: 33, HS: 8 },
];

describe('attention forward + backward vs the float64 reference', () => {
  for (const variant of ['tiled', 'subgroup'] as const) {
    for (const s of SHAPES) {
      it(`${variant} B=${s.B} NH=${s.NH} T=${s.T} HS=${s.HS}`, async (ctx) => {
        if (!variants.includes(variant) || (variant === 'tiled' && !tiledHS(s.HS))) ctx.skip();
        await checkAgainstReference(s, { variant });
      });
    }
    for (const HS of [16, 64]) {
      it(`${variant} T=257 HS=${HS} (larger), peaked softmax`, async (ctx) => {
        if (!variants.includes(variant) || (variant === 'tiled' && !tiledHS(HS))) ctx.skip();
        await checkAgainstReference({ B: 1, NH: 2, T: 257, HS }, { variant }, 3);
      });
    }
  }

  it('tiled with small tiles (many ragged tiles per row block)', async () => {
    await checkAgainstReference({ B: 1, NH: 2, T: 45, HS: 16 }, { variant: 'tiled', BR: 8, BC: 12 });
    await checkAgainstReference({ B: 2, NH: 1, T: 38, HS: 8 }, { variant: 'tiled', BR: 4, BC: 4 });
  });

  it('subgroup with two subgroups per workgroup (WG=16)', async (ctx) => {
    if (!variants.includes('subgroup')) ctx.skip();
    await checkAgainstReference({ B: 1, NH: 2, T: 75, HS: 8 }, { variant: 'subgroup', WG: 16 });
  });

  it('rejects unsupported head sizes', () => {
    expect(attentionSupportsHS(64)).toBe(true);
    expect(attentionSupportsHS(48)).toBe(false);
    expect(attentionSupportsHS(6)).toBe(false);
    const b = hold(poisoned(rt, 16));
    expect(() => attentionForward(rt, { out: b, lse: b, q: b, k: b, v: b }, { B: 1, NH: 1, T: 1, HS: 48 })).toThrow(
      /head size 48/,
    );
  });
});

describe('attention vs the composed path (matmul -> causal softmax -> matmul)', () => {
  it('forward and backward agree with the fused kernels', async () => {
    const s = { B: 2, NH: 2, T: 37, HS: 16 };
    const n = s.B * s.NH * s.T * s.HS;
    const x = inputs(s, 99);
    const r = reference(s, x);
    const [q, k, v, dout] = [x.q, x.k, x.v, x.dout].map((a) => hold(upload(rt, a)));
    const out = hold(poisoned(rt, n));
    const probs = hold(poisoned(rt, s.B * s.NH * s.T * s.T));
    const [dq, dk, dv] = [0, 1, 2].map(() => hold(poisoned(rt, n)));
    attentionComposed(rt, { out, probs, q: q!, k: k!, v: v! }, s);
    attentionComposedBackward(rt, { dq: dq!, dk: dk!, dv: dv!, dout: dout!, q: q!, k: k!, v: v!, probs }, s);
    const c = {
      out: await readF32(rt, out, n),
      dq: await readF32(rt, dq!, n),
      dk: await readF32(rt, dk!, n),
      dv: await readF32(rt, dv!, n),
    };
    assertClose(c.out, r.out, 'f32Reduce', 'composed out vs reference');
    assertClose(c.dq, r.dq, 'f32Chain', 'composed dq vs reference');
    for (const variant of variants) {
      const f = await flash(s, x, { variant });
      assertClose(f.out, c.out, 'f32Reduce', `${variant} out vs composed`);
      assertClose(f.dq, c.dq, 'f32Chain', `${variant} dq vs composed`);
      assertClose(f.dk, c.dk, 'f32Chain', `${variant} dk vs composed`);
      assertClose(f.dv, c.dv, 'f32Chain', `${variant} dv vs composed`);
    }
  });
});

describe('attention decoding with a KV cache', () => {
  // The cache holds maxT rows per head, filled up to qOffset + Tq; rows past that are garbage
  // (NaN) that the kernel must not read. The result must equal the full forward's last Tq rows.
  async function checkDecode(variant: AttentionVariant, s: Shape, Tq: number, maxT: number): Promise<void> {
    const { B, NH, T, HS } = s;
    const qOffset = T - Tq;
    const x = inputs(s, T * 17 + Tq);
    const r = reference(s, x);
    const cacheK = new Float64Array(B * NH * maxT * HS).fill(NaN);
    const cacheV = new Float64Array(B * NH * maxT * HS).fill(NaN);
    const qLast = new Float64Array(B * NH * Tq * HS);
    const want = new Float64Array(B * NH * Tq * HS);
    for (let bh = 0; bh < B * NH; bh++) {
      cacheK.set(x.k.subarray(bh * T * HS, (bh + 1) * T * HS), bh * maxT * HS);
      cacheV.set(x.v.subarray(bh * T * HS, (bh + 1) * T * HS), bh * maxT * HS);
      qLast.set(x.q.subarray((bh * T + qOffset) * HS, (bh + 1) * T * HS), bh * Tq * HS);
      want.set(r.out.subarray((bh * T + qOffset) * HS, (bh + 1) * T * HS), bh * Tq * HS);
    }
    const out = hold(poisoned(rt, B * NH * Tq * HS));
    const k = hold(upload(rt, cacheK));
    const v = hold(upload(rt, cacheV));
    const q = hold(upload(rt, qLast));
    attentionDecode(rt, { out, q, k, v }, { B, NH, Tq, qOffset, maxT, HS }, { variant });
    assertClose(
      await readF32(rt, out, B * NH * Tq * HS),
      want,
      'f32Reduce',
      `decode ${variant} T=${T} Tq=${Tq} maxT=${maxT}`,
    );
  }

  for (const variant of ['tiled', 'subgroup'] as const) {
    it(`${variant}: one new token, a few, and a block wider than one workgroup`, async (ctx) => {
      if (!variants.includes(variant)) ctx.skip();
      const big = variant === 'subgroup' || tiledHS(64);
      await checkDecode(variant, { B: 2, NH: 2, T: 29, HS: big ? 64 : 16 }, 1, 40);
      await checkDecode(variant, { B: 1, NH: 3, T: 21, HS: big ? 32 : 8 }, 5, 32);
      await checkDecode(variant, { B: 1, NH: 2, T: 90, HS: 16 }, 70, 96);
      await checkDecode(variant, { B: 1, NH: 1, T: 1, HS: 8 }, 1, 4);
    });
  }
});
