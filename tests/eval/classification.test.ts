// Classification metrics against scikit-learn's documented examples (values printed in the
// docstrings of sklearn.metrics, https://scikit-learn.org/stable/modules/generated/...) and
// hand-computed cases, including a class that is never predicted and a single class.
import { describe, expect, it } from 'vitest';
import { accuracy, classificationReport, confusionMatrix } from '../../train/eval/classification.ts';
import { MetricInputError } from '../../train/eval/text.ts';

const close = (got: number, want: number, digits = 9) => expect(got).toBeCloseTo(want, digits);

describe('classificationReport', () => {
  // sklearn.metrics.precision_recall_fscore_support.html, Examples:
  // macro (0.22..., 0.33..., 0.26...), micro (0.33..., 0.33..., 0.33...), weighted (0.22..., 0.33..., 0.26...),
  // labels=['pig','dog','cat'] → precision [0, 0, 0.66...], recall [0, 0, 1], f [0, 0, 0.8], support [2, 2, 2].
  const yTrue = ['cat', 'dog', 'pig', 'cat', 'dog', 'pig'];
  const yPred = ['cat', 'pig', 'dog', 'cat', 'cat', 'dog'];

  it('matches the precision_recall_fscore_support docs example (averages)', () => {
    const r = classificationReport(yTrue, yPred);
    close(r.macro.precision, 2 / 9);
    close(r.macro.recall, 1 / 3);
    close(r.macro.f1, 0.8 / 3);
    close(r.micro.precision, 1 / 3);
    close(r.micro.recall, 1 / 3);
    close(r.micro.f1, 1 / 3);
    close(r.weighted.precision, 2 / 9);
    close(r.weighted.recall, 1 / 3);
    close(r.weighted.f1, 0.8 / 3);
    expect(r.labels).toEqual(['cat', 'dog', 'pig']);
  });

  it('matches the docs example per class, in the order given by labels', () => {
    const r = classificationReport(yTrue, yPred, { labels: ['pig', 'dog', 'cat'] });
    expect(r.perClass.map((c) => c.precision)).toEqual([0, 0, 2 / 3]);
    expect(r.perClass.map((c) => c.recall)).toEqual([0, 0, 1]);
    expect(r.perClass.map((c) => c.f1)).toEqual([0, 0, 0.8]);
    expect(r.perClass.map((c) => c.support)).toEqual([2, 2, 2]);
    expect(r.warnings).toEqual([]);
  });

  // sklearn.metrics.classification_report.html, Examples (values printed to 2 decimals):
  //   class 0  0.50 1.00 0.67 1 | class 1  0.00 0.00 0.00 1 | class 2  1.00 0.67 0.80 3
  //   accuracy 0.60 | macro avg 0.50 0.56 0.49 | weighted avg 0.70 0.60 0.61 (support 5)
  it('matches the classification_report docs example', () => {
    const r = classificationReport([0, 1, 2, 2, 2], [0, 0, 2, 2, 1]);
    const two = (x: number) => Number(x.toFixed(2));
    expect(r.perClass.map((c) => [c.precision, c.recall, c.f1, c.support].map(two))).toEqual([
      [0.5, 1, 0.67, 1],
      [0, 0, 0, 1],
      [1, 0.67, 0.8, 3],
    ]);
    expect(two(r.accuracy)).toBe(0.6);
    expect([r.macro.precision, r.macro.recall, r.macro.f1].map(two)).toEqual([0.5, 0.56, 0.49]);
    expect([r.weighted.precision, r.weighted.recall, r.weighted.f1].map(two)).toEqual([0.7, 0.6, 0.61]);
    expect(r.weighted.support).toBe(5);
    // Exact values behind the rounded ones (hand-computed): macro recall (1 + 0 + 2/3)/3.
    close(r.macro.recall, 5 / 9);
    close(r.weighted.f1, (2 / 3 + 0 + 3 * 0.8) / 5);
  });

  // classification_report docs, second example: labels=[1, 2, 3], two of them never occur:
  //   1  1.00 0.67 0.80 3 | 2  0.00 0.00 0.00 0 | 3  0.00 0.00 0.00 0
  //   micro avg 1.00 0.67 0.80 3 | macro avg 0.33 0.22 0.27 3 | weighted avg 1.00 0.67 0.80 3
  it('matches the docs example with labels that never occur, warning about each 0/0', () => {
    const r = classificationReport([1, 1, 1], [1, 1, 0], { labels: [1, 2, 3] });
    const two = (x: number) => Number(x.toFixed(2));
    expect(r.perClass.map((c) => [c.precision, c.recall, c.f1, c.support].map(two))).toEqual([
      [1, 0.67, 0.8, 3],
      [0, 0, 0, 0],
      [0, 0, 0, 0],
    ]);
    expect([r.micro.precision, r.micro.recall, r.micro.f1].map(two)).toEqual([1, 0.67, 0.8]);
    expect([r.macro.precision, r.macro.recall, r.macro.f1].map(two)).toEqual([0.33, 0.22, 0.27]);
    expect([r.weighted.precision, r.weighted.recall, r.weighted.f1].map(two)).toEqual([1, 0.67, 0.8]);
    close(r.accuracy, 2 / 3); // over all samples, the 0 prediction included
    expect(r.warnings).toHaveLength(6); // P, R and F1 of labels 2 and 3
    expect(r.warnings[0]).toMatch(/precision of label 2 is 0\/0/);
  });

  it('zeroDivision 1 replaces 0/0 by 1 without warnings', () => {
    const r = classificationReport([1, 1, 1], [1, 1, 0], { labels: [1, 2, 3], zeroDivision: 1 });
    expect(r.perClass[1]).toMatchObject({ precision: 1, recall: 1, f1: 1 });
    expect(r.warnings).toEqual([]);
  });

  it('a class that is never predicted: precision 0 with a warning, recall and F1 really 0', () => {
    // Hand-computed: b has 2 true samples, both predicted as a.
    const r = classificationReport(['a', 'a', 'b', 'b'], ['a', 'a', 'a', 'a']);
    const b = r.perClass[1]!;
    expect(b).toMatchObject({ label: 'b', precision: 0, recall: 0, f1: 0, support: 2, predicted: 0 });
    expect(r.warnings).toEqual(['precision of label "b" is 0/0 (never predicted); set to 0']);
    const a = r.perClass[0]!;
    close(a.precision, 0.5);
    close(a.recall, 1);
    close(a.f1, 2 / 3);
    close(r.accuracy, 0.5);
    close(r.macro.f1, 1 / 3);
  });

  it('one class only, all right: every score 1 and no warning', () => {
    const r = classificationReport(['x', 'x', 'x'], ['x', 'x', 'x']);
    expect(r.labels).toEqual(['x']);
    expect(r.perClass[0]).toMatchObject({ precision: 1, recall: 1, f1: 1, support: 3 });
    expect(r.macro).toEqual({ precision: 1, recall: 1, f1: 1, support: 3 });
    expect(r.confusion).toEqual([[3]]);
    expect(r.warnings).toEqual([]);
  });

  it('one class in the truth, some predictions of another: recall 0/0 of the other is warned', () => {
    const r = classificationReport(['x', 'x'], ['x', 'y']);
    expect(r.perClass[1]).toMatchObject({ label: 'y', precision: 0, recall: 0, f1: 0, support: 0 });
    expect(r.warnings).toEqual(['recall of label "y" is 0/0 (no true samples); set to 0']);
    close(r.perClass[0]!.f1, 2 / 3);
  });

  it('rejects mismatched lengths, empty input and mixed label types with a clear message', () => {
    expect(() => classificationReport([1, 2], [1])).toThrow(MetricInputError);
    expect(() => classificationReport([1, 2], [1])).toThrow(/2 true labels but 1 predicted labels/);
    expect(() => classificationReport([], [])).toThrow(/no samples/);
    expect(() => classificationReport([1, 'a'], [1, 1])).toThrow(/mix numbers and strings/);
  });
});

describe('confusionMatrix', () => {
  // sklearn.metrics.confusion_matrix.html, Examples.
  it('matches the docs examples', () => {
    expect(confusionMatrix([2, 0, 2, 2, 0, 1], [0, 0, 2, 2, 0, 2])).toEqual([
      [2, 0, 0],
      [0, 0, 1],
      [1, 0, 2],
    ]);
    const t = ['cat', 'ant', 'cat', 'cat', 'ant', 'bird'];
    const p = ['ant', 'ant', 'cat', 'cat', 'ant', 'cat'];
    expect(confusionMatrix(t, p, ['ant', 'bird', 'cat'])).toEqual([
      [2, 0, 0],
      [0, 0, 1],
      [1, 0, 2],
    ]);
  });

  it('sorts numeric labels numerically, not as strings', () => {
    expect(classificationReport([10, 9, 2], [10, 9, 2]).labels).toEqual([2, 9, 10]);
  });

  it('sorts string labels by code point as numpy does (an astral character after U+FFxx)', () => {
    expect(classificationReport(['😀', '\uff5e', 'b'], ['b', 'b', 'b']).labels).toEqual(['b', '\uff5e', '😀']);
  });
});

describe('accuracy', () => {
  // sklearn.metrics.accuracy_score.html, Examples: y_pred [0, 2, 1, 3], y_true [0, 1, 2, 3] → 0.5.
  it('matches the docs example', () => {
    expect(accuracy([0, 1, 2, 3], [0, 2, 1, 3])).toBe(0.5);
  });
});
