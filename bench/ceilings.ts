// The adapter's own ceilings: memory bandwidth (a vec4 copy) and FMA throughput (independent fma
// chains). Measured once per bench run; every kernel's speed is then printed as a percentage of
// them. Each probe tries a few shapes and keeps the best, since a ceiling is the most the adapter
// showed it can do.
import { grid, type KernelSpec, type Runtime } from '../kernels/gpu/runtime.ts';
import { loadWGSL } from '../kernels/gpu/wgsl.ts';

const wgsl = loadWGSL(import.meta.url, 'ceilings.wgsl');

/** Dependent fma steps per chain in one loop trip of the FMA probe (its UNROLL override). */
const FMA_UNROLL = 8;

export const copyVec4: KernelSpec = {
  name: 'ceiling_copy_vec4',
  wgsl,
  entryPoint: 'copy_vec4',
  params: [
    ['n4', 'u32'],
    ['threads', 'u32'],
  ],
  bindings: [
    ['inp', 'read'],
    ['out', 'rw'],
  ],
  overrides: { WG: 256, PER_THREAD: 1, CONTIGUOUS: 0 },
};

export const fmaProbe: KernelSpec = {
  name: 'ceiling_fma_probe',
  wgsl,
  entryPoint: 'fma_probe',
  params: [
    ['iters', 'u32'],
    ['m', 'f32'],
    ['a', 'f32'],
  ],
  bindings: [['sums', 'rw']],
  overrides: { WG: 256, CHAINS: 4, UNROLL: FMA_UNROLL },
};

/** An empty dispatch; the timer opens a timestamped pass with it. */
export const noop: KernelSpec = { name: 'noop', wgsl, entryPoint: 'noop', params: [], bindings: [] };

export interface Ceilings {
  /** Best copy bandwidth, bytes read + written per second / 1e9. */
  gbps: number;
  /** Best FMA throughput, GFLOP/s (an FMA counts 2). */
  gflops: number;
  /** The configuration that reached each, for the printout. */
  copyConfig: string;
  fmaConfig: string;
  /** Bytes per buffer of the copy probe; FMA probe invocations and iterations. */
  copyBytes: number;
  fmaInvocations: number;
  fmaIters: number;
}

export interface CeilingOptions {
  /** Smaller probes (tests, CI). */
  quick?: boolean;
  /**
   * Times n recorded runs of `record` and returns each run's ms; the harness passes its timer so
   * the ceilings are measured the same way as the kernels. Defaults to wall time per run.
   */
  time?: (record: () => void, runs: number) => Promise<number[]>;
}

const MiB = 1024 * 1024;

export interface CopyConfig {
  perThread: number;
  wg: number;
  contiguous: boolean;
}

export function recordCopy(
  rt: Runtime,
  inp: GPUBuffer,
  out: GPUBuffer,
  n4: number,
  { perThread, wg, contiguous }: CopyConfig,
): void {
  const [x, y] = grid(n4, wg * perThread, rt.limits.maxComputeWorkgroupsPerDimension);
  rt.dispatch(copyVec4, {
    bindings: { inp, out },
    params: { n4, threads: x * y * wg },
    overrides: { WG: wg, PER_THREAD: perThread, CONTIGUOUS: contiguous ? 1 : 0 },
    workgroups: [x, y],
  });
}

export function recordFma(
  rt: Runtime,
  sums: GPUBuffer,
  workgroups: number,
  iters: number,
  chains: number,
  wg = 256,
): void {
  const [x, y] = grid(workgroups, 1, rt.limits.maxComputeWorkgroupsPerDimension);
  rt.dispatch(fmaProbe, {
    bindings: { sums },
    params: { iters, m: 0.999, a: 0.001 },
    overrides: { WG: wg, CHAINS: chains, UNROLL: FMA_UNROLL },
    workgroups: [x, y],
  });
}

/** Submits what is recorded and returns the wall time until the queue is idle, in ms. */
export async function wallMs(rt: Runtime, expectMs?: number): Promise<number> {
  const t0 = performance.now();
  await rt.sync(expectMs);
  return performance.now() - t0;
}

async function wallEach(rt: Runtime, record: () => void, runs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    record();
    out.push(await wallMs(rt));
  }
  return out;
}

export async function measureCeilings(rt: Runtime, opts: CeilingOptions = {}): Promise<Ceilings> {
  const time = opts.time ?? ((record, runs) => wallEach(rt, record, runs));
  const soft = rt.isSoftware;
  const runs = opts.quick ? 2 : 3;

  // Bandwidth: buffers well past the last-level cache (a CPU's few MiB, an H100's 50 MiB L2).
  const maxBinding = Math.min(rt.limits.maxStorageBufferBindingSize, rt.limits.maxBufferSize);
  const want = opts.quick ? 16 * MiB : soft ? 64 * MiB : 512 * MiB;
  const copyBytes = Math.floor(Math.min(want, maxBinding) / 16) * 16;
  const n4 = copyBytes / 16;
  const inp = rt.pool.acquire(copyBytes, 'ceiling-inp');
  const out = rt.pool.acquire(copyBytes, 'ceiling-out');
  let gbps = 0;
  let copyConfig = '';
  try {
    // Contents do not matter for a copy's speed, but untouched memory may be lazily mapped: fill it.
    rt.write(inp, 0, new Float32Array(copyBytes / 4).fill(1));
    // Coalesced strided copies suit a GPU; a CPU adapter wants long contiguous runs per invocation.
    const gpuStyle: CopyConfig[] = [
      { perThread: 1, wg: 256, contiguous: false },
      { perThread: 4, wg: 256, contiguous: false },
    ];
    const cpuStyle: CopyConfig = { perThread: 1024, wg: 64, contiguous: true };
    const configs = opts.quick ? [soft ? cpuStyle : gpuStyle[1]!] : [...gpuStyle, cpuStyle];
    for (const cfg of configs) {
      recordCopy(rt, inp, out, n4, cfg); // warm-up: compile, first touch
      await rt.sync();
      const ms = Math.min(...(await time(() => recordCopy(rt, inp, out, n4, cfg), runs)));
      const g = (2 * copyBytes) / (ms * 1e6);
      if (g > gbps) {
        gbps = g;
        const how = cfg.contiguous ? 'contiguous' : 'strided';
        copyConfig = `copy vec4, ${cfg.perThread} ${how}/invocation, workgroup ${cfg.wg}, ${fmtMiB(copyBytes)} → ${fmtMiB(copyBytes)}`;
      }
    }
  } finally {
    rt.pool.release(inp);
    rt.pool.release(out);
  }

  // Compute: enough workgroups to fill every core / SM several times, iterations scaled so one
  // dispatch runs long enough (tens of ms here, a few ms on a GPU) to dwarf launch overhead.
  const { workgroups, wg } = fmaGrid(rt);
  const invocations = workgroups * wg;
  const targetMs = opts.quick ? (soft ? 15 : 2) : soft ? 60 : 10;
  const sums = rt.pool.acquire(invocations * 4, 'ceiling-sums');
  let gflops = 0;
  let fmaConfig = '';
  let fmaIters = 0;
  try {
    for (const chains of opts.quick ? [4] : [2, 4, 8]) {
      const iters = await calibrateFma(rt, sums, chains, targetMs);
      const ms = Math.min(...(await time(() => recordFma(rt, sums, workgroups, iters, chains, wg), runs)));
      const flops = fmaFlops(invocations, iters, chains);
      const g = flops / (ms * 1e6);
      if (g > gflops) {
        gflops = g;
        fmaIters = iters;
        fmaConfig = `fma vec4 × ${chains} chains × ${FMA_UNROLL} unrolled, ${invocations} invocations × ${iters} trips`;
      }
    }
  } finally {
    rt.pool.release(sums);
  }
  return { gbps, gflops, copyConfig, fmaConfig, copyBytes, fmaInvocations: invocations, fmaIters };
}

/** Flops of one FMA probe dispatch (an fma counts 2, a vec4 4 lanes). */
export function fmaFlops(invocations: number, iters: number, chains: number): number {
  return 2 * 4 * chains * FMA_UNROLL * iters * invocations;
}

/** The FMA probe's grid: a few workgroups per CPU thread, several waves of a GPU's SMs. */
export function fmaGrid(rt: Runtime): { workgroups: number; wg: number } {
  return { workgroups: rt.isSoftware ? 64 : 8192, wg: 256 };
}

/**
 * Finds the iteration count that makes one FMA probe dispatch take about targetMs of wall time.
 * `sums` must hold fmaGrid(rt) invocations' floats.
 */
export async function calibrateFma(rt: Runtime, sums: GPUBuffer, chains: number, targetMs: number): Promise<number> {
  const { workgroups, wg } = fmaGrid(rt);
  recordFma(rt, sums, workgroups, 1, chains, wg); // compiles the pipeline outside the timing
  await rt.sync();
  // Scale towards the target from each measurement (growth bounded: a first measurement can be
  // inflated by a busy host); accept one within a factor of two, but never fewer trips than a
  // floor of work that a busy host's scheduling noise cannot pass for a slow kernel.
  const minIters = Math.max(1, Math.round((rt.isSoftware ? 2e8 : 1e10) / fmaFlops(workgroups * wg, 1, chains)));
  let iters = 4;
  for (let attempt = 0; attempt < 10; attempt++) {
    // The faster of two tries: a busy host inflates single short measurements.
    let ms = Infinity;
    for (let k = 0; k < 2; k++) {
      recordFma(rt, sums, workgroups, iters, chains, wg);
      ms = Math.min(ms, await wallMs(rt));
    }
    if (ms >= targetMs / 2 && ms <= targetMs * 2 && iters >= minIters) break;
    const next = Math.round(iters * Math.min(16, targetMs / Math.max(ms, 1e-3)));
    iters = Math.max(1, Math.min(1 << 22, next));
  }
  return Math.max(iters, minIters);
}

function fmtMiB(bytes: number): string {
  return `${(bytes / MiB).toFixed(bytes % MiB === 0 ? 0 : 1)} MiB`;
}
