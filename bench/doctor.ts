// `webgpu-gpt doctor [--json] [--quick]`: what a user pastes into a bug report. Versions (Node, this
// package, Dawn's bindings), the adapter Dawn picked and whether it is a software one, the features
// and limits the kernels care about, the Vulkan driver packages, the Mesa shader cache, the Dawn
// flags in effect, and a ~10-second micro-benchmark (copy GB/s and FMA GFLOP/s ceilings, matmul
// GFLOP/s) with a one-line verdict.
//
// It lives in bench/ (a leaf) because it measures like the benches do; bin/webgpu-gpt.mjs
// dispatches `doctor` here as it does `bench`.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, platform, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { destroyRuntime, getRuntime, type Runtime } from '../kernels/gpu/runtime.ts';
import { matmul } from '../kernels/matmul.ts';
import { formatHelp, parseConfig, type Schema } from '../train/config.ts';
import { measureCeilings, wallMs } from './ceilings.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The package root: one folder up from bench/, two from the built dist/bench/. */
const ROOT = [join(HERE, '..'), join(HERE, '..', '..')].find((d) => existsSync(join(d, 'package.json'))) ?? HERE;

export interface DoctorConfig {
  json: boolean;
  quick: boolean;
}

export const DOCTOR_SCHEMA: Schema<DoctorConfig> = {
  json: { type: 'boolean', default: false, help: 'print the report as JSON' },
  quick: { type: 'boolean', default: false, help: 'a ~2-second micro-benchmark on small shapes (tests)' },
};

export const DOCTOR_HELP = formatHelp(DOCTOR_SCHEMA, {
  usage: 'usage: webgpu-gpt doctor [--json] [--quick]',
  description: 'Prints the facts a bug report needs: versions, adapter, features, limits, driver, shader cache, speed.',
});

/** The features the kernels use when present; 'subgroup matrices' is Dawn's experimental name. */
const FEATURES = {
  f16: 'shader-f16',
  subgroups: 'subgroups',
  subgroupMatrices: 'chromium-experimental-subgroup-matrix',
  timestamps: 'timestamp-query',
} as const;

const LIMITS = [
  'maxBufferSize',
  'maxStorageBufferBindingSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupsPerDimension',
] as const;

export interface DoctorReport {
  versions: { node: string; webgpuGpt: string; webgpu: string; os: string };
  adapter: { vendor: string; architecture: string; device: string; description: string; software: boolean };
  features: Record<keyof typeof FEATURES, boolean>;
  wgslLanguageFeatures: string[];
  limits: Record<(typeof LIMITS)[number], number>;
  driver: { packages: Record<string, string>; vulkanIcd: string | null };
  shaderCache: { dir: string | null; bytes: number };
  dawnFlags: string[];
  benchmark: { copyGBps: number; fmaGFLOPs: number; matmulGFLOPs: number; matmulShape: string; seconds: number };
  verdict: string;
}

/** The version in a package.json: this package's own (`null`) or a dependency's. */
function packageVersion(name: string | null): string {
  try {
    const file = name
      ? createRequire(join(ROOT, 'package.json')).resolve(`${name}/package.json`)
      : join(ROOT, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Installed versions of the Debian packages that make up the Vulkan stack (none elsewhere). */
function driverPackages(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pkg of ['mesa-vulkan-drivers', 'libvulkan1']) {
    try {
      const v = execFileSync('dpkg-query', ['-W', '-f=${Version}', pkg], { encoding: 'utf8', stdio: 'pipe' });
      if (v.trim()) out[pkg] = v.trim();
    } catch {
      // not a Debian system, or not installed
    }
  }
  return out;
}

function dirBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? dirBytes(p) : statSync(p).size;
  }
  return total;
}

/** Mesa's on-disk shader cache: MESA_SHADER_CACHE_DIR, else $XDG_CACHE_HOME or ~/.cache. */
function shaderCache(): { dir: string | null; bytes: number } {
  const base = process.env.MESA_SHADER_CACHE_DIR ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'));
  const candidates = process.env.MESA_SHADER_CACHE_DIR
    ? [base]
    : ['mesa_shader_cache_db', 'mesa_shader_cache'].map((d) => join(base, d));
  for (const dir of candidates) if (existsSync(dir)) return { dir, bytes: dirBytes(dir) };
  return { dir: null, bytes: 0 };
}

function dawnFlags(): string[] {
  const flags = (process.env.WEBGPU_GPT_DAWN_FLAGS ?? '').split(/\s+/).filter(Boolean);
  if (process.env.WEBGPU_GPT_ADAPTER) flags.push(`adapter=${process.env.WEBGPU_GPT_ADAPTER}`);
  if (process.env.WEBGPU_GPT_BACKEND) flags.push(`backend=${process.env.WEBGPU_GPT_BACKEND}`);
  return flags;
}

/** Median-free best of `runs` wall-timed matmuls of M = N = K = n: GFLOP/s. */
async function matmulGflops(rt: Runtime, n: number, runs: number): Promise<number> {
  const bytes = n * n * 4;
  const [a, b, out] = ['doctor-a', 'doctor-b', 'doctor-out'].map((l) => rt.pool.acquire(bytes, l)) as [
    GPUBuffer,
    GPUBuffer,
    GPUBuffer,
  ];
  try {
    const ones = new Float32Array(n * n).fill(0.5);
    rt.write(a, 0, ones);
    rt.write(b, 0, ones);
    matmul(rt, { out, a, b, M: n, N: n, K: n }); // compile and warm up
    await rt.sync();
    let best = Infinity;
    for (let r = 0; r < runs; r++) {
      matmul(rt, { out, a, b, M: n, N: n, K: n });
      best = Math.min(best, await wallMs(rt));
    }
    return (2 * n ** 3) / (best * 1e6);
  } finally {
    for (const buf of [a, b, out]) rt.pool.release(buf);
  }
}

function verdict(software: boolean, matmulGFLOPs: number): string {
  if (software) return 'software adapter: fine for learning and tests; a GPU is 10-1000x faster for training';
  return matmulGFLOPs > 1000
    ? 'GPU adapter: ready for training'
    : 'GPU adapter, but matmul is slow: check the driver and that this is the GPU you meant';
}

export async function doctorReport(rt: Runtime, quick: boolean): Promise<DoctorReport> {
  const info = rt.adapter.info;
  const has = (f: string): boolean => rt.adapter.features.has(f);
  const gpu = (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  const t0 = performance.now();
  const ceilings = await measureCeilings(rt, { quick });
  const n = quick ? 256 : rt.isSoftware ? 512 : 2048;
  const matmulGFLOPs = await matmulGflops(rt, n, quick ? 2 : 5);
  const seconds = (performance.now() - t0) / 1000;
  const lim = rt.limits as unknown as Record<string, number>;
  return {
    versions: {
      node: process.version,
      webgpuGpt: packageVersion(null),
      webgpu: packageVersion('webgpu'),
      os: `${platform()} ${release()}`,
    },
    adapter: {
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      description: info.description,
      software: rt.isSoftware,
    },
    features: Object.fromEntries(Object.entries(FEATURES).map(([k, f]) => [k, has(f)])) as DoctorReport['features'],
    wgslLanguageFeatures: gpu ? [...gpu.wgslLanguageFeatures].sort() : [],
    limits: Object.fromEntries(LIMITS.map((k) => [k, lim[k] ?? 0])) as DoctorReport['limits'],
    driver: {
      packages: driverPackages(),
      vulkanIcd: process.env.VK_ICD_FILENAMES ?? process.env.VK_DRIVER_FILES ?? null,
    },
    shaderCache: shaderCache(),
    dawnFlags: dawnFlags(),
    benchmark: {
      copyGBps: ceilings.gbps,
      fmaGFLOPs: ceilings.gflops,
      matmulGFLOPs,
      matmulShape: `${n}x${n}x${n}`,
      seconds,
    },
    verdict: verdict(rt.isSoftware, matmulGFLOPs),
  };
}

const MiB = 1024 * 1024;

export function formatReport(r: DoctorReport): string {
  const yes = (b: boolean): string => (b ? 'yes' : 'no');
  const b = r.benchmark;
  return [
    `webgpu-gpt ${r.versions.webgpuGpt}, Node ${r.versions.node}, webgpu (Dawn) ${r.versions.webgpu}, ${r.versions.os}`,
    `adapter:  ${r.adapter.description || r.adapter.device} [${r.adapter.vendor} ${r.adapter.architecture}]` +
      (r.adapter.software ? ' (software)' : ''),
    `features: f16 ${yes(r.features.f16)}, subgroups ${yes(r.features.subgroups)}, subgroup matrices ` +
      `${yes(r.features.subgroupMatrices)}, timestamps ${yes(r.features.timestamps)}`,
    `limits:   buffer ${(r.limits.maxBufferSize / MiB).toFixed(0)} MiB, storage binding ` +
      `${(r.limits.maxStorageBufferBindingSize / MiB).toFixed(0)} MiB, workgroup storage ` +
      `${r.limits.maxComputeWorkgroupStorageSize} B, ${r.limits.maxComputeInvocationsPerWorkgroup} invocations/workgroup`,
    `driver:   ${
      Object.entries(r.driver.packages)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ') || 'no Debian Vulkan packages found'
    }`,
    `shaders:  ${r.shaderCache.dir ? `${r.shaderCache.dir} (${(r.shaderCache.bytes / MiB).toFixed(1)} MiB)` : 'no Mesa shader cache'}`,
    `dawn:     ${r.dawnFlags.length ? r.dawnFlags.join(' ') : 'no extra flags'}`,
    `speed:    copy ${b.copyGBps.toFixed(2)} GB/s, FMA ${b.fmaGFLOPs.toFixed(1)} GFLOP/s, matmul ${b.matmulShape} ` +
      `${b.matmulGFLOPs.toFixed(1)} GFLOP/s (${((100 * b.matmulGFLOPs) / b.fmaGFLOPs).toFixed(0)} % of FMA), ${b.seconds.toFixed(1)} s`,
    `verdict:  ${r.verdict}`,
  ].join('\n');
}

export async function doctorMain(argv: string[]): Promise<number> {
  const { values: cfg, help } = parseConfig(DOCTOR_SCHEMA, argv, 'doctor');
  if (help) {
    process.stdout.write(DOCTOR_HELP + '\n');
    return 0;
  }
  const rt = await getRuntime();
  try {
    const report = await doctorReport(rt, cfg.quick);
    process.stdout.write((cfg.json ? JSON.stringify(report, null, 2) : formatReport(report)) + '\n');
    return 0;
  } finally {
    await destroyRuntime();
  }
}
