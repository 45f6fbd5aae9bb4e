// The bench/dev runner, llm.c dev/cuda style: validate one version of a kernel against the float64
// reference (kernels/reference.ts), then time it with the bench harness's Timer.
//   npx tsx bench/dev/run.ts                      the kernels that have a ladder
//   npx tsx bench/dev/run.ts matmul               its versions
//   npx tsx bench/dev/run.ts matmul 3 [--M 1024]  validate v3, then time it
//   npx tsx bench/dev/run.ts matmul all           every version, one after the other
// Options: --<dim> value (the ladder's dimensions), --tiny (the test's shape), --runs N (default 5),
// --warmup N (default 1), --timing wall|timestamp (default: timestamps when they check out), and a
// version's launcher options (--WG 64 --VPT 4, --config tiled-128x128: see the listing).
// On a software adapter it also prints the driver threads' CPU time per run, which a shared
// machine does not stretch, and the rate that CPU time gives on idle cores.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { destroyRuntime, getRuntime, type Runtime } from '../../kernels/gpu/runtime.ts';
import { BENCH_DAWN_FLAGS, checkTimestamps, Timer, type Timing, type TimingMethod } from '../harness.ts';
import { CliError } from '../../train/cli-error.ts';
import { parseConfig, type ParsedConfig, type Schema } from '../../train/config.ts';
import type { Dims, Ladder, Problem, Tune, Version } from './ladder.ts';
import { ladder as adamw } from './adamw/ladder.ts';
import { ladder as attention } from './attention/ladder.ts';
import { ladder as crossentropy } from './crossentropy/ladder.ts';
import { ladder as embedding } from './embedding/ladder.ts';
import { ladder as gelu } from './gelu/ladder.ts';
import { ladder as layernorm } from './layernorm/ladder.ts';
import { ladder as matmul } from './matmul/ladder.ts';
import { ladder as residual } from './residual/ladder.ts';
import { ladder as softmax } from './softmax/ladder.ts';

/** Every ladder by kernel name (each folder bench/dev/<kernel>/ has one). */
export const LADDERS: ReadonlyMap<string, Ladder> = new Map(
  [adamw, attention, crossentropy, embedding, gelu, layernorm, matmul, residual, softmax].map((l) => [
    l.kernel,
    l as unknown as Ladder,
  ]),
);

export function ladderOf(kernel: string): Ladder {
  const l = LADDERS.get(kernel);
  if (!l) throw new Error(`no ladder "${kernel}" (have ${[...LADDERS.keys()].join(', ')})`);
  return l;
}

export function versionOf(l: Ladder, n: number): Version {
  const v = l.versions.find((x) => x.n === n);
  if (!v) throw new Error(`${l.kernel} has no version ${n} (have ${l.versions.map((x) => x.n).join(', ')})`);
  return v;
}

/** The listing: one line per version, its file and what it changes. */
export function listing(l: Ladder): string[] {
  const lines = [`${l.kernel}: ${l.problem}; default ${fmtDims(l.dims)}`];
  for (const v of l.versions) {
    const tun = v.tunables?.length ? ` [--${v.tunables.join(' --')}]` : '';
    lines.push(`  v${v.n} ${v.name.padEnd(10)} ${v.file.padEnd(38)} ${v.what}${tun}`);
  }
  return lines;
}

function fmtDims(d: Dims): string {
  return Object.entries(d)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function checkTune(v: Version, tune: Tune): void {
  for (const k of Object.keys(tune))
    if (!v.tunables?.includes(k))
      throw new Error(`v${v.n} ${v.name} takes no --${k} (it takes: ${v.tunables?.join(', ') || 'none'})`);
}

/** Runs version v once on fresh inputs and throws if its output is off the reference. */
export async function validate(rt: Runtime, l: Ladder, v: Version, p: Problem, tune: Tune = {}): Promise<void> {
  checkTune(v, tune);
  p.reset();
  v.run(rt, p, tune);
  await rt.sync();
  await p.check(`${l.kernel} v${v.n} ${v.name}`);
}

/** Validates version n of a kernel on shape d (default: the ladder's tiny shape) in a problem of its own. */
export async function validateVersion(rt: Runtime, kernel: string, n: number, d?: Dims): Promise<void> {
  const l = ladderOf(kernel);
  const v = versionOf(l, n);
  const dims = d ?? l.tinyDims;
  const why = v.unsupported?.(rt, dims);
  if (why) throw new Error(`${kernel} v${n}: ${why}`);
  const p = l.setup(rt, dims);
  try {
    await validate(rt, l, v, p);
  } finally {
    p.dispose();
  }
}

/**
 * CPU seconds used so far by this process's threads other than the main one: on a software
 * adapter, lavapipe's worker threads, i.e. the "GPU". null where /proc is missing.
 */
function driverCpuS(): number | null {
  if (!existsSync('/proc/self/task')) return null;
  let s = 0;
  for (const t of readdirSync('/proc/self/task')) {
    if (t === String(process.pid)) continue;
    try {
      const stat = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      s += (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 10 ms
    } catch {
      // the thread ended
    }
  }
  return s;
}

/**
 * On a shared machine the wall (and timestamp) times of a software adapter stretch with the
 * load; the driver threads' CPU time does not. Their CPU time per run divided by the cores is
 * what an idle machine would take at best: the "2-core" numbers of the notes. /proc counts in
 * 10 ms ticks per thread, so the runs repeat until they have used about a second of CPU.
 */
async function cpuLine(rt: Runtime, p: Problem, record: () => void, medianMs: number): Promise<string | null> {
  const cores = availableParallelism();
  const runs = Math.min(2000, Math.max(3, Math.ceil(1000 / Math.max(medianMs, 0.01))));
  const c0 = driverCpuS();
  if (c0 === null) return null;
  for (let i = 0; i < runs; i++) record();
  await rt.sync(runs * medianMs);
  const ms = ((driverCpuS()! - c0) * 1000) / runs;
  return `cpu ${ms.toFixed(2)} ms/run (${runs} runs) = ${rate(p, ms / cores)} on ${cores} idle cores`;
}

function rate(p: Problem, ms: number): string {
  if (p.flops) return `${(p.flops / ms / 1e6).toFixed(2)} GFLOP/s`;
  if (p.bytes) return `${(p.bytes / ms / 1e6).toFixed(2)} GB/s`;
  return '';
}

function fmtTiming(p: Problem, t: Timing): string {
  const note = t.note ? ` (${t.note})` : '';
  return `${t.medianMs.toFixed(3)} ms  ${rate(p, t.medianMs)}  (min ${t.minMs.toFixed(3)} ms = ${rate(p, t.minMs)}, ${t.samplesMs.length} runs, ${t.method}${note})`;
}

interface RunOptions {
  kernel: string | null;
  version: string | null;
  tiny: boolean;
  runs: number;
  warmup: number;
  timing: TimingMethod | null;
  /** Every other --key value: a dimension of the ladder, else a launcher option. */
  named: Record<string, string>;
}

interface RunFlags {
  tiny: boolean;
  runs: number;
  warmup: number;
  timing: string | null;
}

/** The runner's own options; every other `--key value` is a ladder dimension or a launcher option. */
const RUN_SCHEMA: Schema<RunFlags> = {
  tiny: { type: 'boolean', default: false, help: "the test's tiny shape" },
  runs: { type: 'int', default: 5, min: 1, help: 'timed runs' },
  warmup: { type: 'int', default: 1, min: 0, help: 'untimed runs first' },
  timing: { type: 'string', default: null, choices: ['wall', 'timestamp'], help: 'timing method' },
};

/** `<kernel> [<version>|all] [options]`, parsed by the schema parser every command uses. */
export function parseRunArgs(argv: readonly string[]): RunOptions {
  let parsed: ParsedConfig<RunFlags>;
  try {
    parsed = parseConfig(RUN_SCHEMA, argv, 'bench/dev/run.ts', { passUnknown: true });
  } catch (e) {
    if (e instanceof CliError) throw new Error(e.message.replace(/ \(see webgpu-gpt .*\)$/, ''));
    throw e;
  }
  const v = parsed.values;
  const [kernel = null, version = null] = parsed.positional;
  const timing = v.timing as TimingMethod | null;
  return { kernel, version, tiny: v.tiny, runs: v.runs, warmup: v.warmup, timing, named: parsed.unknown };
}

/** The ladder's shape with --<dim> values applied, and the remaining options as launcher options. */
function shapeAndTune(l: Ladder, o: RunOptions): { dims: Dims; tune: Tune } {
  const dims = { ...(o.tiny ? l.tinyDims : l.dims) };
  const tune: Tune = {};
  for (const [k, v] of Object.entries(o.named)) {
    if (!(k in dims)) tune[k] = v;
    else if (!Number.isInteger(Number(v)) || Number(v) < 1) throw new Error(`--${k} must be a positive integer`);
    else dims[k] = Number(v);
  }
  return { dims, tune };
}

function commit(): string {
  const git = (args: string[]) =>
    execFileSync('git', args, { stdio: ['ignore', 'pipe', 'ignore'], encoding: 'utf8', timeout: 10_000 }).trim();
  try {
    return (
      git(['rev-parse', '--short', 'HEAD']) + (git(['status', '--porcelain', '--untracked-files=no']) ? ' (dirty)' : '')
    );
  } catch {
    return 'unknown';
  }
}

async function pickTiming(rt: Runtime, o: RunOptions, out: (s: string) => void): Promise<TimingMethod> {
  if (o.timing === 'wall') return 'wall';
  const check = await checkTimestamps(rt, true);
  out(`timing: ${check.ok ? 'GPU timestamps' : 'wall clock'} (${check.detail})`);
  if (!check.ok && o.timing === 'timestamp') throw new Error(`--timing timestamp: ${check.detail}`);
  return check.ok ? 'timestamp' : 'wall';
}

/** Validates, then times one version; false when it failed validation or running. */
async function runOne(
  rt: Runtime,
  timer: Timer,
  l: Ladder,
  v: Version,
  p: Problem,
  dims: Dims,
  o: RunOptions,
  tune: Tune,
  out: (s: string) => void,
): Promise<boolean> {
  const head = `v${v.n} ${v.name.padEnd(10)}`;
  const why = v.unsupported?.(rt, dims);
  if (why) {
    out(`${head} skipped: ${why}`);
    return true;
  }
  try {
    await validate(rt, l, v, p, tune);
    const record = () => v.run(rt, p, tune);
    const t = await timer.time(record, o.runs, o.warmup);
    out(`${head} valid  ${fmtTiming(p, t)}`);
    const cpu = rt.isSoftware ? await cpuLine(rt, p, record, t.medianMs) : null;
    if (cpu) out(`${' '.repeat(head.length)}        ${cpu}`);
    return true;
  } catch (e) {
    out(`${head} FAILED: ${e instanceof Error ? e.message : String(e)}`);
    return false;
  }
}

/** The command line; returns the exit status (0 ok, 1 a version failed, 2 a usage mistake). */
export async function devMain(
  argv: readonly string[],
  out: (s: string) => void = (s) => console.log(s),
): Promise<number> {
  let o: RunOptions;
  let l: Ladder;
  try {
    o = parseRunArgs(argv);
    if (!o.kernel) {
      out(
        `kernels: ${[...LADDERS.keys()].join(', ')}\nnpx tsx bench/dev/run.ts <kernel> [<version>|all] [--<dim> N] [--tiny] [--runs N]`,
      );
      return 0;
    }
    l = ladderOf(o.kernel);
  } catch (e) {
    out(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  if (o.version === null) {
    for (const line of listing(l)) out(line);
    return 0;
  }
  let versions: Version[];
  let shape: { dims: Dims; tune: Tune };
  try {
    versions = o.version === 'all' ? [...l.versions] : [versionOf(l, Number(o.version.replace(/^v/, '')))];
    shape = shapeAndTune(l, o);
    if (o.version !== 'all') checkTune(versions[0]!, shape.tune);
    for (const k of Object.keys(shape.tune))
      if (!versions.some((v) => v.tunables?.includes(k))) throw new Error(`no version of ${l.kernel} takes --${k}`);
  } catch (e) {
    out(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
  const rt = await getRuntime({ dawnFlags: BENCH_DAWN_FLAGS });
  out(`adapter: ${rt.describe()}`);
  if (rt.isSoftware)
    out(`cpu: ${cpus()[0]?.model ?? 'unknown'}, ${availableParallelism()} cores (the adapter runs on it)`);
  out(`commit ${commit()}, ${new Date().toISOString().slice(0, 10)}; ${l.kernel} ${fmtDims(shape.dims)}: ${l.problem}`);
  const timer = new Timer(rt, await pickTiming(rt, o, out));
  const p = l.setup(rt, shape.dims);
  let ok = true;
  try {
    for (const v of versions) {
      const tune = o.version === 'all' ? pickTune(v, shape.tune) : shape.tune;
      ok = (await runOne(rt, timer, l, v, p, shape.dims, o, tune, out)) && ok;
    }
  } finally {
    p.dispose();
  }
  return ok ? 0 : 1;
}

/** With `all`, each version gets the launcher options it takes. */
function pickTune(v: Version, tune: Tune): Tune {
  return Object.fromEntries(Object.entries(tune).filter(([k]) => v.tunables?.includes(k)));
}

if (process.argv[1]?.endsWith('bench/dev/run.ts')) {
  try {
    process.exitCode = await devMain(process.argv.slice(2));
  } finally {
    await destroyRuntime();
  }
}
