// Splits: a seeded valFraction that is stratified by label for classification, explicit files, and
// the errors for an empty split, a single class and a label training never saw.
import { describe, expect, it } from 'vitest';
import { classifyRecords, rowsOf, type ClassifyRecord } from '../../train/finetune/records.ts';
import { checkClassifySplits, classifySplits, sftSplits, splitByFraction } from '../../train/finetune/splits.ts';

/** 90 'a', 30 'b', 10 'c' records interleaved. */
function unbalanced(): ClassifyRecord[] {
  const out: ClassifyRecord[] = [];
  for (let i = 0; i < 130; i++)
    out.push({ text: `t${i}`, label: i % 13 === 0 ? 'c' : i % 13 < 4 ? 'b' : 'a', line: i + 1 });
  return out;
}

const count = (rs: readonly ClassifyRecord[], l: string): number => rs.filter((r) => r.label === l).length;

describe('splitByFraction', () => {
  it('stratified: each class keeps its share in both splits', () => {
    const records = unbalanced();
    expect([count(records, 'a'), count(records, 'b'), count(records, 'c')]).toEqual([90, 30, 10]);
    const { train, val } = splitByFraction(records, 0.2, 1, 'd', (r) => r.label);
    expect([count(val, 'a'), count(val, 'b'), count(val, 'c')]).toEqual([18, 6, 2]);
    expect([count(train, 'a'), count(train, 'b'), count(train, 'c')]).toEqual([72, 24, 8]);
    // File order within each split; every record exactly once.
    expect(train.map((r) => r.line)).toEqual([...train.map((r) => r.line)].sort((x, y) => x - y));
    expect(new Set([...train, ...val]).size).toBe(130);
  });

  it('is deterministic for a seed and differs across seeds', () => {
    const records = unbalanced();
    const lines = (seed: number): number[] =>
      splitByFraction(records, 0.2, seed, 'd', (r) => r.label).val.map((r) => r.line);
    expect(lines(5)).toEqual(lines(5));
    expect(lines(5)).not.toEqual(lines(6));
  });

  it('keeps at least one training record per class, and rejects an empty validation split', () => {
    const two: ClassifyRecord[] = [
      { text: 'x', label: 'p', line: 1 },
      { text: 'y', label: 'n', line: 2 },
      { text: 'z', label: 'n', line: 3 },
    ];
    const { train } = splitByFraction(two, 0.9, 0, 'd', (r) => r.label);
    expect(new Set(train.map((r) => r.label))).toEqual(new Set(['p', 'n']));
    expect(() => splitByFraction(unbalanced(), 0.001, 0, 'sent.jsonl')).toThrow(
      'sent.jsonl: --valFraction 0.001 of 130 records leaves the validation split empty',
    );
    expect(() => splitByFraction(two, 1, 0, 'd')).toThrow(/--valFraction must be between 0 and 1/);
    expect(() => splitByFraction(two, 0, 0, 'd')).toThrow(/--valFraction/);
  });
});

describe('classification split checks', () => {
  const data = (objs: Record<string, unknown>[], file: string) => classifyRecords(rowsOf(objs), file);

  it('a stratified split of a file gives the label set of training', () => {
    const d = data(
      Array.from({ length: 20 }, (_, i) => ({ text: `t${i}`, label: i % 2 ? 'pos' : 'neg' })),
      'train.jsonl',
    );
    const s = classifySplits(d, { valFraction: 0.25, seed: 3 });
    expect(s.labels).toEqual(['neg', 'pos']);
    expect(s.val.length).toBe(6); // round(0.25 · 10) per class
  });

  it('one class only is an error', () => {
    const d = data(
      [
        { text: 'a', label: 1 },
        { text: 'b', label: 1 },
        { text: 'c', label: 1 },
      ],
      'one.jsonl',
    );
    expect(() => classifySplits(d, { valFraction: 0.3 })).toThrow(
      'one.jsonl: the training split has one class only (1); classification needs two or more',
    );
  });

  it('a validation or test label unseen in training is an error naming file and line', () => {
    const train = data(
      [
        { text: 'a', label: 'x' },
        { text: 'b', label: 'y' },
      ],
      'train.jsonl',
    );
    const val = data([{ text: 'c', label: 'x' }], 'val.jsonl');
    const test = data(
      [
        { text: 'c', label: 'y' },
        { text: 'd', label: 'z' },
      ],
      'test.jsonl',
    );
    expect(() => classifySplits(train, { val, test })).toThrow(
      'test.jsonl:2: test label "z" does not occur in the training data (train.jsonl)',
    );
    const s = classifySplits(train, { val });
    expect([s.train.length, s.val.length, s.labels]).toEqual([2, 1, ['x', 'y']]);
  });

  it('an empty explicit split is an error', () => {
    const train = {
      file: 't.jsonl',
      records: [
        { text: 'a', label: 'x', line: 1 },
        { text: 'b', label: 'y', line: 2 },
      ],
    };
    expect(() => checkClassifySplits(train, { validation: { file: 'v.jsonl', records: [] } })).toThrow(
      'v.jsonl: the validation split is empty',
    );
    expect(() => checkClassifySplits({ file: 't.jsonl', records: [] }, {})).toThrow(
      't.jsonl: the training split is empty',
    );
    expect(() => sftSplits([1], 'd', { val: [], valFile: 'v.jsonl' })).toThrow(
      'v.jsonl: the validation split is empty',
    );
    expect(sftSplits([1, 2, 3, 4], 'd', { valFraction: 0.25, seed: 1 }).val).toHaveLength(1);
  });
});
