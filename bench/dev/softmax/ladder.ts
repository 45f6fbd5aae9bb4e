// The softmax ladder: out[n, :] = softmax(inp[n, :]) over N rows of C. See NOTES.md.
import { softmaxForward, type SoftmaxVariant } from '../../../kernels/softmax.ts';
import type { RowTuning } from '../../../kernels/rowreduce.ts';
import { softmaxForward as refForward } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import type { Runtime } from '../../../kernels/gpu/runtime.ts';
import { naiveSoftmaxForward } from '../../baselines/softmax-naive.ts';
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

interface SoftmaxProblem extends Problem {
  N: number;
  C: number;
  out: GPUBuffer;
  inp: GPUBuffer;
}

function setup(rt: Runtime, d: Dims): SoftmaxProblem {
  const { N, C } = d as { N: number; C: number };
  const x = values(N * C, 1, -8, 8);
  const inp = upload(rt, x, 'dev-softmax');
  const out = rt.pool.acquire(N * C * 4, 'dev-softmax');
  return {
    N,
    C,
    out,
    inp,
    bytes: 8 * N * C,
    reset: () => poison(rt, out, N * C),
    async check(label) {
      const want = new Float64Array(N * C);
      refForward(want, Float64Array.from(x), N, C);
      assertClose(await readF32(rt, out, N * C), want, 'f32Math', label);
    },
    dispose: () => [inp, out].forEach((b) => rt.pool.release(b)),
  };
}

/** --WG, --VPT, --reduction workgroup|subgroup override the per-adapter choice (rowreduce.ts). */
export function rowTuning(t: Tune): Partial<RowTuning> {
  const r: Partial<RowTuning> = {};
  const WG = tuneInt(t, 'WG');
  const VPT = tuneInt(t, 'VPT');
  if (WG !== undefined) r.WG = WG;
  if (VPT !== undefined) r.VPT = VPT;
  if (t.reduction === 'workgroup' || t.reduction === 'subgroup') r.reduction = t.reduction;
  else if (t.reduction !== undefined) throw new Error(`--reduction must be workgroup or subgroup`);
  return r;
}

const shipped =
  (variant: SoftmaxVariant) =>
  (rt: Runtime, p: SoftmaxProblem, t: Tune): void =>
    softmaxForward(rt, { out: p.out, inp: p.inp }, { N: p.N, C: p.C, variant, tuning: rowTuning(t) });

export const ladder: Ladder<SoftmaxProblem> = {
  kernel: 'softmax',
  problem: 'out[n,:] = softmax(inp[n,:]), N rows of C',
  dims: { N: 1024, C: 1024 },
  tinyDims: { N: 8, C: 64 },
  setup,
  versions: [
    {
      n: 1,
      name: 'naive',
      file: 'bench/baselines/softmax-naive.wgsl',
      what: 'one invocation per row, three passes over the row (max, sum, write)',
      run: (rt, p) => naiveSoftmaxForward(rt, { out: p.out, inp: p.inp }, p.N, p.C),
    },
    {
      n: 2,
      name: 'scalar',
      file: 'kernels/softmax.wgsl',
      what: 'shipped scalar entry: a workgroup per row, online max/sum, row cached in registers',
      tunables: ['WG', 'VPT', 'reduction'],
      run: shipped('scalar'),
    },
    {
      n: 3,
      name: 'vec4',
      file: 'kernels/softmax.wgsl',
      what: 'shipped: the same with vec4 chunks',
      tunables: ['WG', 'VPT', 'reduction'],
      unsupported: (_rt, d) => (d.C! % 4 ? `needs C % 4 == 0, got C=${d.C}` : null),
      run: shipped('vec4'),
    },
  ],
};
