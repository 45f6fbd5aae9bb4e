// BLEU against sacreBLEU's own test cases (github.com/mjpost/sacrebleu at f615c72: test/test_bleu.py,
// test/test_sentence_bleu.py; the test names are given with each fixture), against the worked
// example of the BLEU paper (Papineni et al. 2002, Example 1 and 2 — the modified n-gram
// precisions 17/18, 8/14, 10/17, 1/13 and 2/7 printed in the paper) and the values NLTK's
// nltk/translate/bleu_score.py docstrings publish for that example, plus edge cases.
import { describe, expect, it } from 'vitest';
import {
  computeBleu,
  corpusBleu,
  sentenceBleu,
  tokenize13a,
  transposeStreams,
  type BleuOptions,
} from '../../train/eval/bleu.ts';
import { MetricInputError } from '../../train/eval/text.ts';

// sacreBLEU's raw_corpus_bleu: no tokenization, 'floor' smoothing, effective order.
const raw = (smoothValue?: number): BleuOptions => ({
  tokenize: 'none',
  smoothMethod: 'floor',
  smoothValue,
  effectiveOrder: true,
});
const within = (got: number, want: number, eps: number) => expect(Math.abs(got - want)).toBeLessThan(eps);
const EPS = 1e-8; // test_bleu.py's EPSILON

// test_bleu.py's README example: _refs are two reference streams, _hyps three segments.
const REF_STREAMS = [
  ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
  ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
];
const REFS = transposeStreams(REF_STREAMS);
const HYPS = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];

describe('corpusBleu — sacreBLEU test_bleu.py', () => {
  it('test_corpus_bleu: the README example under each setting', () => {
    within(corpusBleu(HYPS, REFS).score, 48.530827, EPS);
    within(corpusBleu(HYPS, REFS, { tokenize: '13a' }).score, 48.530827, EPS);
    within(corpusBleu(HYPS, REFS, { tokenize: 'none' }).score, 49.1919566, EPS);
    within(corpusBleu(HYPS, REFS, { tokenize: 'intl' }).score, 43.91623493, EPS);
    within(corpusBleu(HYPS, REFS, { smoothMethod: 'none' }).score, 48.530827, EPS);
  });

  it('test_corpus_bleu: empty hypotheses are kept and score 0', () => {
    const r = corpusBleu(['', '', ''], REFS);
    expect(r.score).toBe(0);
    expect(r.sysLen).toBe(0);
    expect(r.bp).toBe(0);
  });

  it('test_max_ngram_order: orders 1 to 6 (to 2 decimals)', () => {
    const want = ['77.65', '60.50', '53.93', '48.53', '46.14', '43.28'];
    want.forEach((w, i) => expect(corpusBleu(HYPS, REFS, { maxNgramOrder: i + 1 }).score.toFixed(2)).toBe(w));
  });

  it('test_raw_bleu (smooth value .01)', () => {
    // One stream of two segments; no match at all → 0 (#141).
    within(
      corpusBleu(['this is a test', 'another test'], transposeStreams([['ref1', 'ref2']]), raw(0.01)).score,
      0,
      EPS,
    );
    within(corpusBleu(['this is a test'], [['this is a test']], raw(0.01)).score / 100, 1, EPS);
    within(corpusBleu(['this is a fest'], [['this is a test']], raw(0.01)).score / 100, 0.223606797749979, EPS);
  });

  it('test_effective_order', () => {
    within(corpusBleu(['test'], [['a test']], raw(0.01)).score / 100, 0.3678794411714425, EPS);
    within(corpusBleu(['a test'], [['a test']], raw(0.01)).score / 100, 1, EPS);
    within(corpusBleu(['a little test'], [['a test']], raw(0.01)).score / 100, 0.03218297948685433, EPS);
  });

  it('test_statistics: matches and totals per order', () => {
    const r = corpusBleu(['am I am a character sequence'], [['I am a symbol string sequence a a']], raw(0.01));
    expect(r.counts).toEqual([4, 2, 1, 0]);
    expect(r.totals).toEqual([6, 5, 4, 3]);
  });

  it('test_offset: no matching 4-grams, floor 0 gives 0, the default floor 0.1 gives 0.1555722182', () => {
    const h = ['am I am a character sequence'];
    const r = [['I am a symbol string sequence a a']];
    within(corpusBleu(h, r, raw(0)).score / 100, 0, EPS);
    within(corpusBleu(h, r, raw()).score / 100, 0.1555722182, EPS);
  });

  it('test_scoring: BLEU from statistics, no smoothing', () => {
    const s = { counts: [9, 7, 5, 3], totals: [10, 8, 6, 4], sysLen: 11, refLen: 11 };
    within(computeBleu(s, { smoothMethod: 'none' }).score / 100, 0.8375922397, EPS);
  });

  it('test_degenerate_statistics: floor smoothing with null statistics gives exactly 0', () => {
    const cases: [number[], number[], number, number, number][] = [
      [[0, 0, 0, 0], [4, 4, 2, 1], 0, 1, 0],
      [[0, 0, 0, 0], [10, 11, 12, 0], 14, 10, 0],
      [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0],
      [[6, 5, 4, 0], [6, 5, 4, 3], 6, 6, 0],
      [[0, 0, 0, 0], [0, 0, 0, 0], 0, 0, 0.1],
      [[0, 0, 0, 0], [0, 0, 0, 0], 1, 5, 0.01],
    ];
    for (const [counts, totals, sysLen, refLen, offset] of cases)
      expect(
        computeBleu({ counts, totals, sysLen, refLen }, { smoothMethod: 'floor', smoothValue: offset }).score,
      ).toBe(0);
  });
});

describe('sentenceBleu — sacreBLEU test_sentence_bleu.py (issue #98 example, EPSILON 1e-3)', () => {
  const REF = 'producţia de zahăr brut se exprimă în zahăr alb;';
  const SYS = 'Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;';
  const cases: [BleuOptions['smoothMethod'], number | undefined, boolean, BleuOptions['tokenize'], number][] = [
    ['exp', undefined, false, '13a', 8.493],
    ['none', undefined, false, '13a', 0.0],
    ['floor', undefined, false, '13a', 4.51688],
    ['floor', 0.1, false, '13a', 4.51688],
    ['floor', 0.5, false, '13a', 10.1],
    ['add-k', undefined, false, '13a', 14.882],
    ['add-k', 1, false, '13a', 14.882],
    ['add-k', 2, false, '13a', 21.389],
    ['exp', undefined, false, 'none', 7.347],
    ['exp', undefined, false, 'intl', 8.493],
    ['exp', undefined, false, 'char', 40.8759],
    ['exp', undefined, true, 'char', 42.0267],
  ];
  it.each(cases)(
    'test_api_sentence_bleu %s %s lowercase=%s tok=%s → %s',
    (smoothMethod, smoothValue, lowercase, tokenize, want) => {
      within(sentenceBleu(SYS, [REF], { smoothMethod, smoothValue, lowercase, tokenize }).score, want, 1e-3);
    },
  );

  it('test_api_sentence_bleu_zero (issue #141): no match gives 0 under every smoothing', () => {
    for (const smoothMethod of ['exp', 'none', 'floor', 'add-k'] as const)
      expect(sentenceBleu('this is a cat', ['okay thanks'], { smoothMethod }).score).toBe(0);
  });
});

describe('the BLEU paper example (Papineni et al. 2002) and NLTK docstring values', () => {
  const cand1 = 'It is a guide to action which ensures that the military always obeys the commands of the party';
  const cand2 = 'It is to insure the troops forever hearing the activity guidebook that party direct';
  const refs = [
    'It is a guide to action that ensures that the military will forever heed Party commands',
    'It is the guiding principle which guarantees the military forces always being under the command of the Party',
    'It is the practical guide for the army always to heed the directions of the party',
  ];
  const plain: BleuOptions = { tokenize: 'none', smoothMethod: 'none' };

  it('Example 1: modified unigram precision 17/18 and 8/14, bigram 10/17 and 1/13', () => {
    const a = corpusBleu([cand1], [refs], plain);
    expect([a.counts[0], a.totals[0], a.counts[1], a.totals[1]]).toEqual([17, 18, 10, 17]);
    const b = corpusBleu([cand2], [refs], plain);
    expect([b.counts[0], b.totals[0], b.counts[1], b.totals[1]]).toEqual([8, 14, 1, 13]);
  });

  it('Example 2: "the the the the the the the" has modified unigram precision 2/7', () => {
    const r = corpusBleu(
      ['the the the the the the the'],
      [['the cat is on the mat', 'there is a cat on the mat']],
      plain,
    );
    expect([r.counts[0], r.totals[0]]).toEqual([2, 7]);
  });

  it("NLTK's sentence_bleu (0.5045666840058485) and corpus_bleu (0.5920778868801042) of the example", () => {
    // Unsmoothed and whitespace-tokenized, NLTK and sacreBLEU agree (same clipping, closest
    // reference length with ties to the shorter, corpus-level sums).
    within(sentenceBleu(cand1, refs, plain).score / 100, 0.5045666840058485, 1e-12);
    const hyp2 = 'he read the book because he was interested in world history';
    const ref2 = 'he was interested in world history because he read the book';
    within(corpusBleu([cand1, hyp2], [refs, [ref2]], plain).score / 100, 0.5920778868801042, 1e-12);
  });
});

describe('tokenize13a', () => {
  it('follows mteval-v13a: symbols padded, . and , split except next to digits, dash after a digit', () => {
    expect(tokenize13a("It wasn't surprising.")).toBe("It wasn't surprising .");
    expect(tokenize13a('costs $3,000.50, i.e. a lot')).toBe('costs $ 3,000.50 , i . e . a lot');
    expect(tokenize13a('the 1990-2000 well-known [note]')).toBe('the 1990 - 2000 well-known [ note ]');
    expect(tokenize13a('a &quot;b&quot; &amp; c&lt;d&gt;')).toBe('a " b " & c < d >');
    expect(tokenize13a('line-\nbreak<skipped> here\nthere')).toBe('linebreak here there');
    expect(tokenize13a('  ')).toBe('');
  });

  it("splits on Python's whitespace set, not JavaScript's", () => {
    // U+001F is whitespace to Python's str.split(); U+FEFF (a JS \s) is not.
    expect(tokenize13a('a\u001fb')).toBe('a b');
    expect(tokenize13a('a\ufeffb')).toBe('a\ufeffb');
  });
});

describe('edge cases and bad input', () => {
  it('a hypothesis longer than its reference has no brevity penalty', () => {
    const r = corpusBleu(['a b c d e f g h'], [['a b c d e']], { tokenize: 'none' });
    expect(r.bp).toBe(1);
    expect(r.sysLen).toBe(8);
    expect(r.refLen).toBe(5);
    // p = 5/8, 4/7, 3/6, 2/5 (percent): BLEU = 100·(5/8·4/7·3/6·2/5)^(1/4).
    expect(r.score).toBeCloseTo(100 * Math.pow((5 / 8) * (4 / 7) * (3 / 6) * (2 / 5), 0.25), 9);
  });

  it('the closest reference length wins, the shorter on ties', () => {
    expect(corpusBleu(['a b c'], [['a b', 'a b c d']], { tokenize: 'none' }).refLen).toBe(2);
    expect(corpusBleu(['a b c'], [['a b c d e', 'a b c d']], { tokenize: 'none' }).refLen).toBe(4);
  });

  it('no matching 4-grams: 0 without smoothing, positive with exp smoothing', () => {
    const h = ['the cat sat on mat'];
    const r = [['the cat sat down on the mat']];
    const none = corpusBleu(h, r, { smoothMethod: 'none' });
    expect(none.counts[3]).toBe(0);
    expect(none.score).toBe(0);
    // exp: p4 = 100/(2·2) = 25 percent (the first zero order, 2 hypothesis 4-grams).
    const exp = corpusBleu(h, r);
    expect(exp.precisions[3]).toBe(25);
    expect(exp.score).toBeGreaterThan(0);
  });

  it('an empty hypothesis scores 0 (sentence and corpus)', () => {
    expect(sentenceBleu('', ['a reference']).score).toBe(0);
    expect(corpusBleu([''], [['a reference']]).score).toBe(0);
  });

  it('rejects an empty reference list, naming the segment', () => {
    expect(() => corpusBleu(['a', 'b'], [['a'], []])).toThrow(MetricInputError);
    expect(() => corpusBleu(['a', 'b'], [['a'], []])).toThrow(/segment 1 has an empty reference list/);
    expect(() => sentenceBleu('a', [])).toThrow(/reference list is empty/);
  });

  it('rejects mismatched counts of hypotheses and references', () => {
    expect(() => corpusBleu(['a', 'b', 'c'], [['a'], ['b']])).toThrow(/3 hypotheses but 2 reference lists/);
    expect(() => corpusBleu([], [])).toThrow(/no hypotheses/);
    expect(() => transposeStreams([['a', 'b'], ['a']])).toThrow(/stream 1 has 1 segments but stream 0 has 2/);
  });

  it('variable numbers of references per segment (null in a stream) are allowed', () => {
    expect(
      transposeStreams([
        ['a', 'b'],
        ['c', null],
      ]),
    ).toEqual([['a', 'c'], ['b']]);
  });
});
