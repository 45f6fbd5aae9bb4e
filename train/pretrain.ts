// Pre-training: wires the parts together. The run folder (fresh or resumed, run-dir.ts) and its
// lock (run-lock.ts), stop handling (stop.ts), the data and the objective (objectives/pretrain.ts),
// the model and AdamW, the time budget (budget.ts), then the loop (loop.ts) and the summary
// (report.ts).
//
// Reproducible: the weights, the batch sampler and every dropout mask derive from `seed`, and a
// checkpoint holds everything that changes (weights, AdamW moments and step, sampler state, step,
// schedule length), so `--resume` continues bit-for-bit like an uninterrupted run.
import { join } from 'node:path';
import { initEngine } from '../engine/index.ts';
import { resolveConfig, countParams, type GPTConfig, type PresetName } from '../model/config.ts';
import { GPT } from '../model/gpt.ts';
import { AdamW } from '../model/optimizer.ts';
import { restoreCheckpoint, saveCheckpoint } from '../model/checkpoint.ts';
import { TimeBudget } from './budget.ts';
import { CliError } from './cli-error.ts';
import { adamwConfig, type TrainConfig } from './config.ts';
import { trainLoop, type LoopHooks } from './loop.ts';
import { progressMode, TrainProgress } from './metrics.ts';
import { batchShape, loadData, PretrainObjective, type DataSet } from './objectives/pretrain.ts';
import {
  cleanLeftovers,
  initialState,
  namingFile,
  openRunFolder,
  resolveRun,
  type KeySources,
  type ResolvedRun,
} from './run-dir.ts';
import { RunLock } from './run-lock.ts';
import { reportRun, summarize, type RunSummary } from './report.ts';
import { STOP_EXIT_STATUS, StopRequest } from './stop.ts';

export type { RunSummary } from './report.ts';

export interface PretrainOptions extends LoopHooks {
  /** Lines for the user (default: stdout). */
  log?: (line: string) => void;
  /** Which keys came from the command line (to refuse changing a resumed run's trajectory). */
  sources?: KeySources;
  /** Stop like Ctrl-C when aborted. */
  signal?: AbortSignal;
  /** Handle SIGINT, SIGTERM and SIGHUP (default true for the CLI, false for tests). */
  handleSigint?: boolean;
}

/** The model shape: the preset, then the explicit keys; the vocabulary comes from the data. */
export function modelConfigFor(cfg: TrainConfig, vocabSize: number): GPTConfig {
  const over: Partial<GPTConfig> = { vocabSize, dropout: cfg.dropout };
  if (cfg.nLayer !== null) over.nLayer = cfg.nLayer;
  if (cfg.nHead !== null) over.nHead = cfg.nHead;
  if (cfg.nEmbd !== null) over.nEmbd = cfg.nEmbd;
  if (cfg.blockSize !== null) over.blockSize = cfg.blockSize;
  try {
    return resolveConfig({ preset: cfg.model as PresetName, ...over });
  } catch (e) {
    throw new CliError((e as Error).message.replace(/^invalid GPT config: /, 'invalid model: '));
  }
}

/** The CLI's exit status for a run: 0 finished, 128 + the signal's number when a signal stopped it. */
export function exitStatus(s: RunSummary): number {
  return s.status === 'stopped' && s.stoppedBy ? (STOP_EXIT_STATUS[s.stoppedBy as 'SIGINT'] ?? 1) : 0;
}

/** Runs pre-training as configured; returns the summary (also written to <out>/summary.json). */
export async function pretrain(cfgIn: TrainConfig, opts: PretrainOptions = {}): Promise<RunSummary> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const t0 = performance.now();
  const run = resolveRun(cfgIn, opts.sources);
  // Signals count from before the lock is taken (a lock file on disk means they are handled): one
  // during start-up (data, device, pipelines) stops the run after its first step, with a
  // checkpoint and the lock released, like one during training.
  const stop = new StopRequest((l) => process.stderr.write(l + '\n')).follow(opts.signal);
  if (opts.handleSigint ?? false) stop.listen();
  let lock: RunLock;
  try {
    lock = RunLock.acquire(run.runDir, log);
  } catch (e) {
    stop.dispose();
    throw e;
  }
  try {
    cleanLeftovers(run.runDir);
    return await pretrainLocked(run, opts, stop, log, t0);
  } finally {
    stop.dispose();
    lock.release();
  }
}

/** pretrain() once the run folder is resolved and locked. */
async function pretrainLocked(
  run: ResolvedRun,
  opts: PretrainOptions,
  stop: StopRequest,
  log: (line: string) => void,
  t0: number,
): Promise<RunSummary> {
  for (const s of run.ckpt?.skipped ?? []) log(`warning: skipped a broken checkpoint: ${s.error}`);
  const { ckpt, runDir } = run;
  const data = loadData(run.cfg.data!);
  const modelCfg = modelConfigFor(run.cfg, data.tokenizer.vocabSize);
  checkResumeData(run, data, modelCfg.vocabSize);
  const { B, T, accum } = batchShape(run.cfg, data, modelCfg);

  const rt = await initEngine();
  const adapter = rt.describe();
  log(`adapter: ${adapter}`);
  if (rt.isSoftware)
    log('note: this is a software adapter (the CPU emulates the GPU): training is slow; a GPU is 10-1000x faster.');
  const state = initialState(run, opts.sources);
  const elapsedBefore = state.elapsedSec;
  const elapsed = (): number => elapsedBefore + (performance.now() - t0) / 1000;

  const c = run.cfg;
  const model = GPT.create(modelCfg, { seed: c.seed, fit: { batch: B, T, training: true } });
  const opt = new AdamW(model.params, adamwConfig(c));
  const objective = new PretrainObjective(data, { B, T, ...c });
  const step = ckpt ? ckpt.meta.step : 0;
  if (ckpt) {
    restoreCheckpoint(ckpt, model, opt);
    objective.restoreDataState(ckpt.meta.data as Record<string, unknown>);
  }

  const { cfg, files } = openRunFolder(run, { model: modelCfg, data, accum, adapter }, log);
  state.trainConfig = cfg;
  if (ckpt) logResume(run, state.totalSteps, log);

  const progress = new TrainProgress(progressMode(cfg.progress), (l) => process.stderr.write(l + '\n'));
  stop.tellVia((l) => progress.message(l));
  const checkpoint = async (at: number): Promise<string> => {
    state.elapsedSec = elapsed();
    const meta = { step: at, tokenizer: { id: data.tokenizer.id, json: data.tokenizer.toJSON() } };
    const full = { ...meta, data: objective.dataState(), extra: { ...state } };
    const dir = join(runDir, 'checkpoints');
    return namingFile(dir, runDir, () =>
      saveCheckpoint(dir, { model, optimizer: opt, meta: full }, { keep: cfg.keepCheckpoints }),
    );
  };
  const budget = new TimeBudget(cfg);
  if (budget.enabled && step < state.totalSteps) await probeEvaluation(budget, objective, model);
  const lastCheckpoint = ckpt?.path ?? null;
  const loop = { model, opt, objective, cfg, accum, state, step, files, budget, stop, progress, elapsed };
  const res = await trainLoop({ ...loop, checkpoint, lastCheckpoint, hooks: opts });

  const totalElapsed = elapsed();
  const summary = summarize(res, state, {
    elapsedSec: totalElapsed,
    unigramLoss: data.unigramLoss,
    adapter,
    software: rt.isSoftware,
    model: modelCfg,
    params: countParams(modelCfg),
    tokenizer: data.tokenizer.id,
    data: data.dir,
  });
  if (summary.status === 'stopped' && stop.signal) summary.stoppedBy = stop.signal;
  model.dispose();
  opt.dispose();
  if (summary.status === 'finished') files.writeJson('summary.json', summary);
  reportRun(summary, { totalSteps: state.totalSteps, elapsedSec: totalElapsed, runDir }, log);
  return summary;
}

/** A resumed run must read data of its own tokenizer: the same id, not only the same size. */
function checkResumeData(run: ResolvedRun, data: DataSet, vocabSize: number): void {
  if (!run.ckpt) return;
  if (run.ckpt.meta.config.vocabSize !== vocabSize)
    throw new CliError(
      `--resume: the checkpoint's vocabulary (${run.ckpt.meta.config.vocabSize}) differs from the data's (${vocabSize})`,
    );
  const id = (run.ckpt.meta.tokenizer as { id?: unknown } | null | undefined)?.id;
  if (typeof id === 'string' && id !== data.tokenizer.id)
    throw new CliError(
      `--resume: the run was trained with tokenizer ${id}, but ${data.dir} is tokenized with ${data.tokenizer.id} (prepared again?): resume on the data it was trained on`,
    );
}

/** Where a resume starts, and the keys it changed. */
function logResume(run: ResolvedRun, totalSteps: number, log: (line: string) => void): void {
  const { step } = run.ckpt!.meta;
  log(`resuming ${run.runDir} at step ${step} of ${totalSteps} (${run.ckpt!.path})`);
  const last = run.resumes.at(-1);
  if (last?.step !== step) return;
  const what = Object.entries(last.changed).map(([k, [a, b]]) => `--${k} ${String(a)} -> ${String(b)}`);
  log(`changed on resume: ${what.join(', ')} (recorded in config.json "resumes")`);
}

/**
 * Compiles the evaluation and sampling pipelines before the time budget plans (on a software
 * adapter that takes many seconds), then times a short probe of one evaluation.
 */
async function probeEvaluation(budget: TimeBudget, objective: PretrainObjective, model: GPT): Promise<void> {
  await objective.probeEvalSec(model);
  budget.evalCostSec = (await objective.probeEvalSec(model)) + 0.5;
}
