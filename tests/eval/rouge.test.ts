// ROUGE against rouge-score's own tests (github.com/google-research/google-research, rouge/
// rouge_scorer_test.py, tokenize_test.py, tokenizers_test.py; test names given per fixture). The
// *AgainstRouge155 values are, per that file, "taken from manual runs of ROUGE-1.5.5"; their inputs
// are rouge/testdata files, copied verbatim into fixtures/rouge-testdata.json. Also the Porter
// stemmer against NLTK's nltk/test/stem.doctest.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { porterStem, porterSteps } from '../../train/eval/porter.ts';
import {
  lcsIndices,
  lcsLength,
  rougeCorpus,
  rougeScore,
  rougeTokenize,
  summaryLevelLcs,
  unionLcs,
  type RougeType,
} from '../../train/eval/rouge.ts';
import { MetricInputError } from '../../train/eval/text.ts';

const data = JSON.parse(readFileSync(new URL('./fixtures/rouge-testdata.json', import.meta.url), 'utf8')) as {
  files: Record<string, string>;
};
// Python's readlines(): lines keep their "\n".
const lines = (name: string) => data.files[name]!.split(/(?<=\n)/);
const targets = lines('target.txt');
const predictions = lines('prediction.txt');

/** assertAlmostEqual(want, got, places): round(got − want, places) == 0. */
const almost = (got: number, want: number, places = 7) =>
  expect(Math.abs(got - want)).toBeLessThan(0.5 * 10 ** -places);

function check(
  target: string,
  prediction: string,
  type: RougeType,
  want: [r: number, p: number, f: number],
  stem = false,
) {
  const s = rougeScore(target, prediction, [type], { useStemmer: stem })[type]!;
  almost(s.recall, want[0], 5);
  almost(s.precision, want[1], 5);
  almost(s.fmeasure, want[2], 5);
}

describe('rougeScore — rouge_scorer_test.py', () => {
  it('testRouge1, testRouge2, testRougeLConsecutive, testRougeLNonConsecutive, testMultipleRougeTypes', () => {
    const r1 = rougeScore('testing one two', 'testing', ['rouge1']).rouge1!;
    almost(r1.precision, 1);
    almost(r1.recall, 1 / 3);
    almost(r1.fmeasure, 1 / 2);
    const r2 = rougeScore('testing one two', 'testing one', ['rouge2']).rouge2!;
    almost(r2.precision, 1);
    almost(r2.recall, 1 / 2);
    almost(r2.fmeasure, 2 / 3);
    for (const pred of ['testing one', 'testing two']) {
      const l = rougeScore('testing one two', pred, ['rougeL']).rougeL!;
      almost(l.precision, 1);
      almost(l.recall, 2 / 3);
      almost(l.fmeasure, 4 / 5);
    }
    const m = rougeScore('testing one two', 'testing one', ['rouge1', 'rougeL']);
    expect(Object.keys(m).sort()).toEqual(['rouge1', 'rougeL']);
    almost(m.rouge1!.fmeasure, 4 / 5);
    almost(m.rougeL!.fmeasure, 4 / 5);
  });

  it.each(['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const)(
    'testRougeEmpty (%s): empty prediction scores 0',
    (t) => {
      expect(rougeScore('testing one two', '', [t])[t]).toEqual({ precision: 0, recall: 0, fmeasure: 0 });
    },
  );

  it('testValidRougeTypes / testInvalidRougeTypes', () => {
    for (const t of ['rouge1', 'rouge9', 'rougeL', 'rougeLsum'] as const)
      expect(Object.keys(rougeScore('testing one two', 'testing', [t]))).toEqual([t]);
    for (const t of ['rougen', 'rouge0', 'rouge10'])
      expect(() => rougeScore('testing one two', 'testing', [t as RougeType])).toThrow(MetricInputError);
  });

  it('testRouge1AgainstRouge155', () => {
    check(targets[0]!, predictions[0]!, 'rouge1', [0.40741, 0.6875, 0.51163]);
    check(targets[1]!, predictions[1]!, 'rouge1', [0.40476, 0.65385, 0.5]);
  });

  it('testRouge1AgainstRouge155WithStemming', () => {
    check(targets[0]!, predictions[0]!, 'rouge1', [0.40741, 0.6875, 0.51163], true);
    check(targets[1]!, predictions[1]!, 'rouge1', [0.42857, 0.69231, 0.52941], true);
  });

  it('testRouge2AgainstRouge155 (with and without stemming)', () => {
    for (const stem of [false, true]) {
      check(targets[0]!, predictions[0]!, 'rouge2', [0.30769, 0.53333, 0.39024], stem);
      check(targets[1]!, predictions[1]!, 'rouge2', [0.29268, 0.48, 0.36364], stem);
    }
  });

  it('testRougeLAgainstRouge155', () => {
    check(targets[0]!, predictions[0]!, 'rougeL', [0.40741, 0.6875, 0.51163]);
    check(targets[1]!, predictions[1]!, 'rougeL', [0.40476, 0.65385, 0.5]);
  });

  it('testRougeLSumAgainstRouge155WithStemming', () => {
    check(
      data.files['target_multi.0.txt']!,
      data.files['prediction_multi.0.txt']!,
      'rougeLsum',
      [0.36538, 0.66667, 0.47205],
      true,
    );
  });

  it('testRougeLsum: the union-LCS example and its empty cases', () => {
    const s = rougeScore('w1 w2 w3 w4 w5', 'w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5', ['rougeLsum']).rougeLsum!;
    almost(s.recall, 0.8);
    almost(s.precision, 0.4);
    almost(s.fmeasure, 0.5333, 3);
    const zero = { precision: 0, recall: 0, fmeasure: 0 };
    expect(rougeScore('w1 w2 w3 w4 w5', '', ['rougeLsum']).rougeLsum).toEqual(zero);
    expect(rougeScore('', 'w1', ['rougeLsum']).rougeLsum).toEqual(zero);
    expect(rougeScore('w1 w2 w3 w4 w5', '/', ['rougeLsum']).rougeLsum).toEqual(zero); // all non-word
  });
});

describe('LCS helpers — rouge_scorer_test.py', () => {
  it('testLcsTable', () => {
    const ref = [1, 2, 3, 4, 5];
    expect(lcsLength(ref, [2, 5, 3, 4])).toBe(3);
    expect(lcsIndices(ref, [2, 5, 3, 4])).toEqual([1, 2, 3]);
    expect(lcsLength(ref, [8, 9])).toBe(0);
    expect(lcsIndices(ref, [8, 9])).toEqual([]);
  });

  it('testUnionLcs (the example of Lin 2004 §3.2)', () => {
    expect(
      unionLcs(
        [1, 2, 3, 4, 5],
        [
          [1, 2, 6, 7, 8],
          [1, 3, 8, 9, 5],
        ],
      ),
    ).toEqual([1, 2, 3, 5]);
  });

  it('testSummaryLevelLcs', () => {
    const s = summaryLevelLcs(
      [['1', '2', '3', '4', '5']],
      [
        ['1', '2', '6', '7', '8'],
        ['1', '3', '8', '9', '5'],
      ],
    );
    expect(s.recall).toBe(0.8);
    expect(s.precision).toBe(0.4);
    almost(s.fmeasure, 0.5333, 3);
    expect(summaryLevelLcs([['reference']], [[]]).recall).toBe(0);
  });
});

describe('rougeTokenize — tokenize_test.py, tokenizers_test.py', () => {
  it('lower-cases and splits on non-alphanumerics', () => {
    expect(rougeTokenize('one Two three')).toEqual(['one', 'two', 'three']);
    expect(rougeTokenize('one\n Two \nthree')).toEqual(['one', 'two', 'three']);
    expect(rougeTokenize('this is a test')).toEqual(['this', 'is', 'a', 'test']);
    expect(rougeTokenize("don't e-mail Zoë")).toEqual(['don', 't', 'e', 'mail', 'zo']); // non-ASCII letters vanish
  });

  it('test_default_tokenizer_with_stemmer_init: stems only tokens longer than 3 characters', () => {
    expect(rougeTokenize('the friends had a meeting', true)).toEqual(['the', 'friend', 'had', 'a', 'meet']);
    expect(rougeTokenize('dies flies', true)).toEqual(['die', 'fli']);
  });
});

describe('porterStem — nltk/test/stem.doctest and test_stem.py (NLTK_EXTENSIONS mode)', () => {
  it('stems the doctest plurals', () => {
    const plurals =
      'caresses flies dies mules denied died agreed owned humbled sized meeting stating siezing itemization sensational traditional reference colonizer plotted';
    expect(plurals.split(' ').map(porterStem).join(' ')).toBe(
      'caress fli die mule deni die agre own humbl size meet state siez item sensat tradit refer colon plot',
    );
  });

  it('test_oed_bug and test_lowercase_option', () => {
    expect(porterStem('oed')).toBe('o');
    expect(porterStem('On')).toBe('on');
    expect(porterStem('I')).toBe('i');
    expect(porterStem('Github')).toBe('github');
  });

  it("the paper's step examples (Porter 1980, as NLTK's docstrings quote them)", () => {
    const cases: [string, string][] = [
      ['caresses', 'caress'],
      ['ponies', 'poni'],
      ['cats', 'cat'],
      ['feed', 'feed'],
      ['plastered', 'plaster'],
      ['bled', 'bled'],
      ['motoring', 'motor'],
      ['sing', 'sing'],
      ['hopping', 'hop'],
      ['falling', 'fall'],
      ['hissing', 'hiss'],
      ['failing', 'fail'],
      ['filing', 'file'],
      ['happy', 'happi'],
      ['sky', 'sky'],
    ];
    for (const [w, s] of cases) expect(porterStem(w)).toBe(s);
  });
});

describe('porterSteps — the per-step examples of Porter (1980), "An algorithm for suffix stripping"', () => {
  const table: Record<keyof typeof porterSteps, string> = {
    // ties → ti in the paper; NLTK's extension makes four-letter -ies words end in -ie.
    step1a: 'caresses caress ponies poni ties tie caress caress cats cat',
    step1b:
      'feed feed agreed agree plastered plaster bled bled motoring motor sing sing conflated conflate ' +
      'troubled trouble sized size hopping hop tanned tan falling fall hissing hiss fizzed fizz failing fail filing file',
    // The paper keeps sky (no vowel before y); NLTK's rule (y after a consonant that is not the
    // first letter) gives ski and spy → spi, enjoy unchanged; porterStem('sky') is sky by its table.
    step1c: 'happy happi sky ski spy spi enjoy enjoy',
    step2:
      'relational relate conditional condition rational rational valenci valence hesitanci hesitance ' +
      'digitizer digitize conformabli conformable radicalli radical differentli different vileli vile ' +
      'analogousli analogous vietnamization vietnamize predication predicate operator operate feudalism feudal ' +
      'decisiveness decisive hopefulness hopeful callousness callous formaliti formal sensitiviti sensitive ' +
      'sensibiliti sensible',
    step3:
      'triplicate triplic formative form formalize formal electriciti electric electrical electric hopeful hope goodness good',
    step4:
      'revival reviv allowance allow inference infer airliner airlin gyroscopic gyroscop adjustable adjust ' +
      'defensible defens irritant irrit replacement replac adjustment adjust dependent depend adoption adopt ' +
      'homologou homolog communism commun activate activ angulariti angular homologous homolog effective effect ' +
      'bowdlerize bowdler',
    step5a: 'probate probat rate rate cease ceas',
    step5b: 'controll control roll roll',
  };
  it.each(Object.keys(table) as (keyof typeof porterSteps)[])('%s', (step) => {
    const w = table[step].split(' ');
    for (let i = 0; i < w.length; i += 2) expect(`${w[i]} → ${porterSteps[step](w[i]!)}`).toBe(`${w[i]} → ${w[i + 1]}`);
  });
});

describe('rougeCorpus', () => {
  it('averages per-example scores and checks the counts', () => {
    const c = rougeCorpus(['testing one two', 'testing one two'], ['testing', 'testing one'], ['rouge1']);
    almost(c.mean.rouge1!.precision, 1);
    almost(c.mean.rouge1!.recall, (1 / 3 + 2 / 3) / 2);
    almost(c.mean.rouge1!.fmeasure, (1 / 2 + 4 / 5) / 2);
    expect(() => rougeCorpus(['a'], ['a', 'b'])).toThrow(/1 targets but 2 predictions/);
    expect(() => rougeCorpus([], [])).toThrow(/no examples/);
  });

  it('a prediction longer than the target: recall 1, precision below 1', () => {
    const s = rougeScore('the cat', 'the cat sat on the mat', ['rouge1', 'rougeL']);
    expect(s.rouge1!.recall).toBe(1);
    almost(s.rouge1!.precision, 2 / 6);
    almost(s.rougeL!.precision, 2 / 6);
  });
});
