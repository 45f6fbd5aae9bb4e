// The training loop, for any objective (train/objectives/): nanoGPT's `while True`.
//   learning rate of this step (warmup + cosine, train/schedule.ts)
//   accum micro-batches from the objective → trainStep (model/train-step.ts: forward, backward,
//       global norm, ONE readback of the losses and the norm, AdamW unless non-finite)
//   bookkeeping: tokens, timing, a non-finite step counted (too many in a row stop the run)
//   time budget: plan, re-plan or end the schedule (train/budget.ts)
//   on schedule: evaluate, sample, checkpoint (not amid skipped steps; the last step always)
//   metrics.jsonl, the onStep hook, the progress line
//   a stop request (Ctrl-C, abort): checkpoint and return
// Dropout masks derive from (seed, step·accum + micro), so a resumed run draws the same ones.
import { mixSeed, type GPT } from '../model/gpt.ts';
import type { AdamW } from '../model/optimizer.ts';
import { trainStep, type TrainStepResult } from '../model/train-step.ts';
import type { TimeBudget, Replan } from './budget.ts';
import { CliError } from './cli-error.ts';
import type { TrainConfig } from './config.ts';
import { Ema, formatDuration, type StepMetrics, type TrainProgress } from './metrics.ts';
import type { Objective } from './objectives/objective.ts';
import type { RunFiles } from './run-dir.ts';
import { learningRate } from './schedule.ts';
import type { StopRequest } from './stop.ts';

/** The state besides tensors that a checkpoint carries for an exact resume. */
export interface TrainState {
  trainConfig: TrainConfig;
  totalSteps: number;
  skippedSteps: number;
  badStreak: number;
  tokensSeen: number;
  elapsedSec: number;
  trainSec: number;
  evalSec: number;
  bestValLoss: number | null;
  lastValLoss: number | null;
}

/** Hooks for tests and callers (never config keys). */
export interface LoopHooks {
  /** Called after every step with what metrics.jsonl records. */
  onStep?: (m: StepMetrics) => void;
  /** Stop (as on Ctrl-C) after this many steps of this session. */
  stopAfterSteps?: number;
  /** Fault injection: runs after the backward passes of step `step` (1-based), before the norm. */
  afterBackward?: (step: number, model: GPT) => void;
}

export interface TrainLoop<M> {
  model: GPT;
  opt: AdamW;
  objective: Objective<M>;
  cfg: TrainConfig;
  /** Micro-batches per optimizer step. */
  accum: number;
  /** Mutated as the run goes; checkpoints save it. */
  state: TrainState;
  /** Steps already taken (a resumed run's checkpoint step). */
  step: number;
  files: RunFiles;
  budget: TimeBudget;
  stop: StopRequest;
  progress: TrainProgress;
  /** Seconds since the run started (all sessions). */
  elapsed: () => number;
  /** Writes a checkpoint after `step` steps; returns its folder. */
  checkpoint: (step: number) => Promise<string>;
  /** The newest checkpoint so far (a resumed run's), or null. */
  lastCheckpoint: string | null;
  hooks: LoopHooks;
}

export interface LoopResult {
  status: 'finished' | 'stopped';
  step: number;
  lastLoss: number | null;
  lastCheckpoint: string | null;
  lastSample: string | null;
}

export async function trainLoop<M>(r: TrainLoop<M>): Promise<LoopResult> {
  const { cfg, state, objective, progress, budget } = r;
  const res: LoopResult = {
    status: 'finished',
    step: r.step,
    lastLoss: null,
    lastCheckpoint: r.lastCheckpoint,
    lastSample: null,
  };
  const timer = new StepTimer();
  const stopAfter = r.hooks.stopAfterSteps ?? 0;
  let sessionSteps = 0;
  progress.start(res.step, state.totalSteps);
  try {
    while (res.step < state.totalSteps) {
      const step = res.step;
      const sched = { lr: cfg.lr, minLr: cfg.minLr, warmupSteps: cfg.warmupSteps, totalSteps: state.totalSteps };
      const lr = learningRate(step, sched);
      const micro = Array.from({ length: r.accum }, () => objective.next());
      const stats = await runStep(r, micro, lr, step);
      res.step = step + 1;
      sessionSteps++;
      const tokens = micro.reduce((n, mb) => n + objective.tokens(mb), 0);
      state.tokensSeen += tokens;
      const { dt, tps } = timer.lap(tokens, sessionSteps);
      state.trainSec += dt;
      if (sessionSteps > 2) budget.observeStep(dt);
      const m: StepMetrics = {
        step: res.step,
        loss: stats.loss,
        lr,
        gradNorm: stats.gradNorm,
        tokensPerSec: Math.round(tps),
      };
      if (stats.skipped) countSkipped(r, res, m, stats);
      else {
        state.badStreak = 0;
        res.lastLoss = stats.loss;
      }
      replan(r, budget.afterStep(res.step, sessionSteps, r.elapsed(), state.totalSteps));

      const evalNow = (cfg.evalEvery > 0 && res.step % cfg.evalEvery === 0) || res.step === state.totalSteps;
      const stopNow = r.stop.requested || (stopAfter > 0 && sessionSteps >= stopAfter);
      // Evaluate (and checkpoint) on schedule, but not in the middle of a stretch of skipped
      // steps (the last good checkpoint stays the newest); the last step always evaluates.
      if (evalNow && ((!stopNow && !stats.skipped) || res.step === state.totalSteps)) {
        await evaluateAndCheckpoint(r, res, m, stats.loss, tps);
        timer.reset();
      } else {
        m.elapsed = Number(r.elapsed().toFixed(2));
        r.files.metrics.append(m);
      }
      r.hooks.onStep?.(m);
      const eta = Math.min((state.totalSteps - res.step) * timer.stepSec(dt), budget.left(r.elapsed()));
      progress.update({
        step: res.step,
        totalSteps: state.totalSteps,
        loss: stats.loss,
        tokensPerSec: tps,
        etaSec: eta,
        lr,
        valLoss: m.valLoss,
      });

      if (stopNow && res.step < state.totalSteps) {
        res.status = 'stopped';
        if (state.badStreak === 0 || res.lastCheckpoint === null) res.lastCheckpoint = await r.checkpoint(res.step);
        r.files.plot();
        break;
      }
    }
  } finally {
    progress.stop();
  }
  return res;
}

/** The objective's micro-batches through the one training step (non-finite steps skipped). */
function runStep<M>(r: TrainLoop<M>, micro: M[], lr: number, step: number): Promise<TrainStepResult> {
  const fault = r.hooks.afterBackward;
  return trainStep(r.model, r.opt, micro, {
    lr,
    loss: r.objective.loss,
    dropoutSeed: (k) => mixSeed(r.cfg.seed, step * r.accum + k),
    skipNonFinite: true,
    wait: r.cfg.gpuWait === 'sleep' ? 'sleep' : 'spin',
    afterBackward: fault && (() => fault(step + 1, r.model)),
  });
}

/** A skipped step: counted, reported; too many in a row end the run with the last good checkpoint intact. */
function countSkipped<M>(r: TrainLoop<M>, res: LoopResult, m: StepMetrics, stats: TrainStepResult): void {
  const { state } = r;
  state.skippedSteps++;
  state.badStreak++;
  m.skipped = true;
  r.progress.message(
    `step ${m.step}: non-finite ${Number.isFinite(stats.loss) ? 'gradient norm' : 'loss'} (loss ${stats.loss}, grad norm ${stats.gradNorm}): step skipped (${state.badStreak} in a row, ${state.skippedSteps} in all)`,
  );
  if (state.badStreak < r.cfg.maxBadSteps) return;
  m.elapsed = Number(r.elapsed().toFixed(2));
  r.files.metrics.append(m);
  const ckpt = res.lastCheckpoint;
  throw new CliError(
    `training stopped: ${state.badStreak} steps in a row had a non-finite loss or gradient norm (at step ${m.step}). ` +
      `The last good checkpoint is intact${ckpt ? ` (${ckpt})` : ' (none was written yet)'}; ` +
      `continue with a lower learning rate: --resume ${r.files.dir} --lr ${r.cfg.lr / 4} (or a tighter --gradClip, now ${r.cfg.gradClip}).`,
  );
}

function replan<M>(r: TrainLoop<M>, p: Replan): void {
  r.state.totalSteps = p.totalSteps;
  for (const n of p.notes) r.progress.message(n);
}

/** The periodic evaluation: validation loss, sample, metrics line, loss plot, checkpoint, budget re-plan. */
async function evaluateAndCheckpoint<M>(
  r: TrainLoop<M>,
  res: LoopResult,
  m: StepMetrics,
  trainLoss: number,
  tps: number,
): Promise<void> {
  const { state, objective } = r;
  const say = (l: string): void => r.progress.message(l);
  const te = performance.now();
  const ev = await objective.evaluate(r.model, res.step);
  state.evalSec += (performance.now() - te) / 1000;
  if (ev.sample !== null) res.lastSample = ev.sample;
  m.valLoss = ev.valLoss;
  m.valPerplexity = Math.exp(ev.valLoss);
  state.lastValLoss = ev.valLoss;
  if (state.bestValLoss === null || ev.valLoss < state.bestValLoss) state.bestValLoss = ev.valLoss;
  say(
    `step ${res.step}/${state.totalSteps}: train loss ${trainLoss.toFixed(4)}, val loss ${ev.valLoss.toFixed(4)}, perplexity ${Math.exp(ev.valLoss).toFixed(2)}${baselineGap(objective.baseline, ev.valLoss)}${formatTaskMetrics(ev.metrics)}, ${Math.round(tps)} tok/s, ${formatDuration(r.elapsed())} elapsed`,
  );
  if (ev.sample !== null) {
    say(`  sample: ${JSON.stringify(ev.sample.length > 400 ? ev.sample.slice(0, 400) + '…' : ev.sample)}`);
    r.files.appendSample(res.step, ev.valLoss, ev.sample);
  }
  m.elapsed = Number(r.elapsed().toFixed(2));
  r.files.metrics.append(m);
  r.files.plot();
  if (state.badStreak === 0) res.lastCheckpoint = await r.checkpoint(res.step);
  replan(r, r.budget.afterEval(res.step, r.elapsed(), state.totalSteps, (performance.now() - te) / 1000));
}

function baselineGap(b: Objective<unknown>['baseline'], valLoss: number): string {
  if (b === null) return '';
  const diff = b.loss - valLoss;
  return ` (${b.name} ${b.loss.toFixed(3)}: ${Math.abs(diff).toFixed(3)} ${diff >= 0 ? 'below' : 'above'})`;
}

function formatTaskMetrics(metrics: Record<string, number> | undefined): string {
  return Object.entries(metrics ?? {})
    .map(([k, v]) => `, ${k} ${v.toFixed(4)}`)
    .join('');
}

/** Step times and a smoothed tokens/s; the first steps of a session compile pipelines and stay out of the average. */
class StepTimer {
  private t = performance.now();
  private readonly ema = new Ema(0.9);

  lap(tokens: number, sessionSteps: number): { dt: number; tps: number } {
    const now = performance.now();
    const dt = (now - this.t) / 1000;
    this.t = now;
    if (sessionSteps > 2) this.ema.push(dt);
    return { dt, tps: sessionSteps > 2 ? tokens / this.ema.value : tokens / dt };
  }

  /** Restarts the clock (after an evaluation, which is not step time). */
  reset(): void {
    this.t = performance.now();
  }

  /** Smoothed seconds per step, or `fallback` before there is one. */
  stepSec(fallback: number): number {
    return Number.isFinite(this.ema.value) ? this.ema.value : fallback;
  }
}
