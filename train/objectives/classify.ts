// Sequence classification (sentiment and any other labels), GPT-1 style: the classification head
// (config.nClasses, model/gpt.ts `classify`) reads the final hidden state of each sequence's last
// real token — right padding, so the causal attention never sees the pads — and is trained jointly
// with the transformer. Loss: cross-entropy of the head's logits against the labels, plus
// optionally `lmWeight` × the language-modelling loss of the same texts (an auxiliary loss, as in
// GPT-1). Evaluation: the mean head loss over fixed validation batches, accuracy and macro-F1
// (train/eval/classification.ts); the whole report (per class, confusion matrix) is kept.
import { add, concat, crossEntropy, fromArray, mulScalar, noGrad, tidy, type Tensor } from '../../engine/index.ts';
import type { GPT } from '../../model/gpt.ts';
import type { MicroLoss } from '../../model/train-step.ts';
import { classificationReport, type ClassificationReport } from '../eval/classification.ts';
import type { Evaluation, Objective } from './objective.ts';
import type { BatchSupplier } from './sft.ts';

/** One padded classification micro-batch, row-major. */
export interface ClassifyBatch {
  /** i32 [B·T]: each text, then padding. */
  ids: Int32Array;
  /** i32 [B]: the position of each text's last real token. */
  lastPos: Int32Array;
  /** i32 [B]: class indices in [0, nClasses). */
  labels: Int32Array;
  B: number;
  T: number;
}

export interface ClassifyObjectiveOptions {
  train: BatchSupplier<ClassifyBatch>;
  val: readonly ClassifyBatch[];
  nClasses: number;
  /** Weight of the auxiliary language-modelling loss; 0 (default) turns it off. */
  lmWeight?: number;
  /** Class names for the report (index order); default the indices. */
  classNames?: readonly string[];
}

export function checkClassifyBatch(b: ClassifyBatch, nClasses: number, what: string): void {
  if (!(b.B >= 1 && b.T >= 1) || b.ids.length !== b.B * b.T || b.lastPos.length !== b.B || b.labels.length !== b.B)
    throw new Error(
      `${what}: ids (${b.ids.length}), lastPos (${b.lastPos.length}) and labels (${b.labels.length}) must hold B·T, B and B values for B=${b.B}, T=${b.T}`,
    );
  for (let i = 0; i < b.B; i++) {
    if (!(b.lastPos[i]! >= 0 && b.lastPos[i]! < b.T))
      throw new Error(`${what}: lastPos[${i}] = ${b.lastPos[i]} outside [0, ${b.T})`);
    if (!(b.labels[i]! >= 0 && b.labels[i]! < nClasses))
      throw new Error(`${what}: label[${i}] = ${b.labels[i]} outside [0, ${nClasses})`);
  }
}

/** Next-token targets of the real tokens (the last real token and the padding are ignored). */
export function lmTargets(b: ClassifyBatch): Int32Array {
  const out = new Int32Array(b.B * b.T).fill(-1);
  for (let r = 0; r < b.B; r++) for (let t = 0; t < b.lastPos[r]!; t++) out[r * b.T + t] = b.ids[r * b.T + t + 1]!;
  return out;
}

/** The head's class logits [B, nClasses] (and the LM loss of the texts with `lm`). */
function headLogits(
  model: GPT,
  b: ClassifyBatch,
  dropoutSeed: number,
  lm: boolean,
): { logits: Tensor; lmLoss?: Tensor } {
  const ids = fromArray(b.ids, [b.B, b.T], 'i32');
  const targets = lm ? fromArray(lmTargets(b), [b.B, b.T], 'i32') : null;
  const r = model.forward(ids, targets, { dropoutSeed, hidden: true });
  const logits = model.classify(r.hidden, fromArray(b.lastPos, [b.B], 'i32'));
  return r.loss ? { logits, lmLoss: r.loss } : { logits };
}

/** Head cross-entropy (+ lmWeight × the LM loss). */
export function classifyLoss(nClasses: number, lmWeight = 0): MicroLoss<ClassifyBatch> {
  return (model, b, dropoutSeed) => {
    checkClassifyBatch(b, nClasses, 'classify batch');
    const { logits, lmLoss } = headLogits(model, b, dropoutSeed, lmWeight > 0);
    const loss = crossEntropy(logits, fromArray(b.labels, [b.B], 'i32'));
    return lmLoss ? add(loss, mulScalar(lmLoss, lmWeight)) : loss;
  };
}

/** Class logits of fixed batches (eval mode, no tape, one readback), row after row. */
export async function predictLogits(model: GPT, batches: readonly ClassifyBatch[]): Promise<Float32Array> {
  const wasTraining = model.training;
  model.eval();
  const parts: Tensor[] = [];
  try {
    for (const b of batches) parts.push(tidy(() => noGrad(() => headLogits(model, b, 0, false).logits)));
    const all = tidy(() => concat(parts, 0));
    const vals = await all.data();
    all.dispose();
    return vals as Float32Array;
  } finally {
    for (const p of parts) p.dispose();
    model.training = wasTraining;
  }
}

/** Mean cross-entropy (float64, log-sum-exp) and argmax predictions of class logits [N, K]. */
export function scoreLogits(
  logits: Float32Array,
  labels: readonly number[],
  K: number,
): { loss: number; pred: number[] } {
  let loss = 0;
  const pred: number[] = [];
  labels.forEach((y, i) => {
    const row = logits.subarray(i * K, (i + 1) * K);
    let best = 0;
    for (let k = 1; k < K; k++) if (row[k]! > row[best]!) best = k;
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(row[k]! - row[best]!);
    loss += Math.log(s) + row[best]! - row[y]!;
    pred.push(best);
  });
  return { loss: loss / labels.length, pred };
}

export class ClassifyObjective implements Objective<ClassifyBatch> {
  readonly loss: MicroLoss<ClassifyBatch>;
  /** The class prior of the validation labels: the loss of always predicting the label frequencies. */
  readonly baseline: { loss: number; name: string } | null;
  /** The full report of the last evaluation (per class, confusion matrix). */
  lastReport: ClassificationReport | null = null;
  private readonly labels: number[];

  constructor(private readonly o: ClassifyObjectiveOptions) {
    const K = o.nClasses;
    if (!(Number.isInteger(K) && K >= 2)) throw new Error(`classify: nClasses must be an integer >= 2, got ${K}`);
    if (o.val.length === 0) throw new Error('classify: no validation batches');
    o.val.forEach((b, i) => checkClassifyBatch(b, K, `classify validation batch ${i}`));
    this.loss = classifyLoss(K, o.lmWeight ?? 0);
    this.labels = o.val.flatMap((b) => Array.from(b.labels));
    const counts = new Array<number>(K).fill(0);
    for (const y of this.labels) counts[y]!++;
    const n = this.labels.length;
    const entropy = counts.reduce((h, c) => (c > 0 ? h - (c / n) * Math.log(c / n) : h), 0);
    this.baseline = { loss: entropy, name: 'class prior' };
  }

  next(): ClassifyBatch {
    return this.o.train.next();
  }

  tokens(b: ClassifyBatch): number {
    return b.B * b.T;
  }

  async evaluate(model: GPT): Promise<Evaluation> {
    const K = this.o.nClasses;
    const logits = await predictLogits(model, this.o.val);
    const { loss, pred } = scoreLogits(logits, this.labels, K);
    const names = this.o.classNames;
    const name = (k: number) => (names ? names[k]! : k);
    const report = classificationReport(this.labels.map(name), pred.map(name), {
      labels: Array.from({ length: K }, (_, k) => name(k)),
      zeroDivision: 0,
    });
    this.lastReport = report;
    return { valLoss: loss, sample: null, metrics: { accuracy: report.accuracy, macroF1: report.macro.f1 } };
  }

  async probeEvalSec(model: GPT): Promise<number> {
    const a = performance.now();
    await predictLogits(model, this.o.val.slice(0, 1));
    return ((performance.now() - a) / 1000) * this.o.val.length;
  }

  dataState(): Record<string, unknown> {
    return { train: this.o.train.state() };
  }

  restoreDataState(s: Record<string, unknown>): void {
    this.o.train.restore(s.train as Record<string, unknown>);
  }
}
