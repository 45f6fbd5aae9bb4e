// Baselines: the tokenization, naive Bayes on a tiny example whose probabilities are computed by
// hand, the majority class, and both on the shipped sentiment data with an 80/20 stratified split.
import { describe, expect, it } from 'vitest';
import {
  majorityClass,
  ngramFeatures,
  runBaselines,
  trainNaiveBayes,
  wordTokens,
} from '../../train/finetune/baselines.ts';
import { sentimentSentences } from '../../train/finetune/datasets.ts';
import type { ClassifyRecord } from '../../train/finetune/records.ts';
import { classifySplits } from '../../train/finetune/splits.ts';

const rec = (text: string, label: string, line = 0): ClassifyRecord => ({ text, label, line });

describe('features', () => {
  it('lowercases, keeps runs of word characters, adds adjacent bigrams', () => {
    expect(wordTokens("Don't STOP! Café_2, ok")).toEqual(['don', 't', 'stop', 'café_2', 'ok']);
    expect(ngramFeatures('Good, good movie')).toEqual(['good', 'good', 'movie', 'good good', 'good movie']);
    expect(ngramFeatures('...')).toEqual([]);
  });
});

describe('naive Bayes', () => {
  // Features per document (unigrams + bigrams):
  //   pos: good, movie, "good movie"      neg: bad, movie, "bad movie"      pos: good, good, "good good"
  // |V| = 6; N(pos) = 6 (good 3, movie 1, "good movie" 1, "good good" 1); N(neg) = 3; P(pos) = 2/3.
  const nb = trainNaiveBayes([rec('good movie', 'pos'), rec('bad movie', 'neg'), rec('good good', 'pos')]);

  it('matches the hand-computed posteriors', () => {
    expect(nb.labels).toEqual(['neg', 'pos']);
    // "good": pos 2/3 · (3+1)/(6+6) = 2/9, neg 1/3 · (0+1)/(3+6) = 1/27 → P(pos) = 6/7.
    const [neg, pos] = nb.probabilities('good');
    expect(pos).toBeCloseTo(6 / 7, 14);
    expect(neg).toBeCloseTo(1 / 7, 14);
    expect(nb.jointLogProbs('good')[1]).toBeCloseTo(Math.log(2 / 9), 14);
    // "bad movie": pos 2/3 · (1/12)(2/12)(1/12) = 1/1296, neg 1/3 · (2/9)(2/9)(2/9) = 8/2187 → P(neg) = 128/155.
    expect(nb.probabilities('bad movie')[0]).toBeCloseTo(128 / 155, 14);
    expect(nb.predict('bad movie')).toBe('neg');
    // Features never seen in training are ignored: the prior.
    expect(nb.probabilities('great')[1]).toBeCloseTo(2 / 3, 14);
  });

  it('rejects a label with no training record and a bad alpha', () => {
    expect(() => trainNaiveBayes([rec('a', 'x')], { labels: ['x', 'y'] })).toThrow(
      /a label has no training record \(y\)/,
    );
    expect(() => trainNaiveBayes([rec('a', 'x')], { alpha: 0 })).toThrow(/alpha must be > 0/);
  });
});

describe('majority class', () => {
  it('predicts the most frequent label; a tie goes to the first label', () => {
    expect(majorityClass([rec('a', 'b'), rec('b', 'a'), rec('c', 'b')]).predict('x')).toBe('b');
    expect(majorityClass([rec('a', 'b'), rec('b', 'a')]).predict('x')).toBe('a');
  });
});

describe('on the sentiment sentences (80/20 stratified, seed 0)', () => {
  it('naive Bayes is far above the majority class', () => {
    const s = classifySplits(sentimentSentences(), { valFraction: 0.2, seed: 0 });
    expect([s.train.length, s.val.length]).toEqual([2400, 600]);
    const r = runBaselines(s.train, s.val, s.labels);
    expect(r.majority.accuracy).toBe(0.5);
    // Measured 0.8217 (accuracy and macro-F1 0.82; 0.817–0.840 over seeds 0–4 and 1234).
    expect(r.naiveBayes.accuracy).toBeGreaterThan(0.8);
    expect(r.naiveBayes.macro.f1).toBeGreaterThan(0.8);
    expect(r.naiveBayes.confusion.flat().reduce((a, b) => a + b, 0)).toBe(600);
  });
});
