import { describe, it } from 'vitest';
import {
  logSoftmaxBackward as refLogBackward,
  logSoftmaxForward as refLogForward,
  softmaxBackward as refBackward,
  softmaxForward as refForward,
} from '../../kernels/reference.ts';
import type { RowTuning } from '../../kernels/rowreduce.ts';
import { softmaxBackward, softmaxForward, type SoftmaxVariant } from '../../kernels/softmax.ts';
import { assertClose } from '../../kernels/check.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, randn } from '../util/kernel.ts';

const rt = await useRuntime();
const hasSubgroups = rt.features.has('subgroups');

/** Logits with a large offset per row (exp would overflow without the max subtraction). */
function logits(N: number, C: number, seed: number): Float64Array {
  const x = randn(N * C, seed, 3);
  for (let n = 0; n < N; n++)
    for (let c = 0; c < C; c++) x[n * C + c] = Math.fround(x[n * C + c]! + (n % 2 ? 90 : -60));
  return x;
}

function f32(x: Float64Array): Float64Array {
  return Float64Array.from(Float32Array.from(x));
}

interface Case {
  N: number;
  C: number;
  variant: SoftmaxVariant;
  tuning?: Partial<RowTuning>;
  maxBindingBytes?: number;
}

async function checkForward(c: Case, log: boolean, causalT = 0): Promise<void> {
  const { N, C } = c;
  const x = logits(N, C, N * 1000 + C);
  const inp = upload(rt, x);
  const out = poisoned(rt, N * C);
  softmaxForward(
    rt,
    { out, inp },
    { N, C, log, causalT, variant: c.variant, tuning: c.tuning, maxBindingBytes: c.maxBindingBytes },
  );
  const got = await readF32(rt, out, N * C);
  const want = new Float64Array(N * C);
  if (causalT > 0) {
    // Mask by hand: row n of the T x T matrix keeps columns j <= n % T.
    for (let n = 0; n < N; n++) {
      const keep = Math.min(C, (n % causalT) + 1);
      const row = new Float64Array(keep);
      refForward(row, x.subarray(n * C, n * C + keep), 1, keep);
      want.set(row, n * C);
    }
  } else if (log) {
    refLogForward(want, x, N, C);
  } else {
    refForward(want, x, N, C);
  }
  assertClose(
    got,
    want,
    'f32Math',
    `softmax forward${log ? ' log' : ''}${causalT ? ` causalT=${causalT}` : ''} ${label(c)}`,
  );
  rt.pool.release(inp);
  rt.pool.release(out);
}

async function checkBackward(c: Case, log: boolean): Promise<void> {
  const { N, C } = c;
  const x = logits(N, C, N * 7 + C);
  const y = new Float64Array(N * C);
  if (log) refLogForward(y, x, N, C);
  else refForward(y, x, N, C);
  const yf = f32(y);
  const g = randn(N * C, C + 5);
  const outBuf = upload(rt, yf);
  const dout = upload(rt, g);
  const dinp = poisoned(rt, N * C);
  softmaxBackward(
    rt,
    { dinp, dout, out: outBuf },
    { N, C, log, variant: c.variant, tuning: c.tuning, maxBindingBytes: c.maxBindingBytes },
  );
  const got = await readF32(rt, dinp, N * C);
  const want = new Float64Array(N * C);
  if (log) refLogBackward(want, g, yf, N, C);
  else refBackward(want, g, yf, N, C);
  assertClose(got, want, 'f32Reduce', `softmax backward${log ? ' log' : ''} ${label(c)}`);
  for (const b of [outBuf, dout, dinp]) rt.pool.release(b);
}

function label(c: Case): string {
  const t = c.tuning ? ` ${JSON.stringify(c.tuning)}` : '';
  return `${c.variant} N=${c.N} C=${c.C}${t}${c.maxBindingBytes ? ` blocks of ${c.maxBindingBytes} B` : ''}`;
}

const SIZES: Record<SoftmaxVariant, number[]> = {
  scalar: [1, 3, 17, 33, 257],
  vec4: [4, 36, 260, 1028],
};

// Forced configurations (lavapipe compiles each pipeline for seconds, so the matrix is chosen,
// not complete). Small WG x VPT sends most columns down the streaming path; VPT 0 streams
// everything; WG 32 and 256 are GPU geometries with the workgroup-memory tree.
const WG4: Partial<RowTuning> = { WG: 4, VPT: 2, reduction: 'workgroup' };
const SG8: Partial<RowTuning> = { WG: 8, VPT: 1, reduction: 'subgroup' };
const MATRIX: { variant: SoftmaxVariant; tuning: Partial<RowTuning>; log: boolean }[] = [
  { variant: 'scalar', tuning: WG4, log: false },
  { variant: 'scalar', tuning: WG4, log: true },
  { variant: 'scalar', tuning: SG8, log: false },
  { variant: 'vec4', tuning: WG4, log: false },
  { variant: 'vec4', tuning: SG8, log: false },
  { variant: 'vec4', tuning: SG8, log: true },
  { variant: 'vec4', tuning: { WG: 32, VPT: 3, reduction: 'workgroup' }, log: false },
  { variant: 'vec4', tuning: { WG: 256, VPT: 0, reduction: 'workgroup' }, log: false },
];

describe('softmax', () => {
  for (const { variant, tuning, log } of MATRIX) {
    it(`${variant} ${JSON.stringify(tuning)}${log ? ' log' : ''}: forward and backward`, async (ctx) => {
      if (tuning.reduction === 'subgroup' && !hasSubgroups) ctx.skip();
      for (const C of SIZES[variant]) {
        const c: Case = { N: 3, C, variant, tuning };
        await checkForward(c, log);
        await checkBackward(c, log);
      }
    });
  }

  it("the adapter's own configuration (short rows)", async () => {
    for (const C of [3, 17, 32]) {
      for (const log of [false, true]) {
        await checkForward({ N: 5, C, variant: C % 4 ? 'scalar' : 'vec4' }, log);
        await checkBackward({ N: 5, C, variant: C % 4 ? 'scalar' : 'vec4' }, log);
      }
    }
  });

  it('causal mask (forward), both variants and reductions', async () => {
    for (const variant of ['scalar', 'vec4'] as const) {
      for (const tuning of [hasSubgroups ? SG8 : undefined, WG4]) {
        // causalT = C: a T x T score matrix for two heads; causalT < C: a wider row than the mask.
        const C = variant === 'vec4' ? 36 : 17;
        await checkForward({ N: 2 * C, C, variant, tuning }, false, C);
        await checkForward({ N: 7, C, variant, tuning }, false, 5);
      }
    }
  });

  it('rows of 65536 (register cache plus streaming)', async () => {
    const configs: Partial<RowTuning>[] = [{ WG: 256, VPT: 8, reduction: 'workgroup' }];
    if (hasSubgroups) configs.push({ WG: 8, VPT: 4, reduction: 'subgroup' });
    for (const tuning of configs) {
      const c: Case = { N: 2, C: 65536, variant: 'vec4', tuning };
      await checkForward(c, false);
      await checkBackward(c, false);
    }
  });

  it('tensors split into row blocks (bindings smaller than the tensor)', async () => {
    // 4-row blocks: bindings at row offsets, and the causal mask must count rows from the tensor's start.
    for (const variant of ['scalar', 'vec4'] as const) {
      const C = variant === 'vec4' ? 12 : 13;
      const c: Case = { N: 11, C, variant, maxBindingBytes: 4 * C * 4 + 8 };
      await checkForward(c, false);
      await checkForward(c, false, 3);
      await checkBackward(c, true);
    }
  });

  it('rejects a vec4 variant on a ragged row and causal log-softmax', () => {
    const b = rt.pool.acquire(64);
    let threw = 0;
    try {
      softmaxForward(rt, { out: b, inp: b }, { N: 1, C: 3, variant: 'vec4' });
    } catch {
      threw++;
    }
    try {
      softmaxForward(rt, { out: b, inp: b }, { N: 1, C: 4, log: true, causalT: 2 });
    } catch {
      threw++;
    }
    rt.pool.release(b);
    if (threw !== 2) throw new Error(`expected 2 rejections, got ${threw}`);
  });
});
