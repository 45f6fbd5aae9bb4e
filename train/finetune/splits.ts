// Train / validation / test splits of fine-tuning records: either a seeded `--valFraction` of the
// training file (stratified by label for classification, so each class keeps its share in both
// splits) or explicit `--val` / `--test` files. An empty split, a single class, or a validation or
// test label that training never saw is an error naming the file (and line).
import { FinetuneDataError, sortLabels, type ClassifyData, type ClassifyRecord, type Label } from './records.ts';
import { seededRng } from './rng.ts';

export interface Split<R> {
  train: R[];
  val: R[];
}

function checkFraction(valFraction: number): void {
  if (!(valFraction > 0 && valFraction < 1)) {
    throw new FinetuneDataError(`--valFraction must be between 0 and 1 (exclusive), got ${valFraction}`);
  }
}

/** Indices of `n` items that go to validation: round(f·n) of them, at most n - 1, seeded. */
function pickVal(n: number, valFraction: number, seed: number, stream: number): number[] {
  const k = Math.min(n - 1, Math.round(valFraction * n));
  return seededRng(seed, stream)
    .shuffle(Array.from({ length: n }, (_, i) => i))
    .slice(0, Math.max(0, k));
}

/**
 * Splits records by a seeded fraction. With `labelOf`, each label's records are split on their own
 * (stratified); every class keeps at least one training record. Both splits keep file order.
 */
export function splitByFraction<R>(
  records: readonly R[],
  valFraction: number,
  seed: number,
  file: string,
  labelOf?: (r: R) => Label,
): Split<R> {
  checkFraction(valFraction);
  const groups = new Map<Label, number[]>();
  records.forEach((r, i) => {
    const key = labelOf ? labelOf(r) : 0;
    const members = groups.get(key);
    if (members) members.push(i);
    else groups.set(key, [i]);
  });
  const isVal = new Array<boolean>(records.length).fill(false);
  sortLabels([...groups.keys()]).forEach((label, g) => {
    const members = groups.get(label) as number[];
    for (const j of pickVal(members.length, valFraction, seed, g)) isVal[members[j] as number] = true;
  });
  const split: Split<R> = { train: [], val: [] };
  records.forEach((r, i) => (isVal[i] ? split.val : split.train).push(r));
  if (split.val.length === 0) {
    throw new FinetuneDataError(
      `${file}: --valFraction ${valFraction} of ${records.length} records leaves the validation split empty`,
    );
  }
  if (split.train.length === 0) throw new FinetuneDataError(`${file}: no records left for training`);
  return split;
}

/** One split of classification data and where it came from. */
export interface LabelledSplit {
  file: string;
  records: readonly ClassifyRecord[];
}

/** Checks classification splits: none empty, two or more training classes, no unseen label. */
export function checkClassifySplits(train: LabelledSplit, others: Record<string, LabelledSplit | undefined>): Label[] {
  if (train.records.length === 0) throw new FinetuneDataError(`${train.file}: the training split is empty`);
  const labels = sortLabels(train.records.map((r) => r.label));
  if (labels.length < 2) {
    throw new FinetuneDataError(
      `${train.file}: the training split has one class only (${JSON.stringify(labels[0])}); classification needs two or more`,
    );
  }
  const known = new Set(labels);
  for (const [name, split] of Object.entries(others)) {
    if (!split) continue;
    if (split.records.length === 0) throw new FinetuneDataError(`${split.file}: the ${name} split is empty`);
    const bad = split.records.find((r) => !known.has(r.label));
    if (bad) {
      throw new FinetuneDataError(
        `${split.file}:${bad.line}: ${name} label ${JSON.stringify(bad.label)} does not occur in the training data (${train.file})`,
      );
    }
  }
  return labels;
}

export interface ClassifySplits {
  train: ClassifyRecord[];
  val: ClassifyRecord[];
  test?: ClassifyRecord[];
  /** The label set of the run, from the training split (a given `labels` order is kept). */
  labels: Label[];
}

/**
 * Classification splits: explicit `val` data if given, else a stratified `valFraction` of `data`.
 * Records carry the line of their own file, so a split drawn from `data` reports `data`'s file.
 */
export function classifySplits(
  data: ClassifyData,
  opts: { valFraction?: number; seed?: number; val?: ClassifyData; test?: ClassifyData },
): ClassifySplits {
  const split = opts.val
    ? { train: data.records, val: opts.val.records }
    : splitByFraction(data.records, opts.valFraction ?? 0.1, opts.seed ?? 0, data.report.file, (r) => r.label);
  const valFile = opts.val ? opts.val.report.file : data.report.file;
  const found = checkClassifySplits(
    { file: data.report.file, records: split.train },
    {
      validation: { file: valFile, records: split.val },
      test: opts.test ? { file: opts.test.report.file, records: opts.test.records } : undefined,
    },
  );
  const labels = data.labels.filter((l) => found.includes(l));
  return { ...split, test: opts.test?.records, labels };
}

/** sft splits: explicit `val` records if given, else a seeded `valFraction`; none may be empty. */
export function sftSplits<R>(
  records: readonly R[],
  file: string,
  opts: { valFraction?: number; seed?: number; val?: readonly R[]; valFile?: string },
): Split<R> {
  if (records.length === 0) throw new FinetuneDataError(`${file}: the training split is empty`);
  if (!opts.val) return splitByFraction(records, opts.valFraction ?? 0.1, opts.seed ?? 0, file);
  if (opts.val.length === 0)
    throw new FinetuneDataError(`${opts.valFile ?? 'validation data'}: the validation split is empty`);
  return { train: [...records], val: [...opts.val] };
}
