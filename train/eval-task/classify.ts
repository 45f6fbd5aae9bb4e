// `eval --task classify`: a classifier's predictions on labelled JSONL records. The label set is
// the checkpoint's (class index order); a record whose label the model does not know is an error
// naming its line, since no prediction could ever be right for it. Metrics as scikit-learn defines
// them (train/eval/classification.ts): accuracy, per-class precision/recall/F1, macro and weighted
// averages, the confusion matrix (0/0 is 0, listed in `warnings`), plus the mean cross-entropy.
import type { GPT } from '../../model/gpt.ts';
import { CliError } from '../cli-error.ts';
import { classificationReport, type ClassificationReport, type Label } from '../eval/classification.ts';
import { classifyBatch } from '../finetune/batches.ts';
import { classifyExamples } from '../finetune/examples.ts';
import type { ClassifyRecord } from '../finetune/records.ts';
import { predictLogits, scoreLogits, type ClassifyBatch } from '../objectives/classify.ts';
import type { Tokenizer } from '../tokenizers/types.ts';

export interface ClassExample {
  line: number;
  input: string;
  reference: Label;
  prediction: Label;
  /** Probability of the predicted label. */
  confidence: number;
  /** Probability the model gave the true label. */
  pTrue: number;
  correct: boolean;
}

export interface ClassifyResult {
  task: 'classify';
  examples: number;
  loss: number;
  report: ClassificationReport;
  /** Inputs cut from the left to fit the context. */
  truncated: number;
  perExample: ClassExample[];
}

/** Refuses the first record whose label is not in the model's label set, naming file and line. */
export function checkKnownLabels(records: readonly ClassifyRecord[], labels: readonly Label[], file: string): void {
  const known = new Set<Label>(labels);
  const bad = records.find((r) => !known.has(r.label));
  if (!bad) return;
  const list = labels.map((l) => JSON.stringify(l)).join(', ');
  throw new CliError(
    `${file}:${bad.line}: label ${JSON.stringify(bad.label)} is not one the model knows (its labels: ${list})`,
  );
}

/** Softmax of one row of logits. */
function softmax(row: ArrayLike<number>): number[] {
  let m = -Infinity;
  for (let k = 0; k < row.length; k++) m = Math.max(m, row[k]!);
  const e = Array.from({ length: row.length }, (_, k) => Math.exp(row[k]! - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export async function evaluateClassify(
  model: GPT,
  records: readonly ClassifyRecord[],
  labels: readonly Label[],
  tok: Tokenizer,
  B: number,
  file: string,
): Promise<ClassifyResult> {
  checkKnownLabels(records, labels, file);
  const { examples, report } = classifyExamples(records, labels, tok, model.config.blockSize, file);
  const batches: ClassifyBatch[] = [];
  for (let i = 0; i < examples.length; i += B) batches.push(classifyBatch(examples.slice(i, i + B), tok.eotId));
  const K = labels.length;
  const logits = await predictLogits(model, batches);
  const { loss, pred } = scoreLogits(
    logits,
    examples.map((e) => e.label),
    K,
  );
  const perExample = examples.map((e, i): ClassExample => {
    const p = softmax(logits.subarray(i * K, (i + 1) * K));
    const r = records[i]!;
    return {
      line: e.line,
      input: r.text,
      reference: r.label,
      prediction: labels[pred[i]!]!,
      confidence: p[pred[i]!]!,
      pTrue: p[e.label]!,
      correct: pred[i] === e.label,
    };
  });
  const rep = classificationReport(
    perExample.map((e) => e.reference),
    perExample.map((e) => e.prediction),
    { labels, zeroDivision: 'warn' },
  );
  return { task: 'classify', examples: examples.length, loss, report: rep, truncated: report.truncated, perExample };
}
