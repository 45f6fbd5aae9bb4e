import { describe, it } from 'vitest';
import {
  crossEntropyBackward,
  crossEntropyForward,
  crossEntropyFused,
  type CrossEntropyVariant,
} from '../../kernels/crossentropy.ts';
import { crossEntropyBackward as refBackward, crossEntropyForward as refForward } from '../../kernels/reference.ts';
import type { RowTuning } from '../../kernels/rowreduce.ts';
import { assertClose } from '../../kernels/check.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, uniforms } from '../util/kernel.ts';

const rt = await useRuntime();
const hasSubgroups = rt.features.has('subgroups');

interface Case {
  N: number;
  V: number;
  Vp: number;
  variant: CrossEntropyVariant;
  tuning?: Partial<RowTuning>;
  ignoreIndex?: number;
  /** Fraction of rows ignored. */
  ignored?: number;
  maxBindingBytes?: number;
}

function label(c: Case): string {
  const extra = [
    c.tuning && JSON.stringify(c.tuning),
    c.ignoreIndex !== undefined && `ignore=${c.ignoreIndex}`,
    c.maxBindingBytes && `blocks of ${c.maxBindingBytes} B`,
  ];
  return `${c.variant} N=${c.N} V=${c.V} Vp=${c.Vp} ${extra.filter(Boolean).join(' ')}`;
}

function data(c: Case, seed: number): { logits: Float64Array; targets: Int32Array } {
  const u = uniforms(seed);
  const { N, V, Vp } = c;
  const logits = new Float64Array(N * Vp);
  for (let n = 0; n < N; n++) {
    // A large per-row offset: exp would overflow without the max subtraction.
    const offset = n % 3 === 0 ? 80 : n % 3 === 1 ? -70 : 0;
    for (let j = 0; j < Vp; j++) {
      // Padding holds large garbage that must not leak into the softmax.
      logits[n * Vp + j] = Math.fround(j < V ? offset + 6 * (u() - 0.5) : 1e4 * (u() - 0.3));
    }
  }
  const ignore = c.ignoreIndex ?? -1;
  const targets = new Int32Array(N);
  for (let n = 0; n < N; n++) targets[n] = u() < (c.ignored ?? 0.2) ? ignore : Math.min(V - 1, Math.floor(u() * V));
  return { logits, targets };
}

const DLOSS = 0.75;

async function check(c: Case, mode: 'forward' | 'backward' | 'fused'): Promise<void> {
  const { N, V, Vp } = c;
  const ignore = c.ignoreIndex ?? -1;
  const { logits: x, targets: tg } = data(c, N * 131 + V + Vp);
  const logits = upload(rt, x);
  const targets = upload(rt, tg);
  const dloss = upload(rt, new Float32Array([DLOSS]));
  const losses = poisoned(rt, N);
  const loss = poisoned(rt, 1);
  const dlogits = poisoned(rt, N * Vp);
  const s = {
    N,
    V,
    Vp,
    ignoreIndex: c.ignoreIndex,
    variant: c.variant,
    tuning: c.tuning,
    maxBindingBytes: c.maxBindingBytes,
  };
  if (mode === 'forward') crossEntropyForward(rt, { losses, loss, logits, targets }, s);
  else if (mode === 'backward') crossEntropyBackward(rt, { dlogits, logits, targets, dloss }, s);
  else crossEntropyFused(rt, { losses, loss, dlogits, logits, targets, dloss }, s);

  const tag = `crossentropy ${mode} ${label(c)}`;
  if (mode !== 'backward') {
    const wantLosses = new Float64Array(N);
    const wantLoss = refForward(wantLosses, x, tg, N, V, Vp, ignore);
    assertClose(await readF32(rt, losses, N), wantLosses, 'f32Reduce', `${tag} losses`);
    assertClose(await readF32(rt, loss, 1), [wantLoss], 'f32Reduce', `${tag} loss`);
  }
  if (mode !== 'forward') {
    const want = new Float64Array(N * Vp);
    refBackward(want, x, tg, N, V, Vp, ignore, DLOSS);
    const got = await readF32(rt, dlogits, N * Vp);
    assertClose(got, want, 'f32Math', `${tag} dlogits`);
    // Padding and ignored rows: exactly zero, not merely small.
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < Vp; j++) {
        if ((j >= V || tg[n] === ignore) && got[n * Vp + j] !== 0)
          throw new Error(`${tag}: dlogits[${n}, ${j}] = ${got[n * Vp + j]}, want exactly 0`);
      }
    }
  }
  for (const b of [logits, targets, dloss, losses, loss, dlogits]) rt.pool.release(b);
}

// (V, Vp) pairs: no padding, padding inside the last vec4, padding of several vec4s.
const SHAPES: Record<CrossEntropyVariant, [number, number][]> = {
  scalar: [
    [1, 1],
    [3, 5],
    [17, 17],
    [257, 259],
  ],
  vec4: [
    [1, 4],
    [17, 20],
    [64, 64],
    [257, 264],
  ],
};

const TUNINGS: (Partial<RowTuning> | undefined)[] = [
  undefined,
  { WG: 4, VPT: 1, reduction: 'workgroup' },
  { WG: 8, VPT: 2, reduction: 'subgroup' },
  { WG: 64, VPT: 0, reduction: 'workgroup' },
];

describe('crossentropy', () => {
  for (const variant of ['scalar', 'vec4'] as const) {
    for (const tuning of TUNINGS) {
      it(`${variant} ${tuning ? `${JSON.stringify(tuning)}: forward, backward, fused` : 'auto: fused'}`, async (ctx) => {
        if (tuning?.reduction === 'subgroup' && !hasSubgroups) ctx.skip();
        for (const [V, Vp] of SHAPES[variant]) {
          // The adapter's configuration differs per shape: only the fused pass there, as lavapipe
          // compiles each pipeline for seconds; forced configurations run all three.
          for (const mode of tuning ? (['forward', 'backward', 'fused'] as const) : (['fused'] as const)) {
            await check({ N: 7, V, Vp, variant, tuning }, mode);
          }
        }
      });
    }
  }

  it('another ignore index, every row ignored, no row ignored', async () => {
    for (const variant of ['scalar', 'vec4'] as const) {
      const [V, Vp] = SHAPES[variant][3]!;
      await check({ N: 9, V, Vp, variant, ignoreIndex: -100, ignored: 0.4 }, 'fused');
      await check({ N: 5, V, Vp, variant, ignored: 1 }, 'fused');
      await check({ N: 5, V, Vp, variant, ignored: 1 }, 'forward');
      await check({ N: 33, V, Vp, variant, ignored: 0 }, 'fused');
    }
  });

  it('a GPT-2 vocabulary row (V=50257 padded to 50304), and rows split into binding-sized blocks', async () => {
    await check({ N: 3, V: 50257, Vp: 50304, variant: 'vec4' }, 'fused');
    await check(
      { N: 3, V: 50257, Vp: 50304, variant: 'vec4', tuning: { WG: 256, VPT: 8, reduction: 'workgroup' } },
      'fused',
    );
    await check({ N: 11, V: 17, Vp: 20, variant: 'vec4', maxBindingBytes: 4 * 20 * 4 }, 'fused');
    await check({ N: 10, V: 17, Vp: 17, variant: 'scalar', maxBindingBytes: 4 * 17 * 4 + 4 }, 'backward');
  });

  it('rejects an ignore index inside the vocabulary and Vp < V', () => {
    const b = rt.pool.acquire(64);
    let threw = 0;
    try {
      crossEntropyForward(rt, { losses: b, loss: b, logits: b, targets: b }, { N: 1, V: 4, Vp: 4, ignoreIndex: 2 });
    } catch {
      threw++;
    }
    try {
      crossEntropyForward(rt, { losses: b, loss: b, logits: b, targets: b }, { N: 1, V: 5, Vp: 4 });
    } catch {
      threw++;
    }
    rt.pool.release(b);
    if (threw !== 2) throw new Error(`expected 2 rejections, got ${threw}`);
  });
});
