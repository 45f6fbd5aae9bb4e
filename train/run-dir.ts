// The run folder: a fresh run or the resume of a stopped one (its saved config wins, and only
// keys that do not change the trajectory may differ), config.json, the outputs a run appends to
// (metrics.jsonl, samples.txt, loss.svg), summary.json, all written atomically or appended.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { CheckpointError, listCheckpoints, loadLatestCheckpoint, type LoadedCheckpoint } from '../model/checkpoint.ts';
import { countParams, flopsPerToken, type GPTConfig } from '../model/config.ts';
import { CliError } from './cli-error.ts';
import { TRAIN_SCHEMA, type TrainConfig } from './config.ts';
import { METRICS_FILE, MetricsLog, readMetrics } from './metrics.ts';
import { writeLossCurve, type PlotOptions } from './plot.ts';
import { TOKENIZER_FILE } from './tokenizers/index.ts';
import type { TrainState } from './loop.ts';
import type { DataSet } from './objectives/pretrain.ts';
import { logRun } from './report.ts';

/** Keys of one session only: a resumed run takes them from its own command line. */
const TRANSIENT_KEYS: readonly (keyof TrainConfig)[] = ['progress', 'gpuWait'];

/** Keys that may change when a run is resumed (they do not change the trajectory, or extend it on purpose). */
const RESUMABLE_KEYS: readonly (keyof TrainConfig)[] = [
  'resume',
  'out',
  'data',
  'steps',
  'maxMinutes',
  'evalEvery',
  'sampleTokens',
  'samplePrompt',
  'sampleTemperature',
  'sampleTopK',
  'keepCheckpoints',
  'progress',
  'gpuWait',
  'maxBadSteps',
  // These change the trajectory from the resumed step on, on purpose (after a divergence, a lower
  // learning rate or a tighter clip); each change is recorded in config.json's `resumes`.
  'lr',
  'minLr',
  'gradClip',
];

/** One resume that changed keys: at which step, and each key's [before, after]. */
export interface ResumeRecord {
  step: number;
  changed: Record<string, [unknown, unknown]>;
}

export type KeySources = Partial<Record<keyof TrainConfig, 'default' | 'file' | 'cli'>>;

export interface ResolvedRun {
  cfg: TrainConfig;
  runDir: string;
  /** The checkpoint to resume from (null for a fresh run). */
  ckpt: (LoadedCheckpoint & { skipped: { path: string; error: string }[] }) | null;
  /** The resumes so far that changed keys (config.json's `resumes`), this one last. */
  resumes: ResumeRecord[];
}

export function atomicWrite(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** Errors of a full, read-only or vanished disk: the user's to fix, so one line naming the file. */
const DISK_ERRORS: Record<string, string> = {
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  EIO: 'input/output error',
};

/** Runs `fn` (which writes `file`); a disk error becomes a CliError naming the file. */
export function namingFile<T>(file: string, runDir: string, fn: () => T): T {
  const rethrow = (e: unknown): never => {
    const code = (e as NodeJS.ErrnoException)?.code;
    if (code && code in DISK_ERRORS)
      throw new CliError(
        `cannot write ${file}: ${DISK_ERRORS[code]} (${code}). The last checkpoint is intact: make room, then --resume ${runDir}`,
        { cause: e },
      );
    throw e;
  };
  try {
    const r = fn();
    return r instanceof Promise ? (r.catch(rethrow) as T) : r;
  } catch (e) {
    return rethrow(e);
  }
}

/** A fresh run (the folder must not hold one yet) or the resume of `cfgIn.resume`. */
export function resolveRun(cfgIn: TrainConfig, sources: KeySources | undefined): ResolvedRun {
  if (cfgIn.resume !== null) return resolveResume(cfgIn, sources);
  if (cfgIn.data === null)
    throw new CliError(
      '--data is required: the folder written by `webgpu-gpt prepare` (see webgpu-gpt pretrain --help)',
    );
  if (cfgIn.out === null)
    throw new CliError('--out is required: the run folder to write (see webgpu-gpt pretrain --help)');
  const runDir = resolve(cfgIn.out);
  if (runDir === resolve(cfgIn.data))
    throw new CliError(`--out ${cfgIn.out} is the data folder: choose another folder for the run`);
  if (existsSync(runDir) && !statSync(runDir).isDirectory())
    throw new CliError(`--out ${cfgIn.out}: exists and is not a folder`);
  if (listCheckpoints(join(runDir, 'checkpoints')).length > 0) {
    throw new CliError(
      `--out ${cfgIn.out} already holds a run (checkpoints/): continue it with --resume ${cfgIn.out}, or choose another folder`,
    );
  }
  return { cfg: { ...cfgIn }, runDir, ckpt: null, resumes: [] };
}

function resolveResume(cfgIn: TrainConfig, sources: KeySources | undefined): ResolvedRun {
  const runDir = resolve(cfgIn.resume!);
  const saved = join(runDir, 'config.json');
  if (!existsSync(runDir)) throw new CliError(`--resume ${cfgIn.resume}: no such run folder`);
  const hasCkpts = listCheckpoints(join(runDir, 'checkpoints')).length > 0;
  if (!existsSync(saved) && !hasCkpts)
    throw new CliError(`--resume ${cfgIn.resume}: no config.json (not a run folder of \`webgpu-gpt pretrain\`)`);
  // A missing config.json is rebuilt from the checkpoint (which carries the config); a corrupt
  // one is the user's to look at.
  const savedRun = existsSync(saved) ? readRunConfig(saved) : null;
  let ckpt: NonNullable<ResolvedRun['ckpt']>;
  try {
    ckpt = loadLatestCheckpoint(join(runDir, 'checkpoints'));
  } catch (e) {
    if (e instanceof CheckpointError) throw new CliError(`--resume ${cfgIn.resume}: ${e.message}`);
    throw e;
  }
  const fromCkpt = (ckpt.meta.extra as TrainState).trainConfig ?? savedRun?.train;
  if (!fromCkpt) throw new CliError(`--resume ${cfgIn.resume}: no config.json and the checkpoint carries no config`);
  if (sources?.steps !== undefined && sources.steps !== 'default' && cfgIn.steps <= ckpt.meta.step)
    throw new CliError(
      `--steps ${cfgIn.steps}: the run has already taken ${ckpt.meta.step} steps; give more to extend it (--steps is the total, not the steps to add)`,
    );
  // Only the schema's keys (older runs saved test hooks that are options now).
  const cfg = Object.fromEntries(Object.keys(TRAIN_SCHEMA).map((k) => [k, fromCkpt[k as keyof TrainConfig]]));
  const out = cfg as unknown as TrainConfig;
  // The display never carries over from the stopped session.
  for (const k of TRANSIENT_KEYS) cfg[k] = cfgIn[k];
  const changed: ResumeRecord['changed'] = {};
  for (const k of Object.keys(cfgIn) as (keyof TrainConfig)[]) {
    if (sources?.[k] !== 'cli' && sources?.[k] !== 'file') continue;
    if (RESUMABLE_KEYS.includes(k)) {
      if (!['resume', 'out', 'data', ...TRANSIENT_KEYS].includes(k) && cfgIn[k] !== fromCkpt[k])
        changed[k] = [fromCkpt[k], cfgIn[k]];
      cfg[k] = cfgIn[k];
    } else if (cfgIn[k] !== fromCkpt[k]) {
      throw new CliError(
        `--${k} cannot change when resuming (the run was trained with ${JSON.stringify(fromCkpt[k])}); only ${RESUMABLE_KEYS.filter((x) => x !== 'resume').join(', ')} can`,
      );
    }
  }
  out.resume = runDir;
  out.out = runDir;
  if (out.data === null)
    throw new CliError(`--resume ${cfgIn.resume}: the saved config names no data folder; pass --data`);
  const resumes = [...(savedRun?.resumes ?? [])];
  if (Object.keys(changed).length) resumes.push({ step: ckpt.meta.step, changed });
  return { cfg: out, runDir, ckpt, resumes };
}

/** A run's config.json, or a one-line error naming it. */
function readRunConfig(path: string): RunConfig {
  let j: RunConfig;
  try {
    j = JSON.parse(readFileSync(path, 'utf8')) as RunConfig;
  } catch (e) {
    throw new CliError(
      `${path} is corrupt (${(e as Error).message}): delete it to rebuild it from the newest checkpoint, or restore it`,
    );
  }
  if (typeof j?.train !== 'object' || j.train === null)
    throw new CliError(`${path} is corrupt (no "train" section): delete it to rebuild it from the newest checkpoint`);
  return j;
}

/** The counters of a run that has not taken a step. */
export function freshState(cfg: TrainConfig): TrainState {
  const zero = { skippedSteps: 0, badStreak: 0, tokensSeen: 0, elapsedSec: 0, trainSec: 0, evalSec: 0 };
  return { trainConfig: cfg, totalSteps: cfg.steps, ...zero, bestValLoss: null, lastValLoss: null };
}

/** A fresh run's counters, or the checkpoint's; --steps given on a resume sets the schedule's length. */
export function initialState({ cfg, ckpt }: ResolvedRun, sources: KeySources | undefined): TrainState {
  if (!ckpt) return freshState(cfg);
  const state: TrainState = { ...(ckpt.meta.extra as TrainState), trainConfig: cfg };
  if (sources?.steps === 'cli' || sources?.steps === 'file') state.totalSteps = cfg.steps;
  if (state.totalSteps <= ckpt.meta.step && cfg.steps > ckpt.meta.step) state.totalSteps = cfg.steps;
  return state;
}

/** config.json: the training keys, the model and what derives from them, the adapter. */
export interface RunConfig {
  train: TrainConfig;
  model: GPTConfig;
  derived: {
    accumSteps: number;
    tokensPerStep: number;
    params: number;
    flopsPerToken: number;
    tokenizer: string;
    unigramLoss: number | null;
  };
  adapter: string;
  /** Resumes that changed keys (--lr, --steps, ...): at which step, from what to what. */
  resumes?: ResumeRecord[];
}

/**
 * Starts writing the run folder: checkpoints/, the data's tokenizer, config.json with everything
 * resolved (its `train` is the config the run goes on with), the appended outputs; prints the
 * opening lines.
 */
export function openRunFolder(
  run: ResolvedRun,
  o: { model: GPTConfig; data: DataSet; accum: number; adapter: string },
  log: (line: string) => void,
): { cfg: TrainConfig; files: RunFiles } {
  const { runDir, ckpt } = run;
  const { model, data, accum } = o;
  mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
  // A resumed run is not finished until it finishes again (train-default keeps finished runs).
  if (ckpt) rmSync(join(runDir, 'summary.json'), { force: true });
  copyFileSync(join(data.dir, TOKENIZER_FILE), join(runDir, TOKENIZER_FILE));
  const T = model.blockSize;
  const resolved: RunConfig = {
    train: { ...run.cfg, data: data.dir, out: runDir },
    model,
    derived: {
      accumSteps: accum,
      tokensPerStep: accum * run.cfg.batchSize * T,
      params: countParams(model),
      flopsPerToken: flopsPerToken(model, T),
      tokenizer: data.tokenizer.id,
      unigramLoss: data.unigramLoss,
    },
    adapter: o.adapter,
    ...(run.resumes.length ? { resumes: run.resumes } : {}),
  };
  const u = data.unigramLoss;
  const files = new RunFiles(runDir, ckpt?.meta.step ?? 0, !ckpt, {
    title: `${model.nLayer}x${model.nEmbd} GPT on ${data.tokenizer.id}`,
    baseline: u !== null ? { value: u, label: `unigram ${u.toFixed(3)}` } : null,
  });
  files.writeJson('config.json', resolved);
  logRun(log, resolved, data, runDir);
  return { cfg: resolved.train, files };
}

/** What a run appends to as it goes, in its folder. */
export class RunFiles {
  readonly metrics: Pick<MetricsLog, 'append'>;
  private readonly samples: string;

  /** Opens the metrics at `step + 1` (a resume drops later lines); a fresh run starts samples.txt empty. */
  constructor(
    readonly dir: string,
    step: number,
    fresh: boolean,
    private readonly plotOptions: PlotOptions,
  ) {
    const metrics = new MetricsLog(join(dir, METRICS_FILE));
    this.metrics = { append: (m) => this.guard(metrics.path, () => metrics.append(m)) };
    this.guard(metrics.path, () => metrics.open(step + 1));
    this.samples = join(dir, 'samples.txt');
    this.guard(this.samples, () => (fresh ? writeFileSync(this.samples, '') : truncateSamples(this.samples, step)));
  }

  appendSample(step: number, valLoss: number, sample: string): void {
    const entry = `--- step ${step}, val loss ${valLoss.toFixed(4)} ---\n${sample}\n\n`;
    this.guard(this.samples, () => writeFileSync(this.samples, entry, { flag: 'a' }));
  }

  /** Redraws loss.svg from metrics.jsonl. */
  plot(): void {
    const svg = join(this.dir, 'loss.svg');
    this.guard(svg, () => writeLossCurve(svg, readMetrics(join(this.dir, METRICS_FILE)), this.plotOptions));
  }

  writeJson(name: string, value: unknown): void {
    const file = join(this.dir, name);
    this.guard(file, () => atomicWrite(file, JSON.stringify(value, null, 2) + '\n'));
  }

  private guard<T>(file: string, fn: () => T): T {
    return namingFile(file, this.dir, fn);
  }
}

/** Keeps the samples of steps up to `step` (a resume drops those of abandoned later steps). */
function truncateSamples(path: string, step: number): void {
  if (!existsSync(path)) return;
  const entries = readFileSync(path, 'utf8').split(/(?=^--- step \d+, )/m);
  const kept = entries.filter((e) => {
    const m = /^--- step (\d+), /.exec(e);
    return m === null ? e.trim() === '' : Number(m[1]) <= step;
  });
  writeFileSync(path, kept.join(''));
}

/**
 * Removes what killed sessions left: `<file>.tmp-<pid>` of atomic writes and `.tmp-ckpt-*` of
 * checkpoint writes and pruning. The caller holds the run's lock, so no writer is alive.
 */
export function cleanLeftovers(runDir: string): void {
  if (!existsSync(runDir)) return;
  for (const f of readdirSync(runDir)) if (/\.tmp-\d+$/.test(f)) rmSync(join(runDir, f), { force: true });
  const ckpts = join(runDir, 'checkpoints');
  if (!existsSync(ckpts)) return;
  for (const d of readdirSync(ckpts))
    if (d.startsWith('.tmp-ckpt-')) rmSync(join(ckpts, d), { recursive: true, force: true });
}

/** Deletes a previous run's outputs from a run folder (the default job's fresh start). */
export function clearRun(runDir: string): void {
  for (const f of ['config.json', METRICS_FILE, 'loss.svg', 'summary.json', 'samples.txt', TOKENIZER_FILE])
    rmSync(join(runDir, f), { force: true });
  rmSync(join(runDir, 'checkpoints'), { recursive: true, force: true });
}
