import { describe, expect, it } from 'vitest';
import { residualBackward, residualForward, type ResidualVariant } from '../../kernels/residual.ts';
import { residualBackward as refBackward, residualForward as refForward } from '../../kernels/reference.ts';
import { assertClose } from '../../kernels/check.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, randu } from '../util/kernel.ts';

const rt = await useRuntime();

/** Uniform values in [-scale, scale), rounded to f32. */
const rand = (n: number, seed: number, scale = 1): Float64Array => randu(n, seed, -scale, scale);

const SIZES: Record<ResidualVariant, number[]> = {
  scalar: [1, 3, 17, 33, 257, 1001, 65537],
  vec4: [4, 16, 36, 260, 1028, 65540],
};

describe('residual', () => {
  for (const variant of ['scalar', 'vec4'] as const) {
    for (const n of SIZES[variant]) {
      it(`forward ${variant} n=${n}`, async () => {
        const a = rand(n, 1 + n);
        const b = rand(n, 2 + n, 100);
        const inp1 = upload(rt, a);
        const inp2 = upload(rt, b);
        const out = poisoned(rt, n);
        residualForward(rt, { out, inp1, inp2 }, { n, variant });
        const got = await readF32(rt, out, n);
        const want = new Float64Array(n);
        refForward(want, a, b, n);
        assertClose(got, want, 'f32', `residual forward ${variant} n=${n}`);
        for (const buf of [inp1, inp2, out]) rt.pool.release(buf);
      });

      it(`backward (accumulating) ${variant} n=${n}`, async () => {
        // Accumulation: start from nonzero gradients, not poison, and check both got dout added.
        const d1 = rand(n, 3 + n);
        const d2 = rand(n, 4 + n, 10);
        const g = rand(n, 5 + n);
        const dinp1 = upload(rt, d1);
        const dinp2 = upload(rt, d2);
        const dout = upload(rt, g);
        residualBackward(rt, { dinp1, dinp2, dout }, { n, variant });
        const got1 = await readF32(rt, dinp1, n);
        const got2 = await readF32(rt, dinp2, n);
        refBackward(d1, d2, g, n);
        assertClose(got1, d1, 'f32', `residual backward dinp1 ${variant} n=${n}`);
        assertClose(got2, d2, 'f32', `residual backward dinp2 ${variant} n=${n}`);
        for (const buf of [dinp1, dinp2, dout]) rt.pool.release(buf);
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
        const a = rand(n, 1);
        const b = rand(n, 2);
        const g = rand(n, 3);
        const inp1 = upload(rt, a);
        const inp2 = upload(rt, b);
        const dout = upload(rt, g);
        const out = poisoned(rt, n);
        residualForward(rt, { out, inp1, inp2 }, { n, variant, ...tuning });
        residualBackward(rt, { dinp1: inp1, dinp2: inp2, dout }, { n, variant, ...tuning });
        const want = new Float64Array(n);
        refForward(want, a, b, n);
        assertClose(await readF32(rt, out, n), want, 'f32', 'forward');
        refBackward(a, b, g, n);
        assertClose(await readF32(rt, inp1, n), a, 'f32', 'backward dinp1');
        assertClose(await readF32(rt, inp2, n), b, 'f32', 'backward dinp2');
        for (const buf of [inp1, inp2, dout, out]) rt.pool.release(buf);
      });
    }
  }

  it('refuses vec4 when n % 4 != 0', () => {
    const a = rt.pool.acquire(64);
    expect(() => residualForward(rt, { out: a, inp1: a, inp2: a }, { n: 5, variant: 'vec4' })).toThrow(/n % 4/);
    rt.pool.release(a);
  });

  // More than 65535 workgroups: small workgroups and one item each make the grid 2-D at sizes
  // that fit lavapipe's 128 MiB binding limit.
  for (const variant of ['scalar', 'vec4'] as const) {
    it(`forward on a 2-D grid (${variant}, WG=64, VPT=1)`, async () => {
      const n = variant === 'vec4' ? (65535 * 64 + 3) * 4 : 65535 * 64 + 5;
      const a = new Float32Array(n);
      const b = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        a[i] = (i % 1023) - 511;
        b[i] = (i % 7) * 0.25;
      }
      const inp1 = upload(rt, a);
      const inp2 = upload(rt, b);
      const out = poisoned(rt, n);
      residualForward(rt, { out, inp1, inp2 }, { n, variant, WG: 64, VPT: 1 });
      const got = await readF32(rt, out, n);
      let bad = -1;
      for (let i = 0; i < n && bad < 0; i++) if (got[i] !== a[i]! + b[i]!) bad = i;
      expect(bad).toBe(-1);
      for (const buf of [inp1, inp2, out]) rt.pool.release(buf);
    });
  }
});
