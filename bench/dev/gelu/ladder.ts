// The GELU ladder: out = gelu(inp) over N floats (the MLP activation, B·T·4C). See NOTES.md.
import { geluForward } from '../../../kernels/gelu.ts';
import { geluForward as refForward } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import type { Runtime } from '../../../kernels/gpu/runtime.ts';
import { naiveGeluForward } from '../../baselines/gelu-naive.ts';
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

interface GeluProblem extends Problem {
  N: number;
  out: GPUBuffer;
  inp: GPUBuffer;
}

function setup(rt: Runtime, d: Dims): GeluProblem {
  const N = d.N!;
  const x = values(N, 1, -4, 4);
  const inp = upload(rt, x, 'dev-gelu');
  const out = rt.pool.acquire(N * 4, 'dev-gelu');
  return {
    N,
    out,
    inp,
    bytes: 8 * N,
    reset: () => poison(rt, out, N),
    async check(label) {
      const want = new Float64Array(N);
      refForward(want, Float64Array.from(x), N);
      assertClose(await readF32(rt, out, N), want, 'f32Math', label);
    },
    dispose: () => [inp, out].forEach((b) => rt.pool.release(b)),
  };
}

const tuning = (t: Tune) => ({ WG: tuneInt(t, 'WG'), VPT: tuneInt(t, 'VPT') });

export const ladder: Ladder<GeluProblem> = {
  kernel: 'gelu',
  problem: 'out = gelu(inp) (tanh form), N floats',
  dims: { N: 1 << 20 },
  tinyDims: { N: 4096 },
  setup,
  versions: [
    {
      n: 1,
      name: 'naive',
      file: 'bench/baselines/gelu-naive.wgsl',
      what: 'one invocation per element, WGSL tanh',
      run: (rt, p) => naiveGeluForward(rt, { out: p.out, inp: p.inp }, p.N),
    },
    {
      n: 2,
      name: 'scalar',
      file: 'kernels/gelu.wgsl',
      what: 'shipped scalar entry: VPT elements per invocation, overflow-safe tanh',
      tunables: ['WG', 'VPT'],
      run: (rt, p, t) => geluForward(rt, { out: p.out, inp: p.inp }, { n: p.N, variant: 'scalar', ...tuning(t) }),
    },
    {
      n: 3,
      name: 'vec4',
      file: 'kernels/gelu.wgsl',
      what: 'shipped: vec4 loads and stores, VPT vec4s per invocation',
      tunables: ['WG', 'VPT'],
      run: (rt, p, t) => geluForward(rt, { out: p.out, inp: p.inp }, { n: p.N, variant: 'vec4', ...tuning(t) }),
    },
  ],
};
