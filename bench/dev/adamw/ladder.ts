// The AdamW ladder: one clipped optimizer step over a flat buffer of N parameters, as a trainer
// runs it: the global gradient norm, then the AdamW update (PyTorch order) with the gradient
// scaled by min(1, maxNorm / norm). See NOTES.md.
import { adamw, globalNorm } from '../../../kernels/adamw.ts';
import { adamwStep } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import type { Runtime } from '../../../kernels/gpu/runtime.ts';
import { naiveAdamW, naiveGlobalNorm } from '../../baselines/adamw-naive.ts';
import { readF32, tuneInt, upload, values, type Dims, type Ladder, type Problem, type Tune } from '../ladder.ts';

interface AdamWProblem extends Problem {
  opts: {
    n: number;
    decayEnd: number;
    step: number;
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weightDecay: number;
    maxNorm: number;
  };
  bufs: { params: GPUBuffer; grads: GPUBuffer; m: GPUBuffer; v: GPUBuffer; norm: GPUBuffer };
}

function setup(rt: Runtime, d: Dims): AdamWProblem {
  const N = d.N!;
  const p0 = values(N, 1);
  const g = values(N, 2);
  const m0 = values(N, 3, -0.01, 0.01);
  const v0 = values(N, 4, 0, 1e-4);
  const gnorm = Math.sqrt(g.reduce((s, x) => s + x * x, 0));
  // Matrices come first in the flat layout and are decayed; clipping to half the norm is active.
  const opts = {
    n: N,
    decayEnd: N >> 1,
    step: 3,
    lr: 1e-3,
    beta1: 0.9,
    beta2: 0.95,
    eps: 1e-8,
    weightDecay: 0.1,
    maxNorm: 0.5 * gnorm,
  };
  const bufs = {
    params: upload(rt, p0, 'dev-adamw'),
    grads: upload(rt, g, 'dev-adamw'),
    m: upload(rt, m0, 'dev-adamw'),
    v: upload(rt, v0, 'dev-adamw'),
    norm: rt.pool.acquire(16, 'dev-adamw'),
  };
  return {
    opts,
    bufs,
    // Reads params, grads (twice: norm and update), m, v; writes params, m, v.
    bytes: 32 * N,
    reset() {
      rt.write(bufs.params, 0, p0);
      rt.write(bufs.m, 0, m0);
      rt.write(bufs.v, 0, v0);
    },
    async check(label) {
      const want = { params: Float64Array.from(p0), m: Float64Array.from(m0), v: Float64Array.from(v0) };
      const decay = Uint8Array.from({ length: N }, (_, i) => (i < opts.decayEnd ? 1 : 0));
      const { lr, beta1, beta2, eps, weightDecay, step } = opts;
      const gradScale = Math.min(1, opts.maxNorm / (gnorm + 1e-6));
      adamwStep(want.params, Float64Array.from(g), want.m, want.v, decay, N, {
        lr,
        beta1,
        beta2,
        eps,
        weightDecay,
        step,
        gradScale,
      });
      for (const k of ['params', 'm', 'v'] as const)
        assertClose(await readF32(rt, bufs[k], N), want[k], 'f32Math', `${label} ${k}`);
    },
    dispose: () => Object.values(bufs).forEach((x) => rt.pool.release(x)),
  };
}

export const ladder: Ladder<AdamWProblem> = {
  kernel: 'adamw',
  problem: 'one clipped AdamW step over N parameters: global norm, then the update',
  dims: { N: 1 << 20 },
  tinyDims: { N: 4096 },
  setup,
  versions: [
    {
      n: 1,
      name: 'naive',
      file: 'bench/baselines/adamw-naive.wgsl',
      what: 'norm summed by one workgroup; update one invocation per element, pow() per invocation',
      run(rt, p) {
        naiveGlobalNorm(rt, { norm: p.bufs.norm, grads: p.bufs.grads }, p.opts);
        naiveAdamW(rt, p.bufs, p.opts);
      },
    },
    {
      n: 2,
      name: 'fused',
      file: 'kernels/adamw.wgsl',
      what: 'shipped: two-stage deterministic norm; vec4 update, VPT vec4s per invocation, clip read on the GPU',
      tunables: ['WG', 'VPT', 'partials'],
      run(rt, p, t: Tune) {
        globalNorm(rt, { norm: p.bufs.norm, grads: p.bufs.grads }, { n: p.opts.n, partials: tuneInt(t, 'partials') });
        adamw(rt, p.bufs, { ...p.opts, WG: tuneInt(t, 'WG'), VPT: tuneInt(t, 'VPT') });
      },
    },
  ],
};
