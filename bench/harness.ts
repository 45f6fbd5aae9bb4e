// The bench runner's core: argument parsing (train/config.ts's schema parser), discovery of bench/*.bench.ts, the adapter's
// ceilings, validation, timing (GPU timestamp queries, checked for sanity, else wall time),
// tables and JSON records. bench/run.ts is only its command-line entry point; tests call
// runBench() directly.
//
// How a case is timed: the case records one execution with run(); the timer wraps each recorded
// run in a compute pass whose beginning and end write a timestamp, records all timed runs into one
// submission, resolves the query set and reads it back once. A run that spans several passes
// (a copy or write in the middle splits the pass) is bracketed by two tiny marker passes instead.
// Timestamps are used only when a long probe kernel showed them close to the wall time, and each
// case's timestamps must again be positive and fit inside the submission's wall time.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { getRuntime, type Runtime } from '../kernels/gpu/runtime.ts';
import { CliError } from '../train/cli-error.ts';
import { parseConfig, type ParsedConfig, type Schema } from '../train/config.ts';
import { calibrateFma, fmaGrid, measureCeilings, noop, recordFma, wallMs, type Ceilings } from './ceilings.ts';
import type { BenchCase, BenchContext, BenchModule } from './types.ts';

/** Dawn toggles for benches: f16 on NVIDIA's Vulkan driver, and unquantized timestamps. */
export const BENCH_DAWN_FLAGS = [
  'enable-dawn-features=vulkan_enable_f16_on_nvidia,allow_unsafe_apis',
  'disable-dawn-features=timestamp_quantization',
];

export type TimingMethod = 'timestamp' | 'wall';

/** One timed measurement of one case; `--json` writes an array of these. */
export interface BenchRecord {
  kernel: string;
  variant: string;
  shape: Record<string, number>;
  /** Median over the timed runs, ms. */
  ms: number;
  minMs: number;
  runs: number;
  samplesMs: number[];
  flops?: number;
  bytes?: number;
  gflops?: number;
  gbps?: number;
  /** Median of the naive baseline, ms, and how many times faster the case is (naiveMs / ms). */
  naiveMs: number | null;
  speedup: number | null;
  /** Percent of the adapter's measured FMA ceiling (cases with flops) or copy bandwidth (bytes). */
  pctOfCeiling: number | null;
  ceiling: { gflops: number; gbps: number } | null;
  timing: TimingMethod;
  /** Why the timing method differs from the run's, when it does. */
  timingNote?: string;
  adapter: string;
  adapterVendor: string;
  adapterArchitecture: string;
  software: boolean;
  date: string;
  commit: string | null;
  /** Whether tracked files differed from the commit. */
  dirty: boolean | null;
  quick: boolean;
}

export interface BenchFailure {
  kernel: string;
  variant?: string;
  shape?: Record<string, number>;
  stage: 'load' | 'cases' | 'validate' | 'run' | 'naive' | 'train';
  error: string;
}

export interface BenchResult {
  records: BenchRecord[];
  failures: BenchFailure[];
  ceilings: Ceilings | null;
  timing: TimingMethod | null;
}

/** A command-line mistake: run.ts prints the message alone and exits with status 2. */
export class BenchUsageError extends Error {
  override name = 'BenchUsageError';
}

export interface BenchOptions {
  kernels: string[];
  json: string | null;
  quick: boolean;
  runs: number;
  warmup: number;
  naive: boolean;
  ceilings: boolean;
  variant: string | null;
  timing: TimingMethod | null;
  help: boolean;
  /** Everything else, `--M 512` → { M: '512' }, handed to the cases. */
  args: Record<string, string>;
}

/** Benches of a whole program (their own main and flags), not kernels: `all` leaves them out. */
const WHOLE_PROGRAM: readonly string[] = ['train', 'generate', 'finetune'];

export const USAGE = `usage: npm run bench -- <kernel...|all|train|generate> [options] [--<dim> value ...]
  --json FILE       write one JSON record per measurement to FILE
  --quick           small shapes and fewer runs (CI smoke runs)
  --runs N          timed runs per case (default 5, --quick 2); the median and the min are printed
  --warmup N        untimed runs before timing (default 1)
  --variant TEXT    only cases whose variant contains TEXT
  --no-naive        skip the naive baselines (on a CPU adapter they can take seconds per run)
  --no-ceilings     skip measuring the adapter's ceilings (no % of ceiling)
  --timing wall     force wall-clock timing even where timestamp queries work
  --<dim> value     passed to the cases, e.g. --M 512 --N 512 --K 512`;

interface BenchFlags {
  kernels: string[];
  json: string | null;
  quick: boolean;
  runs: number | null;
  warmup: number;
  naive: boolean;
  ceilings: boolean;
  variant: string | null;
  timing: string | null;
}

/** The runner's own flags; any other `--<dim> value` is handed to the cases (passUnknown). */
const BENCH_SCHEMA: Schema<BenchFlags> = {
  kernels: { type: 'list', default: [], positional: true, help: 'kernels to bench' },
  json: { type: 'string', default: null, help: 'JSON output file' },
  quick: { type: 'boolean', default: false, help: 'small shapes, fewer runs' },
  runs: { type: 'int', default: null, min: 1, help: 'timed runs per case' },
  warmup: { type: 'int', default: 1, min: 0, help: 'untimed runs' },
  naive: { type: 'boolean', default: true, help: 'time the naive baselines' },
  ceilings: { type: 'boolean', default: true, help: "measure the adapter's ceilings" },
  variant: { type: 'string', default: null, help: 'only variants containing this text' },
  timing: { type: 'string', default: null, choices: ['wall', 'timestamp'], help: 'timing method' },
};

/** Parses the bench command line with the schema parser shared with every webgpu-gpt command. */
export function parseArgs(argv: readonly string[]): BenchOptions {
  let parsed: ParsedConfig<BenchFlags>;
  try {
    parsed = parseConfig(BENCH_SCHEMA, argv, 'bench', { passUnknown: true });
  } catch (e) {
    if (e instanceof CliError)
      throw new BenchUsageError(`${e.message.replace(/ \(see webgpu-gpt .*\)$/, '')}\n${USAGE}`);
    throw e;
  }
  const v = parsed.values;
  // A --<dim> goes to the kernel cases, which take numbers (a whole-program bench parses its own).
  if (!v.kernels.some((k) => WHOLE_PROGRAM.includes(k)))
    for (const [k, x] of Object.entries(parsed.unknown))
      if (x === '' || !Number.isFinite(Number(x)))
        throw new BenchUsageError(`--${k} must be a number, got "${x}"\n${USAGE}`);
  return {
    kernels: v.kernels,
    json: v.json,
    quick: v.quick,
    runs: v.runs ?? (v.quick ? 2 : 5),
    warmup: v.warmup,
    naive: v.naive,
    ceilings: v.ceilings,
    variant: v.variant,
    timing: v.timing as TimingMethod | null,
    help: parsed.help,
    args: parsed.unknown,
  };
}

// ---------------------------------------------------------------------------------------------
// Timing

export interface Timing {
  method: TimingMethod;
  samplesMs: number[];
  medianMs: number;
  minMs: number;
  /** Set when timestamps were wanted but this case fell back to wall time, saying why. */
  note?: string;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Times recorded work on one runtime, with timestamp queries or wall time. */
export class Timer {
  constructor(
    readonly rt: Runtime,
    readonly method: TimingMethod,
  ) {}

  /**
   * Runs `record` warmup times untimed, then `runs` times timed. `record` must only record into
   * rt (no flush, no readback). `onePass` says that one run is dispatches only, when the caller
   * knows; otherwise the first warm-up run finds out (with no warm-up: marker passes).
   */
  async time(record: () => void, runs: number, warmup: number, onePass?: boolean): Promise<Timing> {
    const rt = this.rt;
    // Warm-up, which also finds out whether one run stays inside one compute pass: copies and
    // writes are recorded outside passes (they add commands but no dispatches), a flush resets
    // the count, and a run without dispatches opens no pass at all.
    let single = onePass ?? false;
    let warmMs = Infinity;
    for (let i = 0; i < warmup; i++) {
      const cmds = rt.pendingDispatches;
      const disp = rt.stats.dispatches;
      record();
      const dCmds = rt.pendingDispatches - cmds;
      const dDisp = rt.stats.dispatches - disp;
      if (i === 0 && onePass === undefined) single = dDisp > 0 && dCmds === dDisp;
      warmMs = Math.min(warmMs, await wallMs(rt));
    }
    if (this.method === 'timestamp') {
      // On a software adapter, the host sleeps through the timed runs rather than polling for
      // them: a polling Node thread takes a core from the driver's threads and slows the runs.
      const ts = await this.timestamps(record, runs, !single, Number.isFinite(warmMs) ? warmMs * runs : undefined);
      const problem = timestampProblem(ts.samplesMs, ts.wallMs);
      if (!problem) return summarize('timestamp', ts.samplesMs);
      const wall = await this.wall(record, runs);
      return { ...wall, note: `timestamps not sane (${problem}): wall time` };
    }
    return this.wall(record, runs);
  }

  private async wall(record: () => void, runs: number): Promise<Timing> {
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) {
      record();
      samples.push(await wallMs(this.rt));
    }
    return summarize('wall', samples);
  }

  /**
   * Records `runs` timestamped runs into one submission; returns each run's GPU time and the
   * submission's wall time (for the sanity check).
   */
  async timestamps(
    record: () => void,
    runs: number,
    markers: boolean,
    expectMs?: number,
  ): Promise<{ samplesMs: number[]; wallMs: number }> {
    const rt = this.rt;
    const count = 2 * runs;
    const querySet = rt.device.createQuerySet({ type: 'timestamp', count, label: 'bench timestamps' });
    const resolved = rt.device.createBuffer({
      size: Math.ceil((count * 8) / 256) * 256,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
      label: 'bench timestamps resolved',
    });
    try {
      for (let i = 0; i < runs; i++) {
        if (markers) {
          // The run spans several passes: open one with a no-op to stamp the beginning, and close
          // one after the run to stamp the end.
          rt.splitPass({ querySet, beginningOfPassWriteIndex: 2 * i });
          rt.dispatch(noop, { bindings: {}, workgroups: [1] });
          record();
          rt.splitPass({ querySet, endOfPassWriteIndex: 2 * i + 1 });
          rt.dispatch(noop, { bindings: {}, workgroups: [1] });
          rt.splitPass();
        } else {
          rt.splitPass({ querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 });
          record();
          rt.splitPass();
        }
      }
      const wall = await wallMs(rt, expectMs);
      rt.resolveQueries(querySet, 0, count, resolved);
      const t = new BigUint64Array(await rt.read(resolved, 0, count * 8));
      const samplesMs: number[] = [];
      for (let i = 0; i < runs; i++) samplesMs.push(Number(t[2 * i + 1]! - t[2 * i]!) / 1e6);
      return { samplesMs, wallMs: wall };
    } finally {
      querySet.destroy();
      resolved.destroy();
    }
  }
}

function summarize(method: TimingMethod, samplesMs: number[]): Timing {
  return { method, samplesMs, medianMs: median(samplesMs), minMs: Math.min(...samplesMs) };
}

/**
 * Why a set of timestamp durations cannot be right, or null. They were taken inside one
 * submission whose wall time is known: each must be positive and they must fit inside it.
 * (Timestamps are 64-bit unsigned; an end before its beginning wraps to a huge number.)
 */
export function timestampProblem(samplesMs: readonly number[], wallMs: number): string | null {
  if (samplesMs.some((x) => !Number.isFinite(x) || x <= 0))
    return `durations ${samplesMs.map((x) => x.toFixed(4)).join(', ')} ms`;
  const sum = samplesMs.reduce((a, b) => a + b, 0);
  if (sum > wallMs * 1.25 + 1) return `they add up to ${sum.toFixed(3)} ms in a submission of ${wallMs.toFixed(3)} ms`;
  return null;
}

/**
 * Decides whether this adapter's timestamps can be trusted: a long FMA probe dispatch timed both
 * ways must agree (a driver may return zeros, quantize coarsely or tick at a wrong rate).
 */
export async function checkTimestamps(rt: Runtime, quick: boolean): Promise<{ ok: boolean; detail: string }> {
  if (!rt.features.has('timestamp-query')) return { ok: false, detail: "the adapter lacks 'timestamp-query'" };
  const { workgroups, wg } = fmaGrid(rt);
  const sums = rt.pool.acquire(workgroups * wg * 4, 'timestamp-check');
  try {
    const target = rt.isSoftware ? (quick ? 10 : 25) : 5;
    const iters = await calibrateFma(rt, sums, 4, target);
    const record = (): void => recordFma(rt, sums, workgroups, iters, 4, wg);
    const timer = new Timer(rt, 'timestamp');
    let last = '';
    // Up to three tries: a busy host (other processes on the CPU) can stretch one try's wall time.
    for (let attempt = 0; attempt < 3; attempt++) {
      const { samplesMs, wallMs: wall } = await timer.timestamps(record, 1, false);
      const ts = samplesMs[0]!;
      last = `probe kernel: timestamps ${ts.toFixed(3)} ms, wall ${wall.toFixed(3)} ms`;
      if (Number.isFinite(ts) && ts > 0 && ts <= wall * 1.1 + 0.5 && ts >= wall * 0.5 - 0.5)
        return { ok: true, detail: last };
    }
    return { ok: false, detail: `timestamps disagree with wall time (${last})` };
  } finally {
    rt.pool.release(sums);
  }
}

// ---------------------------------------------------------------------------------------------
// Discovery

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

/** bench/<name>.bench.ts (or .js, built) files by name. */
export function discoverBenches(dir = BENCH_DIR): Map<string, string> {
  const found = new Map<string, string>();
  if (!existsSync(dir)) return found;
  for (const f of readdirSync(dir).sort()) {
    const m = /^(.+)\.bench\.[jt]s$/.exec(f); // .js in the built package (dist/bench)
    if (m) found.set(m[1]!, join(dir, f));
  }
  return found;
}

function isBenchModule(x: unknown): x is BenchModule {
  return (
    typeof x === 'object' &&
    x !== null &&
    typeof (x as BenchModule).name === 'string' &&
    typeof (x as BenchModule).cases === 'function'
  );
}

type Loaded =
  { kind: 'cases'; module: BenchModule } | { kind: 'main'; main: (argv: string[]) => unknown; result: () => unknown };

async function load(path: string): Promise<Loaded> {
  const mod = (await import(pathToFileURL(path).href)) as { default?: unknown; main?: unknown; lastResult?: unknown };
  // A module with its own main() may export lastResult, a function (bench/entry.ts) or a live
  // binding: its record for --json.
  if (typeof mod.main === 'function') {
    const last = mod.lastResult;
    const result = typeof last === 'function' ? (last as () => unknown) : () => mod.lastResult;
    return { kind: 'main', main: mod.main as (argv: string[]) => unknown, result };
  }
  if (isBenchModule(mod.default)) return { kind: 'cases', module: mod.default };
  throw new Error(`${path} must default-export a BenchModule ({ name, cases }) — see bench/types.ts`);
}

// ---------------------------------------------------------------------------------------------
// Output

function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, {
      cwd: BENCH_DIR,
      stdio: ['ignore', 'pipe', 'ignore'],
      encoding: 'utf8',
      timeout: 10_000,
    }).trim();
  } catch {
    return null;
  }
}

export function fmtShape(shape: Record<string, number>): string {
  return Object.entries(shape)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(1) : ms >= 1 ? ms.toFixed(2) : ms >= 0.01 ? ms.toFixed(3) : ms.toFixed(4);
}

function fmtRate(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

function table(rows: string[][], rightAlign: boolean[]): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r, i) => {
    const line = r
      .map((cell, c) => (rightAlign[c] && i > 0 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!)))
      .join('  ');
    return `  ${line.trimEnd()}`;
  });
}

function printTable(out: (line: string) => void, records: BenchRecord[]): void {
  const rows = [['variant', 'shape', 'ms', 'min ms', 'rate', 'naive ms', 'speed-up', '% ceiling', 'timing']];
  for (const r of records) {
    rows.push([
      r.variant,
      fmtShape(r.shape),
      fmtMs(r.ms),
      fmtMs(r.minMs),
      r.gflops !== undefined ? `${fmtRate(r.gflops)} GFLOP/s` : r.gbps !== undefined ? `${fmtRate(r.gbps)} GB/s` : '-',
      r.naiveMs !== null ? fmtMs(r.naiveMs) : '-',
      r.speedup !== null ? `${r.speedup.toFixed(2)}x` : '-',
      r.pctOfCeiling !== null ? `${r.pctOfCeiling.toFixed(1)}%` : '-',
      r.timing + (r.timingNote ? '*' : ''),
    ]);
  }
  for (const l of table(rows, [false, false, true, true, true, true, true, true, false])) out(l);
  for (const r of records) if (r.timingNote) out(`  * ${r.variant} ${fmtShape(r.shape)}: ${r.timingNote}`);
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// The runner

/**
 * Runs the benches named in argv (see USAGE) and returns every measurement and every failure.
 * `extra` modules are offered beside the discovered bench/*.bench.ts ones (tests use this); a
 * name in both means the extra one. Throws BenchUsageError for command-line mistakes.
 */
export async function runBench(
  argv: string[],
  out: (line: string) => void = (l) => console.log(l),
  extra: readonly BenchModule[] = [],
): Promise<BenchResult> {
  const opts = parseArgs(argv);
  const files = discoverBenches();
  const extras = new Map(extra.map((m) => [m.name, m]));
  const known = [...new Set([...files.keys(), ...extras.keys()])].sort();
  const knownText =
    known.length === 0
      ? 'known: none (no bench/*.bench.ts files exist yet)'
      : `known: ${[...known.filter((k) => !WHOLE_PROGRAM.includes(k)), 'all', ...known.filter((k) => WHOLE_PROGRAM.includes(k))].join(', ')}`;
  if (opts.help) {
    out(USAGE);
    out(knownText);
    return { records: [], failures: [], ceilings: null, timing: null };
  }
  if (opts.kernels.length === 0) throw new BenchUsageError(`name a kernel to bench\n${USAGE}\n${knownText}`);
  let names: string[] = [];
  for (const k of opts.kernels) {
    if (k === 'all') names.push(...known.filter((n) => !WHOLE_PROGRAM.includes(n)));
    else if (known.includes(k)) names.push(k);
    else if (k === 'train')
      throw new BenchUsageError('the training-step bench (bench/train.bench.ts) does not exist yet');
    else throw new BenchUsageError(`unknown kernel "${k}"; ${knownText}`);
  }
  names = [...new Set(names)];
  if (names.length === 0) throw new BenchUsageError(`no bench/*.bench.ts files exist yet; ${knownText}`);

  const failures: BenchFailure[] = [];
  const records: BenchRecord[] = [];

  // The training-step bench has its own main(argv): it gets the command line without its name.
  const loaded = new Map<string, Loaded>();
  for (const name of names) {
    const m = extras.get(name);
    if (m) {
      loaded.set(name, { kind: 'cases', module: m });
      continue;
    }
    try {
      loaded.set(name, await load(files.get(name)!));
    } catch (e) {
      out(`${name}: FAILED to load bench/${name}.bench.ts: ${errorText(e)}`);
      failures.push({ kernel: name, stage: 'load', error: errorText(e) });
    }
  }
  const kernelNames = names.filter((n) => loaded.get(n)?.kind === 'cases');
  const mains = names.filter((n) => loaded.get(n)?.kind === 'main');

  let ceilings: Ceilings | null = null;
  let method: TimingMethod | null = null;
  if (kernelNames.length > 0) {
    const rt = await getRuntime({ dawnFlags: BENCH_DAWN_FLAGS });
    const date = new Date().toISOString();
    const commit = git(['rev-parse', '--short', 'HEAD']);
    const status = commit ? git(['status', '--porcelain', '--untracked-files=no']) : null;
    const dirty = status === null ? null : status.length > 0;
    const adapter = rt.info.description || rt.info.device || 'unknown adapter';
    out(`webgpu-gpt bench · ${date} · commit ${commit ?? 'unknown'}${dirty ? ' (with uncommitted changes)' : ''}`);
    out(`adapter: ${rt.describe()}`);
    if (rt.isSoftware) {
      out(
        '!!! WARNING: this is a SOFTWARE adapter (the CPU emulates the GPU): these numbers say nothing about a GPU. !!!',
      );
    }

    if (opts.timing === 'wall') {
      method = 'wall';
      out('timing: wall clock around onSubmittedWorkDone (--timing wall)');
    } else {
      const check = await checkTimestamps(rt, opts.quick);
      if (check.ok) {
        method = 'timestamp';
        out(`timing: GPU timestamp queries (checked: ${check.detail})`);
      } else {
        if (opts.timing === 'timestamp') throw new BenchUsageError(`--timing timestamp: ${check.detail}`);
        method = 'wall';
        out(`timing: wall clock around onSubmittedWorkDone, because ${check.detail}`);
      }
    }
    const timer = new Timer(rt, method);
    out(
      `runs: median of ${opts.runs} after ${opts.warmup} warm-up${opts.quick ? ' (--quick)' : ''}; naive baselines ${opts.naive ? `median of ${Math.min(opts.runs, 3)}` : 'skipped'}`,
    );

    if (opts.ceilings) {
      out('measuring the adapter ceilings…');
      ceilings = await measureCeilings(rt, {
        quick: opts.quick,
        time: async (record, runs) => (await timer.time(record, runs, 0, true)).samplesMs,
      });
      await rt.sync();
      rt.pool.trim();
      out(`ceilings: bandwidth ${fmtRate(ceilings.gbps)} GB/s (${ceilings.copyConfig})`);
      out(`          compute   ${fmtRate(ceilings.gflops)} GFLOP/s (${ceilings.fmaConfig})`);
    }

    // The cases read the --<dim> values they take; one that no case reads is a typo, not a no-op.
    const read = new Set<string>();
    const args = new Proxy(opts.args, {
      get: (t, k) => (typeof k === 'string' && read.add(k), Reflect.get(t, k)),
    });
    const ctx: BenchContext = { rt, quick: opts.quick, args };
    const caseKernels = kernelNames.filter((n) => loaded.get(n)?.kind === 'cases');
    for (const name of kernelNames) {
      const module = (loaded.get(name) as { module: BenchModule }).module;
      out('');
      out(`== ${name} · ${adapter} ==`);
      let cases: BenchCase[];
      try {
        cases = await module.cases(ctx);
      } catch (e) {
        out(`  FAILED to create the cases: ${errorText(e)}`);
        failures.push({ kernel: name, stage: 'cases', error: errorText(e) });
        continue;
      }
      const unread = Object.keys(opts.args).filter((k) => !read.has(k));
      if (name === caseKernels.at(-1) && unread.length > 0)
        throw new BenchUsageError(`unknown option --${unread[0]} for bench ${caseKernels.join(' ')}\n${USAGE}`);
      const mine: BenchRecord[] = [];
      const selected = cases.filter((c) => opts.variant === null || c.variant.includes(opts.variant));
      if (selected.length === 0)
        out(`  no cases${opts.variant !== null ? ` whose variant contains "${opts.variant}"` : ''}`);
      for (const [i, c] of selected.entries()) {
        const label = `${c.variant} ${fmtShape(c.shape)}`;
        const failure = (stage: BenchFailure['stage'], e: unknown): void => {
          out(`  [${i + 1}/${selected.length}] ${label}: FAILED ${stage}: ${errorText(e)}`);
          failures.push({ kernel: c.kernel || name, variant: c.variant, shape: c.shape, stage, error: errorText(e) });
        };
        out(
          `  [${i + 1}/${selected.length}] ${label}: validating, then ${opts.warmup} warm-up + ${opts.runs} timed runs…`,
        );
        try {
          await c.validate();
        } catch (e) {
          failure('validate', e);
          continue;
        }
        let t: Timing;
        try {
          t = await timer.time(() => c.run(), opts.runs, opts.warmup);
        } catch (e) {
          failure('run', e);
          continue;
        }
        let naiveMs: number | null = null;
        if (opts.naive && c.naive) {
          const naive = c.naive.bind(c);
          try {
            naiveMs = (await timer.time(() => naive(), Math.min(opts.runs, 3), 1)).medianMs;
          } catch (e) {
            failure('naive', e);
          }
        }
        const rec = makeRecord(c, name, t, naiveMs, ceilings, { adapter, rt, date, commit, dirty, quick: opts.quick });
        records.push(rec);
        mine.push(rec);
        const rate =
          rec.gflops !== undefined
            ? `${fmtRate(rec.gflops)} GFLOP/s`
            : rec.gbps !== undefined
              ? `${fmtRate(rec.gbps)} GB/s`
              : '';
        out(
          `  [${i + 1}/${selected.length}] ${label}: ${fmtMs(rec.ms)} ms ${rate}${naiveMs !== null ? `, naive ${fmtMs(naiveMs)} ms` : ''}`,
        );
      }
      for (const c of cases) {
        try {
          c.dispose();
        } catch (e) {
          out(`  dispose of ${c.variant} failed: ${errorText(e)}`);
        }
      }
      try {
        await rt.sync();
        rt.pool.trim();
      } catch (e) {
        failures.push({ kernel: name, stage: 'run', error: errorText(e) });
      }
      if (mine.length > 0) {
        out('');
        out(
          `  ${name} on ${adapter}${ceilings ? ` (ceilings ${fmtRate(ceilings.gflops)} GFLOP/s, ${fmtRate(ceilings.gbps)} GB/s)` : ''}:`,
        );
        printTable(out, mine);
      }
    }
  }

  for (const name of mains) {
    const main = (loaded.get(name) as { main: (argv: string[]) => unknown }).main;
    out('');
    out(`== ${name}: delegating to bench/${name}.bench.ts main() ==`);
    try {
      const rest = argv.filter((a) => a !== name && a !== 'all');
      const rc = await main(rest);
      if (typeof rc === 'number' && rc !== 0)
        failures.push({ kernel: name, stage: 'train', error: `main() returned ${rc}` });
    } catch (e) {
      out(`${name}: FAILED: ${errorText(e)}`);
      failures.push({ kernel: name, stage: 'train', error: errorText(e) });
    }
  }

  if (opts.json) {
    const path = resolve(opts.json);
    mkdirSync(dirname(path), { recursive: true });
    // The training-step bench's result: the whole file when it ran alone, else after the records.
    const extra = mains.map((n) => (loaded.get(n) as { result: () => unknown }).result()).filter((r) => r != null);
    const doc = records.length === 0 && extra.length === 1 ? extra[0] : [...records, ...extra];
    writeFileSync(path, `${JSON.stringify(doc, null, 2)}\n`);
    out('');
    const n = records.length + extra.length;
    out(`wrote ${n} record${n === 1 ? '' : 's'} to ${path}`);
  }
  if (failures.length > 0) {
    out('');
    out(`${failures.length} FAILURE${failures.length === 1 ? '' : 'S'}:`);
    for (const f of failures)
      out(
        `  ${f.kernel}${f.variant !== undefined ? ` ${f.variant}` : ''}${f.shape ? ` ${fmtShape(f.shape)}` : ''} (${f.stage}): ${f.error.split('\n')[0]}`,
      );
  }
  return { records, failures, ceilings, timing: method };
}

function makeRecord(
  c: BenchCase,
  moduleName: string,
  t: Timing,
  naiveMs: number | null,
  ceilings: Ceilings | null,
  meta: { adapter: string; rt: Runtime; date: string; commit: string | null; dirty: boolean | null; quick: boolean },
): BenchRecord {
  const seconds = t.medianMs / 1e3;
  const gflops = c.flops !== undefined ? c.flops / seconds / 1e9 : undefined;
  const gbps = c.bytes !== undefined ? c.bytes / seconds / 1e9 : undefined;
  let pct: number | null = null;
  if (ceilings && gflops !== undefined) pct = (100 * gflops) / ceilings.gflops;
  else if (ceilings && gbps !== undefined) pct = (100 * gbps) / ceilings.gbps;
  const rec: BenchRecord = {
    kernel: c.kernel || moduleName,
    variant: c.variant,
    shape: c.shape,
    ms: t.medianMs,
    minMs: t.minMs,
    runs: t.samplesMs.length,
    samplesMs: t.samplesMs,
    naiveMs,
    speedup: naiveMs !== null ? naiveMs / t.medianMs : null,
    pctOfCeiling: pct,
    ceiling: ceilings ? { gflops: ceilings.gflops, gbps: ceilings.gbps } : null,
    timing: t.method,
    adapter: meta.adapter,
    adapterVendor: meta.rt.info.vendor,
    adapterArchitecture: meta.rt.info.architecture,
    software: meta.rt.isSoftware,
    date: meta.date,
    commit: meta.commit,
    dirty: meta.dirty,
    quick: meta.quick,
  };
  if (t.note) rec.timingNote = t.note;
  if (c.flops !== undefined) rec.flops = c.flops;
  if (c.bytes !== undefined) rec.bytes = c.bytes;
  if (gflops !== undefined) rec.gflops = gflops;
  if (gbps !== undefined) rec.gbps = gbps;
  return rec;
}
