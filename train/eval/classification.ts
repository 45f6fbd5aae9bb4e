// Classification metrics, defined as scikit-learn defines them (sklearn.metrics:
// accuracy_score, precision_recall_fscore_support, classification_report, confusion_matrix).
// For each label l, over all samples: tp = #(true = l ∧ pred = l), predicted = #(pred = l),
// support = #(true = l), and
//   precision = tp / predicted        recall = tp / support
//   F1        = 2·tp / (2·tp + fp + fn) = 2·tp / (predicted + support)   (= 2PR/(P+R) when defined)
//   accuracy  = #(true = pred) / samples          (over every sample, whatever `labels` says)
//   macro     = unweighted mean over the labels of P, R, F1
//   weighted  = mean weighted by support (the report's "weighted avg")
//   micro     = Σtp / Σpredicted, Σtp / Σsupport over the labels, F1 of those two
//   confusion[i][j] = #(true = labels[i] ∧ pred = labels[j])   (rows: truth, columns: prediction)
// 0/0 — precision of a label never predicted, recall of a label absent from the truth, F1 of a
// label in neither — is set to `zeroDivision` (default 0). With zeroDivision 'warn' (the default,
// as in scikit-learn) the value is 0 and the report lists each such case in `warnings`, so a
// reader can tell "0 because wrong" from "0 because undefined".
// Labels default to the sorted union of the labels in truth and predictions (numbers numerically,
// strings by code point, as numpy sorts them); pass `labels` to fix the order or to report
// classes that never occur.
import { checkSameLength, MetricInputError } from './text.ts';

export type Label = string | number;

export interface ClassStats {
  label: Label;
  precision: number;
  recall: number;
  f1: number;
  support: number;
  predicted: number;
  truePositives: number;
}

export interface Averages {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface ClassificationReport {
  labels: Label[];
  perClass: ClassStats[];
  accuracy: number;
  samples: number;
  macro: Averages;
  weighted: Averages;
  micro: Averages;
  confusion: number[][];
  /** One line per 0/0 that was replaced (only with zeroDivision 'warn'). */
  warnings: string[];
}

export interface ClassificationOptions {
  labels?: readonly Label[];
  zeroDivision?: 'warn' | 0 | 1;
}

/** numpy's order for strings: by Unicode code point (JavaScript's default sorts UTF-16 units). */
function byCodePoint(a: string, b: string): number {
  const A = Array.from(a, (c) => c.codePointAt(0)!);
  const B = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(A.length, B.length); i++) if (A[i] !== B[i]) return A[i]! - B[i]!;
  return A.length - B.length;
}

function sortedLabels(yTrue: readonly Label[], yPred: readonly Label[]): Label[] {
  const all = [...new Set([...yTrue, ...yPred])];
  const kinds = new Set(all.map((l) => typeof l));
  if (kinds.size > 1) throw new MetricInputError('labels mix numbers and strings; pass labels of one type');
  return kinds.has('number') ? (all as number[]).sort((a, b) => a - b) : (all as string[]).sort(byCodePoint);
}

export function accuracy(yTrue: readonly Label[], yPred: readonly Label[]): number {
  checkInputs(yTrue, yPred);
  let right = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) right++;
  return right / yTrue.length;
}

function checkInputs(yTrue: readonly Label[], yPred: readonly Label[]): void {
  checkSameLength(yTrue, 'true labels', yPred, 'predicted labels');
  if (yTrue.length === 0) throw new MetricInputError('no samples to score');
}

export function confusionMatrix(
  yTrue: readonly Label[],
  yPred: readonly Label[],
  labels?: readonly Label[],
): number[][] {
  checkInputs(yTrue, yPred);
  const ls = labels ? [...labels] : sortedLabels(yTrue, yPred);
  const index = new Map(ls.map((l, i) => [l, i]));
  const m = ls.map(() => ls.map(() => 0));
  for (let k = 0; k < yTrue.length; k++) {
    const i = index.get(yTrue[k]!);
    const j = index.get(yPred[k]!);
    // Samples whose truth or prediction is outside `labels` are left out, as scikit-learn does.
    if (i !== undefined && j !== undefined) m[i]![j]!++;
  }
  return m;
}

export function classificationReport(
  yTrue: readonly Label[],
  yPred: readonly Label[],
  opts: ClassificationOptions = {},
): ClassificationReport {
  checkInputs(yTrue, yPred);
  const labels = opts.labels ? [...opts.labels] : sortedLabels(yTrue, yPred);
  if (labels.length === 0) throw new MetricInputError('labels is empty');
  if (new Set(labels).size !== labels.length) throw new MetricInputError('labels has duplicates');
  const zd = opts.zeroDivision ?? 'warn';
  const zeroValue = zd === 'warn' ? 0 : zd;
  const warnings: string[] = [];
  const divide = (num: number, den: number, what: string, why: string, label: Label): number => {
    if (den > 0) return num / den;
    if (zd === 'warn') warnings.push(`${what} of label ${JSON.stringify(label)} is 0/0 (${why}); set to 0`);
    return zeroValue;
  };
  const perClass = labels.map((label): ClassStats => {
    let tp = 0,
      predicted = 0,
      support = 0;
    for (let k = 0; k < yTrue.length; k++) {
      const t = yTrue[k] === label,
        p = yPred[k] === label;
      if (t) support++;
      if (p) predicted++;
      if (t && p) tp++;
    }
    return {
      label,
      precision: divide(tp, predicted, 'precision', 'never predicted', label),
      recall: divide(tp, support, 'recall', 'no true samples', label),
      f1: divide(2 * tp, predicted + support, 'F1', 'neither true nor predicted', label),
      support,
      predicted,
      truePositives: tp,
    };
  });
  return {
    labels,
    perClass,
    accuracy: accuracy(yTrue, yPred),
    samples: yTrue.length,
    ...averages(perClass, zeroValue),
    confusion: confusionMatrix(yTrue, yPred, labels),
    warnings,
  };
}

function averages(
  perClass: readonly ClassStats[],
  zeroValue: number,
): { macro: Averages; weighted: Averages; micro: Averages } {
  const support = perClass.reduce((s, c) => s + c.support, 0);
  const mean = (k: 'precision' | 'recall' | 'f1') => perClass.reduce((s, c) => s + c[k], 0) / perClass.length;
  // All supports zero: scikit-learn returns zero_division for the weighted average.
  const wmean = (k: 'precision' | 'recall' | 'f1') =>
    support > 0 ? perClass.reduce((s, c) => s + c[k] * c.support, 0) / support : zeroValue;
  const tp = perClass.reduce((s, c) => s + c.truePositives, 0);
  const predicted = perClass.reduce((s, c) => s + c.predicted, 0);
  const mp = predicted > 0 ? tp / predicted : zeroValue;
  const mr = support > 0 ? tp / support : zeroValue;
  return {
    macro: { precision: mean('precision'), recall: mean('recall'), f1: mean('f1'), support },
    weighted: { precision: wmean('precision'), recall: wmean('recall'), f1: wmean('f1'), support },
    micro: {
      precision: mp,
      recall: mr,
      f1: predicted + support > 0 ? (2 * tp) / (predicted + support) : zeroValue,
      support,
    },
  };
}
