// The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980) with
// the extensions of NLTK's default mode (nltk.stem.porter.PorterStemmer(), mode NLTK_EXTENSIONS),
// because that is the stemmer rouge-score applies with use_stemmer=True. Written from the
// algorithm's description; the NLTK departures from the 1980 paper are marked (NLTK) below.
//   c = consonant: a letter other than a e i o u, and y when it follows a vowel or starts the word
//   m = measure: the number of VC pairs in [C](VC)^m[V]
//   *v* = the stem contains a vowel; *d = ends in a double consonant; *o = ends cvc with the last c
//   not w, x or y (NLTK: or the stem is exactly vc)
// Each step applies the first rule whose suffix matches; if that rule's condition fails, the step
// leaves the word unchanged (later rules of the step are not tried).

type Cond = (stem: string) => boolean;
type Rule = readonly [suffix: string, replacement: string, cond: Cond | null];

/** (NLTK) irregular forms looked up before any rule. */
const IRREGULAR: ReadonlyMap<string, string> = new Map(
  (
    [
      ['sky', ['sky', 'skies']],
      ['die', ['dying']],
      ['lie', ['lying']],
      ['tie', ['tying']],
      ['news', ['news']],
      ['inning', ['innings', 'inning']],
      ['outing', ['outings', 'outing']],
      ['canning', ['cannings', 'canning']],
      ['howe', ['howe']],
      ['proceed', ['proceed']],
      ['exceed', ['exceed']],
      ['succeed', ['succeed']],
    ] as const
  ).flatMap(([stem, forms]) => forms.map((f) => [f, stem] as const)),
);

const isVowelLetter = (ch: string | undefined) => ch === 'a' || ch === 'e' || ch === 'i' || ch === 'o' || ch === 'u';

function isConsonant(w: string, i: number): boolean {
  if (isVowelLetter(w[i])) return false;
  if (w[i] === 'y') return i === 0 ? true : !isConsonant(w, i - 1);
  return true;
}

function measure(stem: string): number {
  let m = 0;
  for (let i = 1; i < stem.length; i++) if (!isConsonant(stem, i - 1) && isConsonant(stem, i)) m++;
  return m;
}

const positive: Cond = (s) => measure(s) > 0;
const over1: Cond = (s) => measure(s) > 1;

function hasVowel(stem: string): boolean {
  for (let i = 0; i < stem.length; i++) if (!isConsonant(stem, i)) return true;
  return false;
}

const endsDouble = (w: string) => w.length >= 2 && w.at(-1) === w.at(-2) && isConsonant(w, w.length - 1);

function endsCvc(w: string): boolean {
  const n = w.length;
  if (n >= 3 && isConsonant(w, n - 3) && !isConsonant(w, n - 2) && isConsonant(w, n - 1))
    return !'wxy'.includes(w[n - 1]!);
  return n === 2 && !isConsonant(w, 0) && isConsonant(w, 1); // (NLTK)
}

/** The first rule whose suffix matches decides ('*d' stands for "ends in a double consonant"). */
function applyRules(word: string, rules: readonly Rule[]): string {
  for (const [suffix, rep, cond] of rules) {
    if (suffix === '*d') {
      if (!endsDouble(word)) continue;
      const stem = word.slice(0, -2);
      return cond === null || cond(stem) ? stem + rep : word;
    }
    if (word.endsWith(suffix)) {
      const stem = word.slice(0, word.length - suffix.length);
      return cond === null || cond(stem) ? stem + rep : word;
    }
  }
  return word;
}

function step1a(w: string): string {
  if (w.endsWith('ies') && w.length === 4) return w.slice(0, -3) + 'ie'; // (NLTK) dies → die
  return applyRules(w, [
    ['sses', 'ss', null],
    ['ies', 'i', null],
    ['ss', 'ss', null],
    ['s', '', null],
  ]);
}

function step1b(w: string): string {
  if (w.endsWith('ied')) return w.slice(0, -3) + (w.length === 4 ? 'ie' : 'i'); // (NLTK) died → die
  if (w.endsWith('eed')) {
    const stem = w.slice(0, -3);
    return measure(stem) > 0 ? stem + 'ee' : w;
  }
  let stem: string | null = null;
  for (const suffix of ['ed', 'ing'])
    if (w.endsWith(suffix) && hasVowel(w.slice(0, -suffix.length))) {
      stem = w.slice(0, -suffix.length);
      break;
    }
  if (stem === null) return w;
  const last = stem.at(-1)!;
  return applyRules(stem, [
    ['at', 'ate', null],
    ['bl', 'ble', null],
    ['iz', 'ize', null],
    ['*d', last, () => !'lsz'.includes(last)],
    ['', 'e', (s) => measure(s) === 1 && endsCvc(s)],
  ]);
}

// (NLTK) y → i only after a consonant that is not the first letter (the paper: *v*).
const step1c = (w: string) => applyRules(w, [['y', 'i', (s) => s.length > 1 && isConsonant(s, s.length - 1)]]);

function step2(w: string): string {
  // (NLTK) -alli first becomes -al, then step 2 runs again.
  if (w.endsWith('alli') && positive(w.slice(0, -4))) return step2(w.slice(0, -4) + 'al');
  return applyRules(w, [
    ['ational', 'ate', positive],
    ['tional', 'tion', positive],
    ['enci', 'ence', positive],
    ['anci', 'ance', positive],
    ['izer', 'ize', positive],
    ['bli', 'ble', positive], // the paper's abli → able, as Porter later corrected it
    ['alli', 'al', positive],
    ['entli', 'ent', positive],
    ['eli', 'e', positive],
    ['ousli', 'ous', positive],
    ['ization', 'ize', positive],
    ['ation', 'ate', positive],
    ['ator', 'ate', positive],
    ['alism', 'al', positive],
    ['iveness', 'ive', positive],
    ['fulness', 'ful', positive],
    ['ousness', 'ous', positive],
    ['aliti', 'al', positive],
    ['iviti', 'ive', positive],
    ['biliti', 'ble', positive],
    ['fulli', 'ful', positive], // (NLTK)
    ['logi', 'log', () => positive(w.slice(0, -3))], // (NLTK) the measure of the word less "ogi"
  ]);
}

const step3 = (w: string) =>
  applyRules(w, [
    ['icate', 'ic', positive],
    ['ative', '', positive],
    ['alize', 'al', positive],
    ['iciti', 'ic', positive],
    ['ical', 'ic', positive],
    ['ful', '', positive],
    ['ness', '', positive],
  ]);

const step4 = (w: string) =>
  applyRules(w, [
    ...(['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent'] as const).map((s): Rule => [
      s,
      '',
      over1,
    ]),
    ['ion', '', (s) => measure(s) > 1 && (s.endsWith('s') || s.endsWith('t'))],
    ...(['ou', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize'] as const).map((s): Rule => [s, '', over1]),
  ]);

function step5a(w: string): string {
  if (!w.endsWith('e')) return w;
  const stem = w.slice(0, -1);
  const m = measure(stem);
  return m > 1 || (m === 1 && !endsCvc(stem)) ? stem : w;
}

const step5b = (w: string) => applyRules(w, [['ll', 'l', () => measure(w.slice(0, -1)) > 1]]);

/** The stem of a word (lower-cased first, as NLTK does). */
export function porterStem(word: string): string {
  const w = word.toLowerCase();
  const irregular = IRREGULAR.get(word); // looked up before lower-casing, as NLTK does
  if (irregular !== undefined) return irregular;
  if (w.length <= 2) return w; // (NLTK) the paper stems two-letter words too
  return step5b(step5a(step4(step3(step2(step1c(step1b(step1a(w))))))));
}

/** The steps one by one, for testing them on the paper's per-step examples. */
export const porterSteps = { step1a, step1b, step1c, step2, step3, step4, step5a, step5b } as const;
