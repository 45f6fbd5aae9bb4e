import { describe, expect, it } from 'vitest';
import { embeddingBackward, embeddingForward, type EmbeddingVariant } from '../../kernels/embedding.ts';
import { encoderBackward, encoderForward } from '../../kernels/reference.ts';
import { assertClose } from '../../kernels/check.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, randu, uniforms } from '../util/kernel.ts';

const rt = await useRuntime();

/** Uniform values in [-1, 1), rounded to f32. */
const rand = (n: number, seed: number): Float64Array => randu(n, seed);

/** Token ids in [0, V), skewed towards small ids so that tokens repeat, as in text. */
function tokens(n: number, V: number, seed: number): Int32Array {
  const u = uniforms(seed);
  return Int32Array.from({ length: n }, () => Math.min(V - 1, Math.floor(V * u() * u())));
}

interface Shape {
  B: number;
  T: number;
  C: number;
  V: number;
  maxT: number;
}

// Ragged everywhere: C not a multiple of the workgroup, B·T below, at and above one link tile
// (256), vocabularies so small that every token repeats many times (long chains), one where all
// positions hold the same token.
const SHAPES: Shape[] = [
  { B: 1, T: 1, C: 1, V: 1, maxT: 1 },
  { B: 2, T: 3, C: 5, V: 7, maxT: 4 },
  { B: 3, T: 17, C: 33, V: 11, maxT: 17 },
  { B: 1, T: 256, C: 3, V: 1000, maxT: 300 },
  { B: 3, T: 257, C: 17, V: 50, maxT: 257 },
  { B: 2, T: 300, C: 9, V: 1, maxT: 301 },
  { B: 5, T: 33, C: 257, V: 400, maxT: 40 },
];
const SHAPES_VEC4: Shape[] = [
  { B: 1, T: 1, C: 4, V: 1, maxT: 1 },
  { B: 2, T: 3, C: 8, V: 7, maxT: 4 },
  { B: 3, T: 17, C: 36, V: 11, maxT: 17 },
  { B: 3, T: 257, C: 20, V: 50, maxT: 257 },
  { B: 2, T: 300, C: 12, V: 1, maxT: 301 },
  { B: 4, T: 64, C: 768, V: 5000, maxT: 64 },
];

function cases(): [EmbeddingVariant, Shape][] {
  return [
    ...SHAPES.map((s) => ['scalar', s] as [EmbeddingVariant, Shape]),
    ...SHAPES_VEC4.slice(0, 2).map((s) => ['scalar', s] as [EmbeddingVariant, Shape]), // scalar forced on C % 4 == 0
    ...SHAPES_VEC4.map((s) => ['vec4', s] as [EmbeddingVariant, Shape]),
  ];
}

const label = (v: EmbeddingVariant, s: Shape) => `${v} B=${s.B} T=${s.T} C=${s.C} V=${s.V}`;

describe('embedding', () => {
  for (const [variant, s] of cases()) {
    const { B, T, C, V, maxT } = s;
    it(`forward ${label(variant, s)}`, async () => {
      const ids = tokens(B * T, V, B * 1000 + T);
      const wte = rand(V * C, 1);
      const wpe = rand(maxT * C, 2);
      const inp = upload(rt, ids);
      const wteBuf = upload(rt, wte);
      const wpeBuf = upload(rt, wpe);
      const out = poisoned(rt, B * T * C);
      embeddingForward(rt, { out, inp, wte: wteBuf, wpe: wpeBuf }, { B, T, C, V, variant });
      const got = await readF32(rt, out, B * T * C);
      const want = new Float64Array(B * T * C);
      encoderForward(want, ids, wte, wpe, B, T, C);
      assertClose(got, want, 'f32', `forward ${label(variant, s)}`);

      // The same ids without wpe: a plain lookup.
      const out2 = poisoned(rt, B * T * C);
      embeddingForward(rt, { out: out2, inp, wte: wteBuf }, { B, T, C, V, variant });
      const got2 = await readF32(rt, out2, B * T * C);
      encoderForward(want, ids, wte, new Float64Array(T * C), B, T, C);
      assertClose(got2, want, 'exact', `lookup ${label(variant, s)}`);
      for (const b of [inp, wteBuf, wpeBuf, out, out2]) rt.pool.release(b);
    });

    it(`backward ${label(variant, s)}`, async () => {
      const ids = tokens(B * T, V, B * 77 + T);
      const g = rand(B * T * C, 3);
      // Nonzero starting gradients: the kernel must accumulate, as for a tied LM head.
      const dwte = rand(V * C, 4);
      const dwpe = rand(maxT * C, 5);
      const dout = upload(rt, g);
      const inp = upload(rt, ids);
      const dwteBuf = upload(rt, dwte);
      const dwpeBuf = upload(rt, dwpe);
      embeddingBackward(rt, { dwte: dwteBuf, dwpe: dwpeBuf, dout, inp }, { B, T, C, V, variant });
      const gotWte = await readF32(rt, dwteBuf, V * C);
      const gotWpe = await readF32(rt, dwpeBuf, maxT * C);
      encoderBackward(dwte, dwpe, g, ids, B, T, C);
      assertClose(gotWte, dwte, 'f32Reduce', `dwte ${label(variant, s)}`);
      assertClose(gotWpe, dwpe, 'f32Reduce', `dwpe ${label(variant, s)}`);
      for (const b of [dout, inp, dwteBuf, dwpeBuf]) rt.pool.release(b);
    });
  }

  // Non-default override constants: workgroups narrower and wider than a row, 1 and 3 rows each.
  for (const variant of ['scalar', 'vec4'] as const) {
    for (const tuning of [
      { WG: 32, RPW: 1, LINK_WG: 32 },
      { WG: 256, RPW: 3, LINK_WG: 256 },
    ]) {
      const s = { B: 3, T: 50, C: variant === 'vec4' ? 132 : 131, V: 20 };
      it(`forward + backward ${variant} WG=${tuning.WG} RPW=${tuning.RPW} LINK_WG=${tuning.LINK_WG} B=${s.B} T=${s.T} C=${s.C}`, async () => {
        const { B, T, C, V } = s;
        const ids = tokens(B * T, V, 21);
        const wte = rand(V * C, 22);
        const wpe = rand(T * C, 23);
        const g = rand(B * T * C, 24);
        const inp = upload(rt, ids);
        const wteBuf = upload(rt, wte);
        const wpeBuf = upload(rt, wpe);
        const dout = upload(rt, g);
        const out = poisoned(rt, B * T * C);
        embeddingForward(rt, { out, inp, wte: wteBuf, wpe: wpeBuf }, { ...s, variant, ...tuning });
        const want = new Float64Array(B * T * C);
        encoderForward(want, ids, wte, wpe, B, T, C);
        assertClose(await readF32(rt, out, B * T * C), want, 'f32', 'forward');
        // Backward into the weight buffers themselves: they are nonzero, so this checks += too.
        embeddingBackward(rt, { dwte: wteBuf, dwpe: wpeBuf, dout, inp }, { ...s, variant, ...tuning });
        encoderBackward(wte, wpe, g, ids, B, T, C);
        assertClose(await readF32(rt, wteBuf, V * C), wte, 'f32Reduce', 'dwte');
        assertClose(await readF32(rt, wpeBuf, T * C), wpe, 'f32Reduce', 'dwpe');
        for (const b of [inp, wteBuf, wpeBuf, dout, out]) rt.pool.release(b);
      });
    }
  }

  it('forward on a 2-D grid (more than 65535 workgroups: B·T = 65537 rows, RPW=1)', async () => {
    const B = 65537,
      T = 1,
      C = 4,
      V = 300;
    const ids = tokens(B * T, V, 31);
    const wte = rand(V * C, 32);
    const wpe = rand(T * C, 33);
    const inp = upload(rt, ids);
    const wteBuf = upload(rt, wte);
    const wpeBuf = upload(rt, wpe);
    const out = poisoned(rt, B * T * C);
    embeddingForward(rt, { out, inp, wte: wteBuf, wpe: wpeBuf }, { B, T, C, V, RPW: 1 });
    const want = new Float64Array(B * T * C);
    encoderForward(want, ids, wte, wpe, B, T, C);
    assertClose(await readF32(rt, out, B * T * C), want, 'f32', 'forward 2-D grid');
    for (const b of [inp, wteBuf, wpeBuf, out]) rt.pool.release(b);
  });

  it('backward is deterministic and dwpe is optional', async () => {
    const B = 4,
      T = 200,
      C = 12,
      V = 3;
    const ids = tokens(B * T, V, 9);
    const g = rand(B * T * C, 10);
    const dout = upload(rt, g);
    const inp = upload(rt, ids);
    const runs: Float32Array[] = [];
    for (let r = 0; r < 3; r++) {
      const dwte = upload(rt, new Float32Array(V * C));
      embeddingBackward(rt, { dwte, dout, inp }, { B, T, C, V });
      runs.push(await readF32(rt, dwte, V * C));
      rt.pool.release(dwte);
    }
    expect(runs[1]).toEqual(runs[0]);
    expect(runs[2]).toEqual(runs[0]);
    const want = new Float64Array(V * C);
    encoderBackward(want, new Float64Array(T * C), g, ids, B, T, C);
    assertClose(runs[0]!, want, 'f32Reduce', 'dwte without dwpe');
    rt.pool.release(dout);
    rt.pool.release(inp);
  });

  for (const variant of ['scalar', 'vec4'] as const) {
    it(`out-of-range ids read a zero row and send no gradient to dwte (${variant})`, async () => {
      const B = 1,
        T = 6,
        C = 8,
        V = 3;
      const ids = Int32Array.from([0, -1, 2, 3, 1 << 30, 2]);
      const wte = rand(V * C, 11);
      const wpe = rand(T * C, 12);
      const inp = upload(rt, ids);
      const wteBuf = upload(rt, wte);
      const wpeBuf = upload(rt, wpe);
      const out = poisoned(rt, B * T * C);
      embeddingForward(rt, { out, inp, wte: wteBuf, wpe: wpeBuf }, { B, T, C, V, variant });
      const got = await readF32(rt, out, B * T * C);
      const want = new Float64Array(B * T * C);
      for (let t = 0; t < T; t++) {
        const id = ids[t]!;
        for (let c = 0; c < C; c++) want[t * C + c] = (id >= 0 && id < V ? wte[id * C + c]! : 0) + wpe[t * C + c]!;
      }
      assertClose(got, want, 'f32', 'forward with bad ids');

      const g = rand(T * C, 13);
      const dout = upload(rt, g);
      const dwte = upload(rt, new Float32Array(V * C));
      const dwpe = upload(rt, new Float32Array(T * C));
      embeddingBackward(rt, { dwte, dwpe, dout, inp }, { B, T, C, V, variant });
      const gw = await readF32(rt, dwte, V * C);
      const gp = await readF32(rt, dwpe, T * C);
      const ww = new Float64Array(V * C);
      for (let t = 0; t < T; t++) {
        const id = ids[t]!;
        if (id >= 0 && id < V) for (let c = 0; c < C; c++) ww[id * C + c]! += g[t * C + c]!;
      }
      assertClose(gw, ww, 'f32Reduce', 'dwte with bad ids');
      assertClose(gp, g, 'exact', 'dwpe with bad ids');
      for (const b of [inp, wteBuf, wpeBuf, out, dout, dwte, dwpe]) rt.pool.release(b);
    });
  }
});
