// Specs, tile configurations and dispatch for the matmul kernels:
//   kernels/matmul.wgsl           matmul_tiled_scalar, matmul_tiled_vec4        (portable; GPUs)
//   kernels/matmul-subgroup.wgsl  matmul_subgroup_scalar, matmul_subgroup_vec4  (CPU adapters: lavapipe)
// both including kernels/lib/matmul-io.wgsl (Params, bindings, epilogue) and lib/gelu.wgsl.
// Both compute out (+)= act(A·B + bias) for batched, optionally transposed operands; see the
// header of matmul.wgsl. Which kernel and tile run is chosen per adapter and shape (pickConfig),
// or forced with `config` (tests, benches).
import type { BufferRef, KernelSpec, Runtime } from './gpu/runtime.ts';
import { loadWGSL } from './gpu/wgsl.ts';

type Buf = GPUBuffer | BufferRef;

export type MatmulKernel = 'tiled' | 'subgroup';

export interface MatmulConfig {
  /** Label in tests and benches, e.g. "tiled-128x128". */
  name: string;
  kernel: MatmulKernel;
  /** tiled: invocations along m and n (workgroup_size is (wgN, wgM)). subgroup: always 1 x 8. */
  wgM: number;
  wgN: number;
  /** tiled: rows and columns per invocation (4 or 8). subgroup: tm is fixed at 32 rows per
   *  workgroup; tn = vec4 column groups per lane (1, 2 or 4), 32·tn columns per workgroup. */
  tm: number;
  tn: number;
  /** tiled: k depth of a workgroup-memory slab (multiple of 4). */
  bk: number;
  /** 'auto': vec4 loads when the shape allows them; 'scalar': always the scalar path. */
  loads: 'auto' | 'scalar';
}

/** Every selectable configuration; the tests run each of them. */
export const MATMUL_CONFIGS: readonly MatmulConfig[] = [
  // GPUs: big tiles for big matrices, smaller ones so that small matrices still fill the device.
  { name: 'tiled-128x128', kernel: 'tiled', wgM: 16, wgN: 16, tm: 8, tn: 8, bk: 8, loads: 'auto' },
  { name: 'tiled-64x64', kernel: 'tiled', wgM: 16, wgN: 16, tm: 4, tn: 4, bk: 16, loads: 'auto' },
  { name: 'tiled-32x32', kernel: 'tiled', wgM: 8, wgN: 8, tm: 4, tn: 4, bk: 16, loads: 'auto' },
  // CPU adapters with 8-lane subgroups (lavapipe on AVX2).
  { name: 'subgroup-32x64', kernel: 'subgroup', wgM: 1, wgN: 8, tm: 32, tn: 2, bk: 4, loads: 'auto' },
  { name: 'subgroup-32x128', kernel: 'subgroup', wgM: 1, wgN: 8, tm: 32, tn: 4, bk: 4, loads: 'auto' },
  { name: 'subgroup-32x32', kernel: 'subgroup', wgM: 1, wgN: 8, tm: 32, tn: 1, bk: 4, loads: 'auto' },
];

const configByName = (name: string): MatmulConfig => {
  const c = MATMUL_CONFIGS.find((x) => x.name === name);
  if (!c)
    throw new Error(`matmul: no configuration named "${name}" (have ${MATMUL_CONFIGS.map((x) => x.name).join(', ')})`);
  return c;
};

const params = [
  ['M', 'u32'],
  ['N', 'u32'],
  ['K', 'u32'],
  ['batch_stride_a', 'u32'],
  ['batch_stride_b', 'u32'],
] as const;
const bindings = [
  ['out', 'rw'],
  ['a', 'read'],
  ['b', 'read'],
  ['bias', 'read'],
  ['preact', 'rw'],
] as const;

const tiledWgsl = loadWGSL(import.meta.url, 'matmul.wgsl');
const subgroupWgsl = loadWGSL(import.meta.url, 'matmul-subgroup.wgsl');

const spec = (wgsl: string, entryPoint: string): KernelSpec => ({
  name: `matmul.${entryPoint}`,
  wgsl,
  entryPoint,
  params,
  bindings,
});

export const matmulSpecs = {
  tiled: { scalar: spec(tiledWgsl, 'matmul_tiled_scalar'), vec4: spec(tiledWgsl, 'matmul_tiled_vec4') },
  subgroup: { scalar: spec(subgroupWgsl, 'matmul_subgroup_scalar'), vec4: spec(subgroupWgsl, 'matmul_subgroup_vec4') },
} as const satisfies Record<MatmulKernel, Record<'scalar' | 'vec4', KernelSpec>>;

export interface MatmulArgs {
  out: Buf;
  a: Buf;
  b: Buf;
  /** [N], added to every row. */
  bias?: Buf;
  /** With gelu: the pre-activation a·b + bias is written here too (for the backward). */
  preact?: Buf;
  batch?: number;
  M: number;
  N: number;
  K: number;
  /** A stored [batchA, K, M] instead of [batchA, M, K]. */
  transA?: boolean;
  /** B stored [batchB, N, K] instead of [batchB, K, N]. */
  transB?: boolean;
  /** 1 (broadcast) or batch. */
  batchA?: number;
  batchB?: number;
  /** out = gelu(a·b + bias) (tanh approximation). */
  gelu?: boolean;
  /** out += a·b (+ bias) (then gelu, when set). out must not alias a or b. */
  accumulate?: boolean;
  /** Force a configuration: `{ name }` picks one of MATMUL_CONFIGS, other fields override it. */
  config?: Partial<MatmulConfig>;
}

/** Whether the adapter runs subgroups as 8 SIMD lanes of a CPU (what matmul-subgroup.wgsl assumes). */
export function hasCpuSubgroups(rt: Runtime): boolean {
  return (
    rt.isSoftware && rt.features.has('subgroups') && rt.info.subgroupMinSize === 8 && rt.info.subgroupMaxSize === 8
  );
}

/** Output rows × columns of one workgroup. */
export function tileOf(c: MatmulConfig): { rows: number; cols: number } {
  return c.kernel === 'subgroup' ? { rows: 32, cols: 32 * c.tn } : { rows: c.wgM * c.tm, cols: c.wgN * c.tn };
}

/** vec4 loads need every vec4 of A and B to lie inside one row of the stored matrix. */
export function vec4Eligible(M: number, N: number, K: number, transA = false, transB = false): boolean {
  return K % 4 === 0 && (!transA || M % 4 === 0) && (transB || N % 4 === 0);
}

/**
 * The configuration for this adapter and shape. CPU adapters with 8-lane subgroups take the
 * subgroup kernel, 64 columns per workgroup (32 for narrow outputs); lavapipe measured
 * subgroup-32x64 and -32x128 equal at 1024³, and 32x64 leaves more workgroups for small shapes.
 * Other adapters take the largest tiled configuration that still makes 128 workgroups, so a
 * GPU's cores all get work.
 */
export function pickConfig(rt: Runtime, M: number, N: number, batch = 1): MatmulConfig {
  if (hasCpuSubgroups(rt)) return configByName(N <= 32 ? 'subgroup-32x32' : 'subgroup-32x64');
  for (const name of ['tiled-128x128', 'tiled-64x64']) {
    const c = configByName(name);
    const t = tileOf(c);
    if (Math.ceil(M / t.rows) * Math.ceil(N / t.cols) * batch >= 128) return c;
  }
  return configByName('tiled-32x32');
}

// Stand-in for an unused read-write binding: it must be a buffer distinct from `out`.
const scratch = new WeakMap<Runtime, GPUBuffer>();
function scratchBuffer(rt: Runtime): GPUBuffer {
  let buf = scratch.get(rt);
  if (!buf) {
    buf = rt.pool.acquire(16, 'matmul-unused-preact');
    scratch.set(rt, buf);
  }
  return buf;
}

function checkInt(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) throw new Error(`matmul: ${name} must be a non-negative integer, got ${v}`);
}

/** Records out (+)= act(A·B + bias) for args.batch matrices; see matmul.wgsl. */
export function matmul(rt: Runtime, args: MatmulArgs): void {
  const { M, N, K } = args;
  const batch = args.batch ?? 1;
  const batchA = args.batchA ?? batch;
  const batchB = args.batchB ?? batch;
  for (const [name, v] of [
    ['M', M],
    ['N', N],
    ['K', K],
    ['batch', batch],
  ] as const)
    checkInt(name, v);
  if (batchA !== 1 && batchA !== batch) throw new Error(`matmul: batchA must be 1 or batch=${batch}, got ${batchA}`);
  if (batchB !== 1 && batchB !== batch) throw new Error(`matmul: batchB must be 1 or batch=${batch}, got ${batchB}`);
  if (args.preact && !args.gelu) throw new Error('matmul: preact is only written with gelu');
  if (M === 0 || N === 0 || batch === 0) return;

  const base = args.config?.name ? configByName(args.config.name) : pickConfig(rt, M, N, batch);
  const cfg: MatmulConfig = { ...base, ...args.config };
  if (cfg.kernel === 'subgroup' && !hasCpuSubgroups(rt)) {
    throw new Error(`matmul: configuration "${cfg.name}" needs a CPU adapter with 8-lane subgroups`);
  }
  const vec4 = cfg.loads === 'auto' && vec4Eligible(M, N, K, args.transA, args.transB);
  const kernelSpec = matmulSpecs[cfg.kernel][vec4 ? 'vec4' : 'scalar'];
  const t = tileOf(cfg);
  const flags = {
    TRANS_A: args.transA ? 1 : 0,
    TRANS_B: args.transB ? 1 : 0,
    HAS_BIAS: args.bias ? 1 : 0,
    GELU: args.gelu ? 1 : 0,
    WRITE_PREACT: args.preact ? 1 : 0,
    ACCUMULATE: args.accumulate ? 1 : 0,
  };
  const tile: Record<string, number> =
    cfg.kernel === 'subgroup' ? { TN: cfg.tn } : { WG_M: cfg.wgM, WG_N: cfg.wgN, TM: cfg.tm, TN: cfg.tn, BK: cfg.bk };
  rt.dispatch(kernelSpec, {
    bindings: {
      out: args.out,
      a: args.a,
      b: args.b,
      bias: args.bias ?? args.a,
      preact: args.preact ?? scratchBuffer(rt),
    },
    params: { M, N, K, batch_stride_a: batchA === 1 ? 0 : M * K, batch_stride_b: batchB === 1 ? 0 : K * N },
    overrides: { ...flags, ...tile },
    workgroups: [Math.ceil(N / t.cols), Math.ceil(M / t.rows), batch],
  });
}
