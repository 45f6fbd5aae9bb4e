// The two baselines a practitioner asks for before believing a fine-tuned classifier: the majority
// class, and multinomial naive Bayes on bag-of-words unigrams + bigrams with add-one (Laplace)
// smoothing, the classic strong baseline for short-text sentiment. Scored with train/eval's
// classification metrics (scikit-learn's definitions).
//
// Tokenization: lowercase, then maximal runs of word characters (Unicode letters, digits and `_`,
// Python's `\w`); punctuation separates tokens and is dropped ("Don't STOP!" → don, t, stop).
// Features: every token, and every pair of adjacent tokens ("don t", "t stop").
// Naive Bayes (as scikit-learn's MultinomialNB with CountVectorizer(ngram_range=(1, 2)) computes it):
//   log P(c | d) = log P(c) + Σ_f n(f, d) · log θ(c, f) + const,   P(c) = #docs of c / #docs,
//   θ(c, f) = (N(c, f) + α) / (N(c) + α·|V|),   α = 1,
// with N(c, f) the count of feature f in the training documents of class c, N(c) = Σ_f N(c, f) and
// V the features seen in training; features never seen in training are ignored.
import { classificationReport, type ClassificationReport, type Label } from '../eval/classification.ts';
import { FinetuneDataError, sortLabels, type ClassifyRecord } from './records.ts';

export function wordTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}_]+/gu) ?? [];
}

/** Unigrams and the bigrams of adjacent tokens (joined by a space), with repeats. */
export function ngramFeatures(text: string, maxN = 2): string[] {
  const tokens = wordTokens(text);
  const out: string[] = [];
  for (let n = 1; n <= maxN; n++) {
    for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(' '));
  }
  return out;
}

export interface TextClassifier {
  readonly labels: readonly Label[];
  predict(text: string): Label;
}

function labelSetOf(records: readonly ClassifyRecord[], labels?: readonly Label[]): Label[] {
  if (records.length === 0) throw new FinetuneDataError('a baseline needs at least one training record');
  return labels ? [...labels] : sortLabels(records.map((r) => r.label));
}

/** Always predicts the most frequent training label (ties: the first in label order). */
export function majorityClass(train: readonly ClassifyRecord[], labels?: readonly Label[]): TextClassifier {
  const set = labelSetOf(train, labels);
  const counts = set.map((l) => train.filter((r) => r.label === l).length);
  const best = set[counts.indexOf(Math.max(...counts))] as Label;
  return { labels: set, predict: () => best };
}

export interface NaiveBayesOptions {
  /** Additive smoothing; 1 is Laplace. */
  alpha?: number;
  /** Longest n-gram; 2 = unigrams + bigrams. */
  maxN?: number;
  labels?: readonly Label[];
}

export class NaiveBayes implements TextClassifier {
  /** log P(c). */
  readonly logPrior: number[];
  /** log θ(c, f) per feature, one entry per class. */
  readonly logLikelihood = new Map<string, Float64Array>();

  constructor(
    readonly labels: readonly Label[],
    classDocs: readonly number[],
    featureCounts: Map<string, Float64Array>,
    readonly alpha: number,
    readonly maxN: number,
  ) {
    const docs = classDocs.reduce((a, b) => a + b, 0);
    this.logPrior = classDocs.map((n) => Math.log(n / docs));
    const totals = labels.map((_, c) => [...featureCounts.values()].reduce((s, v) => s + (v[c] as number), 0));
    const V = featureCounts.size;
    for (const [f, counts] of featureCounts) {
      this.logLikelihood.set(
        f,
        counts.map((n, c) => Math.log((n + alpha) / ((totals[c] as number) + alpha * V))),
      );
    }
  }

  /** log P(c) + Σ log θ(c, f) over the text's known features: the joint log-probability per class. */
  jointLogProbs(text: string): number[] {
    const out = [...this.logPrior];
    for (const f of ngramFeatures(text, this.maxN)) {
      const ll = this.logLikelihood.get(f);
      if (ll) for (let c = 0; c < out.length; c++) out[c]! += ll[c] as number;
    }
    return out;
  }

  /** P(c | text). */
  probabilities(text: string): number[] {
    const joint = this.jointLogProbs(text);
    const max = Math.max(...joint);
    const exp = joint.map((x) => Math.exp(x - max));
    const sum = exp.reduce((a, b) => a + b, 0);
    return exp.map((e) => e / sum);
  }

  predict(text: string): Label {
    const joint = this.jointLogProbs(text);
    return this.labels[joint.indexOf(Math.max(...joint))] as Label;
  }
}

export function trainNaiveBayes(train: readonly ClassifyRecord[], opts: NaiveBayesOptions = {}): NaiveBayes {
  const labels = labelSetOf(train, opts.labels);
  const alpha = opts.alpha ?? 1;
  const maxN = opts.maxN ?? 2;
  if (!(alpha > 0)) throw new FinetuneDataError(`naive Bayes smoothing alpha must be > 0, got ${alpha}`);
  const index = new Map<Label, number>(labels.map((l, i) => [l, i]));
  const classDocs = labels.map(() => 0);
  const counts = new Map<string, Float64Array>();
  for (const r of train) {
    const c = index.get(r.label);
    if (c === undefined)
      throw new FinetuneDataError(`line ${r.line}: label ${JSON.stringify(r.label)} is not in the label set`);
    classDocs[c]!++;
    for (const f of ngramFeatures(r.text, maxN)) {
      let v = counts.get(f);
      if (!v) counts.set(f, (v = new Float64Array(labels.length)));
      v[c]!++;
    }
  }
  if (classDocs.some((n) => n === 0)) {
    throw new FinetuneDataError(
      `naive Bayes: a label has no training record (${labels.filter((_, c) => classDocs[c] === 0).join(', ')})`,
    );
  }
  return new NaiveBayes(labels, classDocs, counts, alpha, maxN);
}

/** Scores a classifier on labelled records: accuracy, per-class P/R/F1, macro-F1, confusion. */
export function scoreClassifier(clf: TextClassifier, records: readonly ClassifyRecord[]): ClassificationReport {
  const yTrue = records.map((r) => r.label);
  const yPred = records.map((r) => clf.predict(r.text));
  return classificationReport(yTrue, yPred, { labels: clf.labels });
}

export interface BaselineReports {
  majority: ClassificationReport;
  naiveBayes: ClassificationReport;
}

/** Both baselines trained on `train` and scored on `test`. */
export function runBaselines(
  train: readonly ClassifyRecord[],
  test: readonly ClassifyRecord[],
  labels?: readonly Label[],
): BaselineReports {
  return {
    majority: scoreClassifier(majorityClass(train, labels), test),
    naiveBayes: scoreClassifier(trainNaiveBayes(train, { labels }), test),
  };
}
