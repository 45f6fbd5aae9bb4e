// Supervised fine-tuning (question answering, completion): the model learns to continue a prompt
// with its target. Micro-batches come already tokenized and padded from a batch supplier (the
// fine-tuning data layer, train/finetune/): ids [B, T], targets [B, T] with the ignore index (-1)
// on prompt and padding positions, so the loss — the model's mean cross-entropy over the
// non-ignored targets — counts only the target tokens. Evaluation: that loss over fixed validation
// batches, plus whatever an optional `score` hook adds (e.g. greedy generation scored by ROUGE).
import { concat, fromArray, noGrad, reshape, tidy, type Tensor } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import type { MicroLoss } from '../../model/train-step.ts';
import type { Evaluation, Objective } from './objective.ts';

/** One padded SFT micro-batch, row-major. */
export interface SftBatch {
  /** i32 [B·T]: prompt, target, end-of-text, then padding. */
  ids: Int32Array;
  /** i32 [B·T]: the next token where it is a target token, else -1 (prompt, padding). */
  targets: Int32Array;
  B: number;
  T: number;
}

/**
 * Where an objective's training batches come from: deterministic from its seed and state, so a
 * checkpoint's `dataState` resumes the same sequence of batches.
 */
export interface BatchSupplier<Bt> {
  next(): Bt;
  state(): Record<string, unknown>;
  restore(s: Record<string, unknown>): void;
}

/** Extra task metrics and a sample for the evaluation line (e.g. greedy generation scored by ROUGE-L). */
export type ScoreHook = (model: GPT, step: number) => Promise<{ metrics?: Record<string, number>; sample?: string }>;

export interface SftObjectiveOptions {
  train: BatchSupplier<SftBatch>;
  /** Fixed validation batches (their mean loss over target tokens is the validation loss). */
  val: readonly SftBatch[];
  score?: ScoreHook;
  baseline?: { loss: number; name: string } | null;
}

/** Target tokens of a batch: the positions whose target is not ignored. */
export function countTargets(b: { targets: Int32Array }): number {
  let n = 0;
  for (const t of b.targets) if (t !== -1) n++;
  return n;
}

export function checkSftBatch(b: SftBatch, what: string): void {
  const n = b.B * b.T;
  if (!(b.B >= 1 && b.T >= 1) || b.ids.length !== n || b.targets.length !== n)
    throw new Error(
      `${what}: ids (${b.ids.length}) and targets (${b.targets.length}) must both hold B·T = ${b.B}·${b.T} tokens`,
    );
}

/** Mean cross-entropy over the non-ignored targets (a batch without any is NaN: the step is skipped). */
export const sftLoss: MicroLoss<SftBatch> = (model, b, dropoutSeed) => {
  checkSftBatch(b, 'sft batch');
  const ids = fromArray(b.ids, [b.B, b.T], 'i32');
  const targets = fromArray(b.targets, [b.B, b.T], 'i32');
  return model.forward(ids, targets, { dropoutSeed, ignoreIndex: -1 }).loss!;
};

/**
 * Mean loss over the target tokens of fixed batches (eval mode, no tape, one readback): each
 * batch's mean weighted by its count of target tokens. Batches without targets do not count.
 */
export async function meanTargetLoss(model: GPT, batches: readonly SftBatch[]): Promise<number> {
  const used = batches.filter((b) => countTargets(b) > 0);
  if (used.length === 0) return NaN;
  const wasTraining = model.training;
  model.eval();
  const losses: Tensor[] = [];
  try {
    for (const b of used) losses.push(tidy(() => noGrad(() => reshape(sftLoss(model, b, 0), [1]))));
    const all = tidy(() => concat(losses, 0));
    const vals = await all.data();
    all.dispose();
    let sum = 0;
    let w = 0;
    used.forEach((b, i) => {
      const n = countTargets(b);
      sum += vals[i]! * n;
      w += n;
    });
    return sum / w;
  } finally {
    for (const l of losses) l.dispose();
    model.training = wasTraining;
  }
}

export class SftObjective implements Objective<SftBatch> {
  readonly loss = sftLoss;
  readonly baseline: { loss: number; name: string } | null;

  constructor(private readonly o: SftObjectiveOptions) {
    if (o.val.length === 0) throw new Error('sft: no validation batches');
    o.val.forEach((b, i) => checkSftBatch(b, `sft validation batch ${i}`));
    this.baseline = o.baseline ?? null;
  }

  next(): SftBatch {
    return this.o.train.next();
  }

  /** Tokens the model runs on (prompt, target and padding alike), as pre-training counts them. */
  tokens(b: SftBatch): number {
    return b.B * b.T;
  }

  async evaluate(model: GPT, step: number): Promise<Evaluation> {
    const valLoss = await meanTargetLoss(model, this.o.val);
    if (!this.o.score) return { valLoss, sample: null };
    const s = await this.o.score(model, step);
    return { valLoss, sample: s.sample ?? null, ...(s.metrics ? { metrics: s.metrics } : {}) };
  }

  /** One validation batch, scaled to all of them (a score hook is timed once, whole). */
  async probeEvalSec(model: GPT): Promise<number> {
    const a = performance.now();
    await meanTargetLoss(model, this.o.val.slice(0, 1));
    const b = performance.now();
    if (this.o.score) await this.o.score(model, 0);
    return ((b - a) / 1000) * this.o.val.length + (performance.now() - b) / 1000;
  }

  dataState(): Record<string, unknown> {
    return { train: this.o.train.state() };
  }

  restoreDataState(s: Record<string, unknown>): void {
    this.o.train.restore(s.train as Record<string, unknown>);
  }
}
