// The fine-tuning objectives (train/objectives/sft.ts, classify.ts): the SFT loss counts only the
// target tokens (the prompt's positions contribute nothing to the gradient), and a classifier
// with its head trains above chance through the one training loop (train/loop.ts), its batches
// coming from a resumable supplier.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backward, initEngine, Rng, tidy } from '../../engine/index.ts';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { assertClose } from '../../kernels/check.ts';
import { resolveConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { AdamW } from '../../model/optimizer.ts';
import { TimeBudget } from '../../train/budget.ts';
import { trainLoop, type TrainState } from '../../train/loop.ts';
import { TrainProgress } from '../../train/metrics.ts';
import { ClassifyObjective, lmTargets, type ClassifyBatch } from '../../train/objectives/classify.ts';
import {
  countTargets,
  meanTargetLoss,
  sftLoss,
  type BatchSupplier,
  type SftBatch,
} from '../../train/objectives/sft.ts';
import { freshState, RunFiles } from '../../train/run-dir.ts';
import { StopRequest } from '../../train/stop.ts';
import { defaults } from './fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-finetune-'));
beforeAll(async () => {
  await initEngine();
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await destroyRuntime();
});

describe('sft objective', () => {
  const cfg = resolveConfig({ preset: 'tiny', vocabSize: 16, blockSize: 8, nLayer: 1 });
  const B = 2;
  const T = 8;
  const rng = new Rng(3);
  const ids = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
  const next = Int32Array.from({ length: B * T }, (_, i) => ((i + 1) % T === 0 ? -1 : ids[i + 1]!));
  const promptLen = [3, 5]; // row r's first promptLen[r] positions are prompt; row 1's last is padding
  const isPrompt = (i: number) => i % T < promptLen[Math.floor(i / T)]!;
  const keep = (f: (i: number) => boolean) => next.map((t, i) => (f(i) && !(i === B * T - 1) ? t : -1));
  const batch = (targets: Int32Array): SftBatch => ({ ids, targets, B, T });

  async function gradsOf(model: GPT, b: SftBatch): Promise<{ loss: number; grads: Float32Array }> {
    model.params.zeroGrads();
    const loss = tidy(() => {
      const l = sftLoss(model, b, 0);
      backward(l);
      return l;
    });
    const value = await loss.item();
    loss.dispose();
    return { loss: value, grads: await model.params.downloadGrads() };
  }

  it('prompt tokens contribute nothing: the gradient is the all-token gradient minus the prompt part', async () => {
    const model = GPT.create(cfg, { seed: 5 });
    const sft = batch(keep((i) => !isPrompt(i)));
    const prompt = batch(keep(isPrompt));
    const all = batch(keep(() => true));
    const [Nt, Np, Na] = [countTargets(sft), countTargets(prompt), countTargets(all)];
    expect([Nt, Np, Na]).toEqual([6, 8, 14]);
    const g = await gradsOf(model, sft);
    const gp = await gradsOf(model, prompt);
    const ga = await gradsOf(model, all);
    // Mean over targets: Nt·loss_sft = Na·loss_all − Np·loss_prompt, and the same for gradients.
    expect(g.loss * Nt).toBeCloseTo(ga.loss * Na - gp.loss * Np, 4);
    const rest = ga.grads.map((x, i) => (x * Na - gp.grads[i]! * Np) / Nt);
    assertClose(g.grads, rest, 'f32Chain', 'sft gradient = completion part of the full gradient');
    // ... and it is not the full gradient (the test could fail).
    const diff = g.grads.reduce((m, x, i) => Math.max(m, Math.abs(x - ga.grads[i]!)), 0);
    expect(diff).toBeGreaterThan(1e-3);
    // Validation: the same mean over the target tokens, weighted across batches by their counts.
    const mean = await meanTargetLoss(model, [sft, prompt]);
    expect(mean).toBeCloseTo((g.loss * Nt + gp.loss * Np) / (Nt + Np), 4);
    model.dispose();
  });
});

/** Random texts of 2..T tokens (ids 1..V-1, right-padded with 0); the label is the last real token's parity. */
class ParitySupplier implements BatchSupplier<ClassifyBatch> {
  drawn = 0;
  constructor(
    private readonly seed: number,
    private readonly B: number,
    private readonly V: number,
    private readonly maxT: number,
  ) {}

  next(): ClassifyBatch {
    const rng = new Rng(this.seed * 7919 + this.drawn++);
    const { B, V } = this;
    const T = 4 + rng.int(this.maxT - 3); // padded per batch: 4..maxT
    const ids = new Int32Array(B * T);
    const last = new Int32Array(B);
    const labels = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      const len = 2 + rng.int(T - 1);
      for (let t = 0; t < len; t++) ids[b * T + t] = 1 + rng.int(V - 1);
      last[b] = len - 1;
      labels[b] = ids[b * T + len - 1]! % 2;
    }
    return { ids, last, labels, B, T };
  }

  state(): Record<string, unknown> {
    return { drawn: this.drawn };
  }

  restore(s: Record<string, unknown>): void {
    this.drawn = s.drawn as number;
  }
}

describe('classify objective', () => {
  it('lmTargets: next tokens of the real tokens only', () => {
    const b: ClassifyBatch = {
      ids: Int32Array.from([5, 6, 7, 0, 8, 9, 0, 0]),
      last: Int32Array.from([2, 1]),
      labels: Int32Array.from([0, 1]),
      B: 2,
      T: 4,
    };
    expect(Array.from(lmTargets(b))).toEqual([6, 7, -1, -1, 9, -1, -1, -1]);
  });

  it('trains a head above chance through trainLoop (with an auxiliary LM loss), resumably', async () => {
    const V = 16;
    const cfg = { ...defaults(), steps: 40, lr: 1e-2, minLr: 1e-3, warmupSteps: 4, evalEvery: 20, progress: 'off' };
    const model = GPT.create(resolveConfig({ preset: 'tiny', vocabSize: V, blockSize: 8, nLayer: 1, nClasses: 2 }));
    const opt = new AdamW(model.params);
    const valSupplier = new ParitySupplier(99, 16, V, 8);
    const train = new ParitySupplier(1, 8, V, 8);
    const objective = new ClassifyObjective({
      train,
      val: Array.from({ length: 4 }, () => valSupplier.next()),
      nClasses: 2,
      lmWeight: 0.2,
      classNames: ['even', 'odd'],
    });
    expect(objective.baseline!.loss).toBeGreaterThan(0.6); // about ln 2 for balanced parities
    const before = await objective.evaluate(model);
    const state: TrainState = freshState(cfg);
    const lines: string[] = [];
    const res = await trainLoop({
      model,
      opt,
      objective,
      cfg,
      accum: 1,
      state,
      step: 0,
      files: new RunFiles(dir, 0, true, {}),
      budget: new TimeBudget(cfg),
      stop: new StopRequest(() => {}),
      progress: new TrainProgress('off', (l) => lines.push(l)),
      elapsed: () => 1,
      checkpoint: async (step) => `ckpt-${step}`,
      lastCheckpoint: null,
      hooks: {},
    });
    expect(res.status).toBe('finished');
    expect(train.drawn).toBe(40);
    expect(objective.dataState()).toEqual({ train: { drawn: 40 } });
    objective.restoreDataState({ train: { drawn: 3 } });
    expect(train.drawn).toBe(3);
    const after = await objective.evaluate(model);
    expect(after.metrics!.accuracy).toBeGreaterThan(0.8);
    expect(after.metrics!.macroF1).toBeGreaterThan(0.75);
    expect(after.valLoss).toBeLessThan(before.valLoss - 0.2);
    expect(objective.lastReport!.labels).toEqual(['even', 'odd']);
    expect(lines.some((l) => /^step 40\/40: .*\(class prior .*accuracy [01]\.\d{4}, macroF1 /.test(l))).toBe(true);
    opt.dispose();
    model.dispose();
  });
});
