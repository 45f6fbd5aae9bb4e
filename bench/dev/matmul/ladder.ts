// The matmul ladder: out[M, N] = a[M, K] · b[K, N], f32, no bias or epilogue. See NOTES.md.
import { matmulForward } from '../../../kernels/reference.ts';
import { assertClose } from '../../../kernels/check.ts';
import { loadWGSL } from '../../../kernels/gpu/wgsl.ts';
import type { KernelSpec, Runtime } from '../../../kernels/gpu/runtime.ts';
import { hasCpuSubgroups, matmul } from '../../../kernels/matmul.ts';
import { naiveMatmul } from '../../baselines/matmul-naive.ts';
import { poison, readF32, upload, values, type Dims, type Ladder, type Problem, type Tune } from '../ladder.ts';

interface MatmulProblem extends Problem {
  d: Dims;
  out: GPUBuffer;
  a: GPUBuffer;
  b: GPUBuffer;
}

function setup(rt: Runtime, d: Dims): MatmulProblem {
  const { M, N, K } = d as { M: number; N: number; K: number };
  const A = values(M * K, 1);
  const B = values(K * N, 2);
  const a = upload(rt, A, 'dev-matmul');
  const b = upload(rt, B, 'dev-matmul');
  const out = rt.pool.acquire(M * N * 4, 'dev-matmul');
  let want: Float64Array | null = null;
  return {
    d,
    out,
    a,
    b,
    flops: 2 * M * N * K,
    reset: () => poison(rt, out, M * N),
    async check(label) {
      if (!want) {
        want = new Float64Array(M * N);
        matmulForward(want, Float64Array.from(A), Float64Array.from(B), null, 1, M, N, K, false, false);
      }
      assertClose(await readF32(rt, out, M * N), want, 'f32Reduce', label);
    },
    dispose: () => [a, b, out].forEach((x) => rt.pool.release(x)),
  };
}

const params = [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
] as const;
const bindings = [
  ['out', 'rw'],
  ['a', 'read'],
  ['b', 'read'],
] as const;
const devSpec = (file: string, entryPoint: string): KernelSpec => ({
  name: `dev-matmul.${entryPoint}`,
  wgsl: loadWGSL(import.meta.url, file),
  entryPoint,
  params,
  bindings,
});
const shared = devSpec('v2-shared.wgsl', 'matmul_shared');
const direct = devSpec('v3-direct.wgsl', 'matmul_direct');

const mnk = (p: MatmulProblem) => ({ M: p.d.M!, N: p.d.N!, K: p.d.K! });
/** The shipped launcher with one configuration forced (--config picks another of MATMUL_CONFIGS). */
const shipped = (rt: Runtime, p: MatmulProblem, tune: Tune, name: string): void =>
  matmul(rt, { out: p.out, a: p.a, b: p.b, ...mnk(p), config: { name: tune.config ?? name } });

export const ladder: Ladder<MatmulProblem> = {
  kernel: 'matmul',
  problem: 'out[M,N] = a[M,K]·b[K,N], f32, row-major',
  dims: { M: 512, N: 512, K: 512 },
  tinyDims: { M: 64, N: 64, K: 64 },
  setup,
  versions: [
    {
      n: 1,
      name: 'naive',
      file: 'bench/baselines/matmul-naive.wgsl',
      what: 'one invocation per output, A and B read from global memory',
      run: (rt, p) => naiveMatmul(rt, { out: p.out, a: p.a, b: p.b }, mnk(p)),
    },
    {
      n: 2,
      name: 'shared',
      file: 'bench/dev/matmul/v2-shared.wgsl',
      what: '64x64 tiles through workgroup memory, 16x16 invocations of 4x4 outputs, BK=16',
      run: (rt, p) =>
        rt.dispatch(shared, {
          bindings: { out: p.out, a: p.a, b: p.b },
          params: mnk(p),
          workgroups: [Math.ceil(p.d.N! / 64), Math.ceil(p.d.M! / 64)],
        }),
    },
    {
      n: 3,
      name: 'direct',
      file: 'bench/dev/matmul/v3-direct.wgsl',
      what: '8 rows x vec4 per invocation, B read from global memory, no workgroup memory',
      unsupported: (_rt, d) => (d.N! % 4 ? `needs N % 4 == 0, got N=${d.N}` : null),
      run: (rt, p) =>
        rt.dispatch(direct, {
          bindings: { out: p.out, a: p.a, b: p.b },
          params: mnk(p),
          workgroups: [Math.ceil(p.d.N! / 32), Math.ceil(p.d.M! / 64)],
        }),
    },
    {
      n: 4,
      name: 'tiled',
      file: 'kernels/matmul.wgsl',
      what: 'shipped for GPUs: register tiles over workgroup-memory slabs, vec4 loads (tiled-64x64)',
      tunables: ['config'],
      run: (rt, p, tune) => shipped(rt, p, tune, 'tiled-64x64'),
    },
    {
      n: 5,
      name: 'subgroup',
      file: 'kernels/matmul-subgroup.wgsl',
      what: 'shipped for CPU adapters: A rows shared by subgroupShuffle, 32 rows x 8 columns per lane',
      tunables: ['config'],
      unsupported: (rt) => (hasCpuSubgroups(rt) ? null : 'needs 8-lane subgroups (a CPU adapter such as lavapipe)'),
      run: (rt, p, tune) => shipped(rt, p, tune, 'subgroup-32x64'),
    },
  ],
};
