// matmul against the float64 reference: every configuration in MATMUL_CONFIGS on both load paths
// (vec4 and scalar), transposed operands, batch broadcast, fused bias / GELU / pre-activation and
// accumulate, on ragged shapes that divide no tile. Outputs start as NaN (accumulate: as data).
import { describe, expect, it } from 'vitest';
import { geluForward, matmulForward } from '../../kernels/reference.ts';
import {
  hasCpuSubgroups,
  matmul,
  MATMUL_CONFIGS,
  pickConfig,
  vec4Eligible,
  type MatmulConfig,
} from '../../kernels/matmul.ts';
import { assertClose } from '../../kernels/check.ts';
import { Rng } from '../../kernels/random.ts';
import { poisoned, readF32, upload } from '../util/gpu.ts';
import { useRuntime, randu } from '../util/kernel.ts';

const rt = await useRuntime();

const stream = new Rng(12345);
const rand = (n: number): Float64Array => randu(n, stream);

interface Case {
  M: number;
  N: number;
  K: number;
  batch?: number;
  batchA?: number;
  batchB?: number;
  transA?: boolean;
  transB?: boolean;
  bias?: boolean;
  gelu?: boolean;
  preact?: boolean;
  accumulate?: boolean;
}

const describeCase = (c: Case) =>
  `${c.batch ?? 1}x${c.M}x${c.N}x${c.K}` +
  (c.batchA === 1 ? ' A-broadcast' : '') +
  (c.batchB === 1 ? ' B-broadcast' : '') +
  (c.transA ? ' Aᵀ' : '') +
  (c.transB ? ' Bᵀ' : '') +
  (c.bias ? ' +bias' : '') +
  (c.gelu ? ' gelu' : '') +
  (c.preact ? '+preact' : '') +
  (c.accumulate ? ' accumulate' : '');

async function check(config: Partial<MatmulConfig> | undefined, c: Case): Promise<void> {
  const batch = c.batch ?? 1;
  const batchA = c.batchA ?? batch;
  const batchB = c.batchB ?? batch;
  const { M, N, K } = c;
  const a = rand(batchA * M * K);
  const b = rand(batchB * K * N);
  const bias = c.bias ? rand(N) : null;
  const init = c.accumulate ? rand(batch * M * N) : null;

  const bufs = [upload(rt, a), upload(rt, b)];
  const [ga, gb] = bufs as [GPUBuffer, GPUBuffer];
  const gbias = bias ? upload(rt, bias) : undefined;
  const out = init ? upload(rt, init) : poisoned(rt, batch * M * N);
  const pre = c.preact ? poisoned(rt, batch * M * N) : undefined;
  matmul(rt, {
    out,
    a: ga,
    b: gb,
    bias: gbias,
    preact: pre,
    batch,
    M,
    N,
    K,
    transA: c.transA,
    transB: c.transB,
    batchA,
    batchB,
    gelu: c.gelu,
    accumulate: c.accumulate,
    config,
  });
  const got = await readF32(rt, out, batch * M * N);
  const gotPre = pre ? await readF32(rt, pre, batch * M * N) : null;
  for (const x of [...bufs, out, ...(gbias ? [gbias] : []), ...(pre ? [pre] : [])]) rt.pool.release(x);

  const want = new Float64Array(batch * M * N);
  matmulForward(want, a, b, bias, batch, M, N, K, !!c.transA, !!c.transB, batchA, batchB);
  const label = `${config?.name ?? 'auto'} ${config?.loads ?? ''} ${describeCase(c)}`;
  if (gotPre) assertClose(gotPre, want, 'f32Reduce', `${label} preact`);
  let expected = want;
  if (c.gelu) {
    expected = new Float64Array(want.length);
    geluForward(expected, want, want.length);
  }
  if (init) for (let i = 0; i < expected.length; i++) expected[i]! += init[i]!;
  assertClose(got, expected, c.gelu ? 'f32Chain' : 'f32Reduce', label);
}

const usable = (c: MatmulConfig) => c.kernel === 'tiled' || hasCpuSubgroups(rt);

// lavapipe compiles each pipeline (configuration x load path x flags) for seconds, so the cases
// are grouped by pipeline: each `it` below is one pipeline checked on several ragged shapes.
// The transposes and epilogues are checked in full on two configurations, the one this adapter
// picks for GPT-sized work and the smallest tiled one; the flags only change the loads and the
// epilogue, which every configuration shares, so the other configurations get one pipeline each.
type Flags = Omit<Case, 'M' | 'N' | 'K' | 'batch' | 'batchA' | 'batchB'>;
const flagName = (f: Flags) => describeCase({ M: 0, N: 0, K: 0, ...f }).replace(/^\S+ ?/, '') || 'A·B';

/** Ragged shapes for one pipeline (no dimension a multiple of any tile); for the vec4 path, shapes
 *  the host sends there (K, M and N multiples of 4), for the scalar path any sizes. */
function shapes(vec4: boolean, f: Flags): Case[] {
  const list: Case[] = vec4
    ? [
        { M: 36, N: 44, K: 20, batch: 2, batchA: 1 },
        { M: 68, N: 36, K: 12, batch: 3, batchB: 1 },
        { M: 4, N: 4, K: 4 },
        { M: 12, N: 260, K: 132 },
      ]
    : [
        { M: 33, N: 17, K: 19, batch: 2, batchA: 1 },
        { M: 3, N: 5, K: 1, batch: 2, batchB: 1 },
        { M: 1, N: 1, K: 1 },
        { M: 17, N: 33, K: 257 },
      ];
  return list.map((c) => ({ ...c, ...f }));
}

async function checkPipeline(cfg: MatmulConfig, loads: 'auto' | 'scalar', f: Flags): Promise<void> {
  for (const c of shapes(loads === 'auto', f)) {
    if (loads === 'auto') expect(vec4Eligible(c.M, c.N, c.K, c.transA, c.transB)).toBe(true);
    await check({ name: cfg.name, loads }, c);
  }
}

const T = true;
const F = false;
// Four pipelines cover both layouts of A and B on both load paths (the scalar path treats A and
// B independently), bias, GELU with and without the pre-activation, and accumulate.
const featureSets: [loads: 'auto' | 'scalar', f: Flags][] = [
  ['auto', { transA: F, transB: F, bias: T, accumulate: T }],
  ['auto', { transA: T, transB: T, bias: T, gelu: T, preact: T }],
  ['scalar', { transA: T, transB: F, gelu: T, accumulate: T }],
  ['scalar', { transA: F, transB: T, bias: T }],
];

describe('matmul: transposes and epilogues on the picked and the smallest tiled configuration', () => {
  for (const which of ['picked', 'tiled-32x32'] as const) {
    for (const [loads, f] of featureSets) {
      it(`${which}: ${loads === 'auto' ? 'vec4' : 'scalar'} ${flagName(f)}`, async () => {
        const cfg = which === 'picked' ? pickConfig(rt, 512, 512) : MATMUL_CONFIGS.find((c) => c.name === which)!;
        await checkPipeline(cfg, loads, f);
      });
    }
  }
});

describe('matmul: every other configuration', () => {
  MATMUL_CONFIGS.forEach((cfg, i) => {
    const loads = i % 2 === 0 ? 'auto' : 'scalar';
    it(`${cfg.name} ${loads === 'auto' ? 'vec4' : 'scalar'} Aᵀ·B + bias`, async (ctx) => {
      if (!usable(cfg) || cfg.name === 'tiled-32x32' || cfg.name === pickConfig(rt, 512, 512).name) ctx.skip();
      await checkPipeline(cfg, loads, { transA: T, bias: T });
    });
  });
});

describe('matmul: edge cases on the picked configuration', () => {
  it('K = 0 gives bias; an output of one row or one column', async () => {
    const name = pickConfig(rt, 512, 512).name;
    // The flags of featureSets[0] and [3]: no new pipelines.
    await check({ name }, { M: 5, N: 8, K: 0, transA: false, transB: false, bias: true, accumulate: true });
    await check({ name }, { M: 1, N: 300, K: 8, transA: false, transB: false, bias: true, accumulate: true });
    await check({ name }, { M: 300, N: 1, K: 9, transA: false, transB: true, bias: true });
  });
});

describe('matmul: host checks', () => {
  it('rejects a batch that is neither 1 nor batch, preact without gelu, and non-integer sizes', () => {
    const buf = rt.pool.acquire(64);
    expect(() => matmul(rt, { out: buf, a: buf, b: buf, M: 2, N: 2, K: 2, batch: 3, batchA: 2 })).toThrow(/batchA/);
    expect(() => matmul(rt, { out: buf, a: buf, b: buf, M: 2, N: 2, K: 2, preact: buf })).toThrow(/preact/);
    expect(() => matmul(rt, { out: buf, a: buf, b: buf, M: 2.5, N: 2, K: 2 })).toThrow(/M/);
    rt.pool.release(buf);
  });

  it('vec4 eligibility follows the stored layouts', () => {
    expect(vec4Eligible(3, 8, 4)).toBe(true);
    expect(vec4Eligible(3, 8, 4, true)).toBe(false);
    expect(vec4Eligible(4, 7, 8, false, true)).toBe(true);
    expect(vec4Eligible(4, 7, 8)).toBe(false);
    expect(vec4Eligible(4, 8, 6)).toBe(false);
  });
});
