// The residual ladder: out = inp1 + inp2 over N floats (the residual stream, B·T·C). See NOTES.md.
import { residualForward } from '../../../kernels/residual.ts';
import { residualForward as refForward } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import type { Runtime } from '../../../kernels/gpu/runtime.ts';
import { naiveResidualForward } from '../../baselines/residual-naive.ts';
import {
  poison,
  readF32,
  tuneInt,
  upload,
  values,
  type Dims,
  type Ladder,
  type Problem,
  type Tune,
} from '../ladder.ts';

interface ResidualProblem extends Problem {
  N: number;
  out: GPUBuffer;
  inp1: GPUBuffer;
  inp2: GPUBuffer;
}

function setup(rt: Runtime, d: Dims): ResidualProblem {
  const N = d.N!;
  const x1 = values(N, 1);
  const x2 = values(N, 2);
  const inp1 = upload(rt, x1, 'dev-residual');
  const inp2 = upload(rt, x2, 'dev-residual');
  const out = rt.pool.acquire(N * 4, 'dev-residual');
  return {
    N,
    out,
    inp1,
    inp2,
    bytes: 12 * N,
    reset: () => poison(rt, out, N),
    async check(label) {
      const want = new Float64Array(N);
      refForward(want, Float64Array.from(x1), Float64Array.from(x2), N);
      assertClose(await readF32(rt, out, N), want, 'f32', label);
    },
    dispose: () => [inp1, inp2, out].forEach((b) => rt.pool.release(b)),
  };
}

const tuning = (t: Tune) => ({ WG: tuneInt(t, 'WG'), VPT: tuneInt(t, 'VPT') });
const bufs = (p: ResidualProblem) => ({ out: p.out, inp1: p.inp1, inp2: p.inp2 });

export const ladder: Ladder<ResidualProblem> = {
  kernel: 'residual',
  problem: 'out = inp1 + inp2, N floats',
  dims: { N: 1 << 20 },
  tinyDims: { N: 4096 },
  setup,
  versions: [
    {
      n: 1,
      name: 'naive',
      file: 'bench/baselines/residual-naive.wgsl',
      what: 'one invocation per element',
      run: (rt, p) => naiveResidualForward(rt, bufs(p), p.N),
    },
    {
      n: 2,
      name: 'scalar',
      file: 'kernels/residual.wgsl',
      what: 'shipped scalar entry: VPT elements per invocation (default 8)',
      tunables: ['WG', 'VPT'],
      run: (rt, p, t) => residualForward(rt, bufs(p), { n: p.N, variant: 'scalar', ...tuning(t) }),
    },
    {
      n: 3,
      name: 'vec4',
      file: 'kernels/residual.wgsl',
      what: 'shipped: vec4 loads and stores, VPT vec4s per invocation (default 4)',
      tunables: ['WG', 'VPT'],
      run: (rt, p, t) => residualForward(rt, bufs(p), { n: p.N, variant: 'vec4', ...tuning(t) }),
    },
  ],
};
