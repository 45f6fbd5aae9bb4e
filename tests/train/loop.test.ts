// The training loop with an objective that is not pre-training (an SFT-like one: fixed sequences
// whose first half of targets is masked with the ignore index, a task metric in its evaluation):
// it plugs into train/loop.ts without a copy of the loop, and the loop asks it for everything.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initEngine } from '../../engine/index.ts';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { resolveConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { AdamW } from '../../model/optimizer.ts';
import { tokenBatchLoss, type TokenBatch } from '../../model/train-step.ts';
import { TimeBudget } from '../../train/budget.ts';
import { evaluateBatches } from '../../train/evaluate.ts';
import { trainLoop, type TrainState } from '../../train/loop.ts';
import { readMetrics, TrainProgress } from '../../train/metrics.ts';
import type { Evaluation, Objective } from '../../train/objectives/objective.ts';
import { freshState, RunFiles } from '../../train/run-dir.ts';
import { StopRequest } from '../../train/stop.ts';
import { defaults } from './fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-loop-'));
beforeAll(async () => {
  await initEngine();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await destroyRuntime();
});

const B = 2;
const T = 8;
const V = 16;

/** The same counting sequences every draw; the targets of the first T/2 positions are masked (the "prompt"). */
class MaskedObjective implements Objective<TokenBatch> {
  readonly loss = tokenBatchLoss(B, T);
  readonly baseline = { loss: Math.log(V), name: 'uniform' };
  drawn = 0;
  evaluations: number[] = [];

  next(): TokenBatch {
    const inp = new Int32Array(B * T);
    const tgt = new Int32Array(B * T);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) {
        const start = 3 * b;
        inp[b * T + t] = (start + t) % V;
        tgt[b * T + t] = t < T / 2 ? -1 : (start + t + 1) % V;
      }
    this.drawn++;
    return { inp, tgt };
  }

  tokens(): number {
    return B * (T / 2);
  }

  async evaluate(model: GPT, step: number): Promise<Evaluation> {
    this.evaluations.push(step);
    const saved = this.drawn;
    const batch = { ...this.next(), rows: B };
    this.drawn = saved;
    const valLoss = await evaluateBatches(model, [batch], B, T);
    return { valLoss, sample: null, metrics: { accuracy: 0.5 } };
  }

  async probeEvalSec(): Promise<number> {
    return 0;
  }

  dataState(): Record<string, unknown> {
    return { drawn: this.drawn };
  }

  restoreDataState(s: Record<string, unknown>): void {
    this.drawn = s.drawn as number;
  }
}

describe('trainLoop', () => {
  it('trains any objective: its batches, its loss, its evaluation and data state', async () => {
    const cfg = { ...defaults(), steps: 12, lr: 1e-2, minLr: 1e-3, warmupSteps: 2, evalEvery: 6, progress: 'off' };
    const model = GPT.create(resolveConfig({ preset: 'tiny', vocabSize: V, blockSize: T, nLayer: 1, nEmbd: 16 }));
    const opt = new AdamW(model.params);
    const objective = new MaskedObjective();
    const state: TrainState = freshState(cfg);
    const checkpoints: { step: number; data: Record<string, unknown> }[] = [];
    const lines: string[] = [];
    const progress = new TrainProgress('off', (l) => lines.push(l));
    const res = await trainLoop({
      model,
      opt,
      objective,
      cfg,
      accum: 2,
      state,
      step: 0,
      files: new RunFiles(dir, 0, true, {}),
      budget: new TimeBudget(cfg),
      stop: new StopRequest(() => {}),
      progress,
      elapsed: () => 1,
      checkpoint: async (step) => {
        checkpoints.push({ step, data: objective.dataState() });
        return `ckpt-${step}`;
      },
      lastCheckpoint: null,
      hooks: {},
    });
    expect(res.status).toBe('finished');
    expect(res.step).toBe(12);
    expect(objective.drawn).toBe(24); // accum 2 micro-batches per step
    expect(state.tokensSeen).toBe(12 * 2 * B * (T / 2));
    expect(objective.evaluations).toEqual([6, 12]);
    expect(checkpoints).toEqual([
      { step: 6, data: { drawn: 12 } },
      { step: 12, data: { drawn: 24 } },
    ]);
    expect(res.lastCheckpoint).toBe('ckpt-12');
    expect(lines.some((l) => /^step 6\/12: .*\(uniform 2\.773: .*\), accuracy 0\.5000, /.test(l))).toBe(true);
    const m = readMetrics(join(dir, 'metrics.jsonl'));
    expect(m.map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    // The objective's loss (only the unmasked targets count) is what the steps minimise.
    expect(m[11]!.loss!).toBeLessThan(m[0]!.loss! - 0.5);
    expect(state.lastValLoss).toBe(m[11]!.valLoss);
    opt.dispose();
    model.dispose();
  });
});
