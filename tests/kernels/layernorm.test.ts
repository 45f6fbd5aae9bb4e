import { describe, expect, it } from 'vitest';
import {
  layernormBackward,
  layernormForward,
  type LayernormTuning,
  type LayernormVariant,
} from '../../kernels/layernorm.ts';
import { layernormBackward as refBackward, layernormForward as refForward } from '../../kernels/reference.ts';
import { assertClose } from '../../kernels/check.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, randn } from '../util/kernel.ts';

const rt = await useRuntime();
const hasSubgroups = rt.features.has('subgroups');

interface Case {
  N: number;
  C: number;
  variant: LayernormVariant;
  tuning?: Partial<LayernormTuning>;
}

function label(c: Case): string {
  return `${c.variant} N=${c.N} C=${c.C}${c.tuning ? ` ${JSON.stringify(c.tuning)}` : ''}`;
}

async function checkForward(c: Case): Promise<void> {
  const { N, C } = c;
  // A mean far from 0 next to a unit spread: E[x^2] - E[x]^2 would lose most digits here.
  const x = randn(N * C, N * 31 + C, 1, 100);
  const w = randn(C, C + 1, 0.5, 1);
  const bb = randn(C, C + 2, 0.5);
  const inp = upload(rt, x);
  const weight = upload(rt, w);
  const bias = upload(rt, bb);
  const out = poisoned(rt, N * C);
  const mean = poisoned(rt, N);
  const rstd = poisoned(rt, N);
  layernormForward(rt, { out, mean, rstd, inp, weight, bias }, { N, C, variant: c.variant, tuning: c.tuning });
  const wantOut = new Float64Array(N * C);
  const wantMean = new Float64Array(N);
  const wantRstd = new Float64Array(N);
  refForward(wantOut, wantMean, wantRstd, x, w, bb, N, C);
  assertClose(await readF32(rt, mean, N), wantMean, 'f32Reduce', `layernorm mean ${label(c)}`);
  assertClose(await readF32(rt, rstd, N), wantRstd, 'f32Reduce', `layernorm rstd ${label(c)}`);
  assertClose(await readF32(rt, out, N * C), wantOut, 'f32Reduce', `layernorm out ${label(c)}`);
  for (const b of [inp, weight, bias, out, mean, rstd]) rt.pool.release(b);
}

async function checkBackward(c: Case, accumulate: boolean): Promise<void> {
  const { N, C } = c;
  const x = randn(N * C, N * 17 + C, 2, -3);
  const w = randn(C, C + 3, 0.5, 1);
  const g = randn(N * C, N + C + 4);
  // mean and rstd as the forward saves them (f32), which is what the kernel reads.
  const m64 = new Float64Array(N);
  const r64 = new Float64Array(N);
  refForward(new Float64Array(N * C), m64, r64, x, w, new Float64Array(C), N, C);
  const m = Float64Array.from(Float32Array.from(m64));
  const r = Float64Array.from(Float32Array.from(r64));
  const prior = randn(C, 9);
  const inp = upload(rt, x);
  const weight = upload(rt, w);
  const dout = upload(rt, g);
  const mean = upload(rt, m);
  const rstd = upload(rt, r);
  const dinp = poisoned(rt, N * C);
  const dweight = accumulate ? upload(rt, prior) : poisoned(rt, C);
  const dbias = accumulate ? upload(rt, prior) : poisoned(rt, C);
  layernormBackward(
    rt,
    { dinp, dweight, dbias, dout, inp, weight, mean, rstd },
    { N, C, accumulate, variant: c.variant, tuning: c.tuning },
  );
  const wantDinp = new Float64Array(N * C);
  const wantDw = accumulate ? Float64Array.from(prior) : new Float64Array(C);
  const wantDb = accumulate ? Float64Array.from(prior) : new Float64Array(C);
  refBackward(wantDinp, wantDw, wantDb, g, x, w, m, r, N, C);
  const tag = `${label(c)}${accumulate ? ' accumulate' : ''}`;
  assertClose(await readF32(rt, dinp, N * C), wantDinp, 'f32Reduce', `layernorm dinp ${tag}`);
  assertClose(await readF32(rt, dweight, C), wantDw, 'f32Reduce', `layernorm dweight ${tag}`);
  assertClose(await readF32(rt, dbias, C), wantDb, 'f32Reduce', `layernorm dbias ${tag}`);
  for (const b of [inp, weight, dout, mean, rstd, dinp, dweight, dbias]) rt.pool.release(b);
}

const SIZES: Record<LayernormVariant, number[]> = {
  scalar: [1, 3, 17, 33, 257],
  vec4: [4, 36, 260, 772],
};

// The adapter's own choice, then forced geometries: rows per workgroup that do not divide N,
// workgroups wider than the row, the subgroup reduction, the GPU's workgroup-memory tree.
const TUNINGS: (Partial<LayernormTuning> | undefined)[] = [
  undefined,
  { WG: 4, ROWS: 2, reduction: 'workgroup' },
  { WG: 8, ROWS: 3, reduction: 'subgroup' },
  { WG: 16, ROWS: 2, reduction: 'workgroup' },
  // The register-cached forward (lavapipe's choice, so the same pipeline as its auto choice at
  // C = 772): rows that leave most of the cached chunks empty up to rows of 772, N = 7 rows in a
  // block of 16; the workgroup-memory reduction with 3 rows per workgroup (a short last block);
  // rows that fill the cache exactly and many row blocks are below.
  { WG: 8, ROWS: 16, reduction: 'subgroup', VPT: 32 },
  { WG: 16, ROWS: 3, reduction: 'workgroup', VPT: 16 },
];

describe('layernorm', () => {
  for (const variant of ['scalar', 'vec4'] as const) {
    // (The 16-wide tree only for vec4: lavapipe compiles each pipeline for seconds; the cached
    // forward is vec4 only.)
    for (const tuning of TUNINGS.filter((t) => variant === 'vec4' || (t?.WG !== 16 && !t?.VPT))) {
      // VPT picks the forward's cached variant; the backward has none (its geometries are above).
      const backwardToo = !tuning?.VPT;
      it(`${variant} ${tuning ? JSON.stringify(tuning) : 'auto'}: forward${backwardToo ? ', backward' : ''}`, async (ctx) => {
        if (tuning?.reduction === 'subgroup' && !hasSubgroups) ctx.skip();
        for (const C of SIZES[variant]) {
          for (const N of [1, 7]) {
            const c: Case = { N, C, variant, tuning };
            await checkForward(c);
            if (backwardToo) await checkBackward(c, false);
          }
        }
        if (backwardToo) await checkBackward({ N: 19, C: SIZES[variant][2]!, variant, tuning }, true);
      });
    }
  }

  it('GPT-2 width, many row blocks (N=300, C=768) with the adapter configuration and a 64-wide tree', async () => {
    await checkForward({ N: 300, C: 768, variant: 'vec4' });
    await checkBackward({ N: 300, C: 768, variant: 'vec4' }, true);
    await checkForward({ N: 33, C: 768, variant: 'vec4', tuning: { WG: 64, ROWS: 2, reduction: 'workgroup' } });
    if (hasSubgroups)
      await checkForward({
        N: 5,
        C: 1024,
        variant: 'vec4',
        tuning: { WG: 8, ROWS: 16, reduction: 'subgroup', VPT: 32 },
      });
    await checkForward({
      N: 5,
      C: 1024,
      variant: 'vec4',
      tuning: { WG: 16, ROWS: 3, reduction: 'workgroup', VPT: 16 },
    });
    const tiny = rt.pool.acquire(16, 'test');
    const bufs = { out: tiny, mean: tiny, rstd: tiny, inp: tiny, weight: tiny, bias: tiny };
    expect(() =>
      layernormForward(rt, bufs, { N: 1, C: 1028, tuning: { WG: 8, ROWS: 2, reduction: 'workgroup', VPT: 32 } }),
    ).toThrow(/cannot hold a row of C=1028/);
    rt.pool.release(tiny);
    await checkBackward({ N: 33, C: 768, variant: 'vec4', tuning: { WG: 64, ROWS: 2, reduction: 'workgroup' } }, false);
  });
});
