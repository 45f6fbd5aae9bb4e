// The layernorm ladder: out = (inp - mean) · rstd · weight + bias per row, with mean and rstd saved
// for the backward; N rows of C. See NOTES.md.
import { layernormForward, type LayernormTuning, type LayernormVariant } from '../../../kernels/layernorm.ts';
import { layernormForward as refForward } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import type { Runtime } from '../../../kernels/gpu/runtime.ts';
import { naiveLayernormForward } from '../../baselines/layernorm-naive.ts';
import { rowTuning } from '../softmax/ladder.ts';
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

interface LayernormProblem extends Problem {
  N: number;
  C: number;
  bufs: { out: GPUBuffer; mean: GPUBuffer; rstd: GPUBuffer; inp: GPUBuffer; weight: GPUBuffer; bias: GPUBuffer };
}

function setup(rt: Runtime, d: Dims): LayernormProblem {
  const { N, C } = d as { N: number; C: number };
  const x = values(N * C, 1, -2, 3);
  const w = values(C, 2, 0.5, 1.5);
  const b = values(C, 3);
  const bufs = {
    out: rt.pool.acquire(N * C * 4, 'dev-layernorm'),
    mean: rt.pool.acquire(Math.max(16, N * 4), 'dev-layernorm'),
    rstd: rt.pool.acquire(Math.max(16, N * 4), 'dev-layernorm'),
    inp: upload(rt, x, 'dev-layernorm'),
    weight: upload(rt, w, 'dev-layernorm'),
    bias: upload(rt, b, 'dev-layernorm'),
  };
  return {
    N,
    C,
    bufs,
    bytes: 4 * (2 * N * C + 2 * C + 2 * N),
    reset() {
      poison(rt, bufs.out, N * C);
      poison(rt, bufs.mean, N);
      poison(rt, bufs.rstd, N);
    },
    async check(label) {
      const want = { out: new Float64Array(N * C), mean: new Float64Array(N), rstd: new Float64Array(N) };
      const f = (a: Float32Array) => Float64Array.from(a);
      refForward(want.out, want.mean, want.rstd, f(x), f(w), f(b), N, C);
      assertClose(await readF32(rt, bufs.out, N * C), want.out, 'f32Reduce', `${label} out`);
      assertClose(await readF32(rt, bufs.mean, N), want.mean, 'f32Reduce', `${label} mean`);
      assertClose(await readF32(rt, bufs.rstd, N), want.rstd, 'f32Reduce', `${label} rstd`);
    },
    dispose: () => Object.values(bufs).forEach((x) => rt.pool.release(x)),
  };
}

function tuning(t: Tune, VPT?: number): Partial<LayernormTuning> {
  const r: Partial<LayernormTuning> = rowTuning(t);
  if (r.VPT === undefined && VPT !== undefined) r.VPT = VPT;
  const ROWS = tuneInt(t, 'ROWS');
  if (ROWS !== undefined) r.ROWS = ROWS;
  return r;
}

const shipped =
  (variant: LayernormVariant, VPT?: number) =>
  (rt: Runtime, p: LayernormProblem, t: Tune): void =>
    layernormForward(rt, p.bufs, { N: p.N, C: p.C, variant, tuning: tuning(t, VPT) });
const TUNABLES = ['WG', 'ROWS', 'VPT', 'reduction'] as const;
const needsVec4 = (_rt: Runtime, d: Dims) => (d.C! % 4 ? `needs C % 4 == 0, got C=${d.C}` : null);

export const ladder: Ladder<LayernormProblem> = {
  kernel: 'layernorm',
  problem: 'out = (inp - mean)·rstd·weight + bias, mean and rstd saved; N rows of C',
  dims: { N: 1024, C: 768 },
  tinyDims: { N: 8, C: 64 },
  setup,
  versions: [
    {
      n: 1,
      name: 'naive',
      file: 'bench/baselines/layernorm-naive.wgsl',
      what: 'one invocation per row, two passes (mean, variance) then the write',
      run: (rt, p) => naiveLayernormForward(rt, p.bufs, p.N, p.C),
    },
    {
      n: 2,
      name: 'scalar',
      file: 'kernels/layernorm.wgsl',
      what: 'shipped scalar entry: a workgroup per block of rows, Chan-merged (mean, M2), x read twice',
      tunables: TUNABLES,
      run: shipped('scalar'),
    },
    {
      n: 3,
      name: 'stream',
      file: 'kernels/layernorm.wgsl',
      what: 'shipped layernorm_forward_vec4 (VPT=0): the same with vec4 chunks, the row streamed twice',
      tunables: TUNABLES,
      unsupported: needsVec4,
      run: shipped('vec4', 0),
    },
    {
      n: 4,
      name: 'cached',
      file: 'kernels/layernorm.wgsl',
      what: 'shipped default: layernorm_forward_cached on lavapipe, row + weight + bias in registers',
      tunables: TUNABLES,
      unsupported: needsVec4,
      run: shipped('vec4'),
    },
  ],
};
