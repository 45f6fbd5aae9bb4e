// SQuAD v1.1 exact match and token F1. The official evaluate-v1.1.py publishes no test vectors, so
// these are hand-computed from its definitions (normalize_answer, f1_score, exact_match_score,
// metric_max_over_ground_truths), each case stating the arithmetic.
import { describe, expect, it } from 'vitest';
import { exactMatch, normalizeAnswer, squadScores, tokenF1 } from '../../train/eval/squad.ts';
import { MetricInputError } from '../../train/eval/text.ts';

describe('normalizeAnswer', () => {
  it('lower-cases, drops punctuation and articles, collapses whitespace', () => {
    expect(normalizeAnswer('The  Eiffel-Tower, in  Paris!')).toBe('eiffeltower in paris');
    expect(normalizeAnswer('An apple a day')).toBe('apple day');
    // Articles only as whole words: "theatre", "another" and "tha" stay.
    expect(normalizeAnswer('the theatre of another tha')).toBe('theatre of another tha');
    // Punctuation goes before articles are looked for, so "the." is an article.
    expect(normalizeAnswer('the.')).toBe('');
    // Python's \b is Unicode-aware: "a" inside "ça" is not a word of its own.
    expect(normalizeAnswer('ça a été')).toBe('ça été');
    // Non-ASCII punctuation is not in string.punctuation and stays.
    expect(normalizeAnswer('«Denver»')).toBe('«denver»');
  });
});

describe('exactMatch / tokenF1', () => {
  it('scores exact match after normalisation', () => {
    expect(exactMatch('Denver Broncos', 'the denver broncos.')).toBe(1);
    expect(exactMatch('Denver', 'Denver Broncos')).toBe(0);
  });

  it('token F1 from the multiset overlap', () => {
    // prediction "denver broncos win" vs gold "denver broncos": common 2, P 2/3, R 1, F1 0.8.
    expect(tokenF1('Denver Broncos win', 'Denver Broncos')).toBeCloseTo(0.8, 12);
    // Repeated tokens count with multiplicity: "a a b" → [b] after articles; use non-articles:
    // pred "x x y" vs gold "x y y": common min(2,1)+min(1,2) = 2, P 2/3, R 2/3, F1 2/3.
    expect(tokenF1('x x y', 'x y y')).toBeCloseTo(2 / 3, 12);
    expect(tokenF1('nothing shared', 'Denver')).toBe(0);
  });

  it('empty hypothesis scores 0, even against an empty gold (v1.1, not v2.0)', () => {
    expect(tokenF1('', 'Denver')).toBe(0);
    expect(tokenF1('', '')).toBe(0);
    expect(tokenF1('the', 'a')).toBe(0); // both normalize to nothing
    expect(exactMatch('', 'the')).toBe(1); // both normalize to ""
  });
});

describe('squadScores', () => {
  it('takes the max over gold answers and reports percentages', () => {
    const s = squadScores(
      ['Denver Broncos', 'Carolina', 'Santa Clara California'],
      [['Denver Broncos', 'The Denver Broncos'], ['Carolina Panthers'], ["Levi's Stadium", 'Santa Clara, California']],
    );
    // EM: 1, 0, 1. F1: 1; "carolina" vs "carolina panthers" P 1 R 1/2 → 2/3; 1.
    expect(s.perExample.map((e) => e.exactMatch)).toEqual([1, 0, 1]);
    expect(s.exactMatch).toBeCloseTo(200 / 3, 10);
    expect(s.f1).toBeCloseTo((100 * (1 + 2 / 3 + 1)) / 3, 10);
  });

  it('EM and F1 are maximised separately over the golds', () => {
    // Gold 1 gives EM 1 (F1 1); gold 2 cannot beat that. Another prediction: EM 0 everywhere, F1 best 0.5.
    const s = squadScores(['big red dog'], [['red', 'big dog red cat']]);
    // vs "red": common 1, P 1/3, R 1 → 0.5. vs "big dog red cat": common 3, P 1, R 3/4 → 6/7.
    expect(s.perExample[0]).toEqual({ exactMatch: 0, f1: expect.closeTo(6 / 7, 12) as number });
  });

  it('rejects mismatched counts and questions without gold answers', () => {
    expect(() => squadScores(['a', 'b'], [['a']])).toThrow(MetricInputError);
    expect(() => squadScores(['a', 'b'], [['a']])).toThrow(/2 predictions but 1 gold answer lists/);
    expect(() => squadScores(['a'], [[]])).toThrow(/question 0 has no gold answers/);
    expect(() => squadScores([], [])).toThrow(/no questions/);
  });
});
