import { describe, expect, it } from 'vitest';
import { geluBackward, geluForward, type GeluVariant } from '../../kernels/gelu.ts';
import { geluBackward as refBackward, geluForward as refForward } from '../../kernels/reference.ts';
import { assertClose } from '../../kernels/check.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, randn } from '../util/kernel.ts';

const rt = await useRuntime();

/** Inputs that cover GPT-2's activation range plus the saturated tails, where naive tanh is NaN. */
function inputs(n: number, seed: number): Float64Array {
  const x = randn(n, seed, 3);
  const edges = [0, -0.5, 0.5, -6, 6, -12, 12, -50, 50, -1e4, 1e4, -3e5, 3e5];
  for (let i = 0; i < Math.min(n, edges.length); i++) x[(i * 7919) % n] = edges[i]!;
  return x;
}

const SIZES: Record<GeluVariant, number[]> = {
  scalar: [1, 3, 17, 33, 257, 1001, 65537],
  vec4: [4, 16, 36, 260, 1028, 65540],
};

describe('gelu', () => {
  for (const variant of ['scalar', 'vec4'] as const) {
    for (const n of SIZES[variant]) {
      it(`forward ${variant} n=${n}`, async () => {
        const x = inputs(n, n);
        const inp = upload(rt, x);
        const out = poisoned(rt, n);
        geluForward(rt, { out, inp }, { n, variant });
        const got = await readF32(rt, out, n);
        const want = new Float64Array(n);
        refForward(want, x, n);
        assertClose(got, want, 'f32Math', `gelu forward ${variant} n=${n}`);
        rt.pool.release(inp);
        rt.pool.release(out);
      });

      it(`backward ${variant} n=${n}`, async () => {
        const x = inputs(n, n + 1);
        const g = randn(n, n + 2);
        const inp = upload(rt, x);
        const dout = upload(rt, g);
        const dinp = poisoned(rt, n);
        geluBackward(rt, { dinp, inp, dout }, { n, variant });
        const got = await readF32(rt, dinp, n);
        const want = new Float64Array(n);
        refBackward(want, x, g, n);
        assertClose(got, want, 'f32Math', `gelu backward ${variant} n=${n}`);
        for (const b of [inp, dout, dinp]) rt.pool.release(b);
      });
    }
  }

  // Non-default override constants: a workgroup that does not divide n, odd items per invocation.
  for (const variant of ['scalar', 'vec4'] as const) {
    for (const tuning of [
      { WG: 64, VPT: 1 },
      { WG: 128, VPT: 3 },
    ]) {
      const n = variant === 'vec4' ? 4 * 1031 : 1031;
      it(`forward + backward ${variant} WG=${tuning.WG} VPT=${tuning.VPT} n=${n}`, async () => {
        const x = inputs(n, 3);
        const g = randn(n, 4);
        const inp = upload(rt, x);
        const dout = upload(rt, g);
        const out = poisoned(rt, n);
        const dinp = poisoned(rt, n);
        geluForward(rt, { out, inp }, { n, variant, ...tuning });
        geluBackward(rt, { dinp, inp, dout }, { n, variant, ...tuning });
        const want = new Float64Array(n);
        refForward(want, x, n);
        assertClose(await readF32(rt, out, n), want, 'f32Math', 'forward');
        want.fill(0);
        refBackward(want, x, g, n);
        assertClose(await readF32(rt, dinp, n), want, 'f32Math', 'backward');
        for (const b of [inp, dout, out, dinp]) rt.pool.release(b);
      });
    }
  }

  it('picks vec4 when n % 4 == 0 and refuses vec4 otherwise', () => {
    const a = rt.pool.acquire(64);
    expect(() => geluForward(rt, { out: a, inp: a }, { n: 6, variant: 'vec4' })).toThrow(/n % 4/);
    rt.pool.release(a);
  });

  // More than 65535 workgroups: small workgroups and one item each make the grid 2-D at sizes
  // that fit lavapipe's 128 MiB binding limit.
  for (const variant of ['scalar', 'vec4'] as const) {
    it(`forward and backward on a 2-D grid (${variant}, WG=64, VPT=1)`, async () => {
      const n = variant === 'vec4' ? (65535 * 64 + 3) * 4 : 65535 * 64 + 5;
      const x = new Float64Array(n);
      for (let i = 0; i < n; i++) x[i] = ((i % 2003) - 1001) / 128; // cheap, exact in f32, covers [-7.8, 7.8]
      const inp = upload(rt, x);
      const out = poisoned(rt, n);
      geluForward(rt, { out, inp }, { n, variant, WG: 64, VPT: 1 });
      const want = new Float64Array(n);
      refForward(want, x, n);
      assertClose(await readF32(rt, out, n), want, 'f32Math', 'gelu forward 2-D grid');
      // dout = x: reuse the input buffer.
      geluBackward(rt, { dinp: out, inp, dout: inp }, { n, variant, WG: 64, VPT: 1 });
      want.fill(0);
      refBackward(want, x, x, n);
      assertClose(await readF32(rt, out, n), want, 'f32Math', 'gelu backward 2-D grid');
      rt.pool.release(inp);
      rt.pool.release(out);
    });
  }
});
