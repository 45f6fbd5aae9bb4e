// ROUGE (Lin 2004) as Google's rouge-score computes it (github.com/google-research/google-research,
// rouge/rouge_scorer.py, tokenize.py; equivalent to ROUGE-1.5.5.pl -e data -n 2 [-m]).
// Tokens: lower-case, replace every run of characters outside [a-z0-9] by a space, split on
// whitespace; with stemming, Porter-stem (NLTK's default mode, ./porter.ts) the tokens longer than
// 3 characters; keep only non-empty [a-z0-9]+ tokens. Non-ASCII letters therefore vanish.
//   ROUGE-N : overlap = Σ_g min(count_target(g), count_prediction(g)) over n-grams g,
//             P = overlap / max(#prediction n-grams, 1), R = overlap / max(#target n-grams, 1)
//   ROUGE-L : with L = |LCS(target, prediction)|, P = L / |prediction|, R = L / |target|
//             (0 when either is empty)
//   ROUGE-Lsum (summary level, Lin 2004 §3.2): split both texts into sentences at "\n" (empty lines
//             dropped), tokenize each; for every target sentence r, take the union over prediction
//             sentences c of the target positions in one LCS(r, c); each token of that union counts
//             as a hit while unused copies of it remain in both texts (ROUGE-1.5.5's guard against
//             double counting). P = hits / prediction tokens, R = hits / target tokens.
//   F = 2PR / (P + R), 0 when P + R = 0.
// One target per prediction, as rouge-score's score(); score several references by taking the
// per-example max yourself (rouge-score's score_multi does that on F).
import { checkSameLength, counter, MetricInputError, overlap } from './text.ts';
import { porterStem } from './porter.ts';

export type RougeType = 'rouge1' | 'rouge2' | 'rougeL' | 'rougeLsum' | `rouge${number}`;

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export interface RougeOptions {
  useStemmer?: boolean;
}

export function rougeTokenize(text: string, useStemmer = false): string[] {
  const toks = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(/\s+/);
  return toks.map((t) => (useStemmer && t.length > 3 ? porterStem(t) : t)).filter((t) => /^[a-z0-9]+$/.test(t));
}

const fmeasure = (p: number, r: number) => (p + r > 0 ? (2 * p * r) / (p + r) : 0);
const score = (precision: number, recall: number): RougeScore => ({
  precision,
  recall,
  fmeasure: fmeasure(precision, recall),
});

function ngrams(tokens: readonly string[], n: number): Map<string, number> {
  const grams: string[] = [];
  for (let i = 0; i + n <= tokens.length; i++) grams.push(tokens.slice(i, i + n).join(' '));
  return counter(grams);
}

export function rougeN(target: readonly string[], prediction: readonly string[], n: number): RougeScore {
  const t = ngrams(target, n);
  const p = ngrams(prediction, n);
  const hits = overlap(t, p);
  const total = (m: Map<string, number>) => [...m.values()].reduce((s, c) => s + c, 0);
  return score(hits / Math.max(total(p), 1), hits / Math.max(total(t), 1));
}

/** The DP table of LCS lengths: table[i][j] = |LCS(ref[:i], can[:j])|. */
function lcsTable<T>(ref: readonly T[], can: readonly T[]): Uint32Array[] {
  const t = Array.from({ length: ref.length + 1 }, () => new Uint32Array(can.length + 1));
  for (let i = 1; i <= ref.length; i++)
    for (let j = 1; j <= can.length; j++)
      t[i]![j] = ref[i - 1] === can[j - 1] ? t[i - 1]![j - 1]! + 1 : Math.max(t[i - 1]![j]!, t[i]![j - 1]!);
  return t;
}

/** Positions in ref of one LCS of ref and can, read back from the end as rouge-score does. */
export function lcsIndices<T>(ref: readonly T[], can: readonly T[]): number[] {
  const t = lcsTable(ref, can);
  const out: number[] = [];
  let i = ref.length,
    j = can.length;
  while (i > 0 && j > 0) {
    if (ref[i - 1] === can[j - 1]) {
      out.push(i - 1);
      i--;
      j--;
    } else if (t[i]![j - 1]! > t[i - 1]![j]!) j--;
    else i--;
  }
  return out.reverse();
}

export function lcsLength<T>(ref: readonly T[], can: readonly T[]): number {
  return lcsTable(ref, can)[ref.length]![can.length]!;
}

export function rougeL(target: readonly string[], prediction: readonly string[]): RougeScore {
  if (target.length === 0 || prediction.length === 0) return score(0, 0);
  const L = lcsLength(target, prediction);
  return score(L / prediction.length, L / target.length);
}

/** The union LCS of one reference sentence against every candidate sentence, as tokens of ref. */
export function unionLcs<T>(ref: readonly T[], candidates: readonly (readonly T[])[]): T[] {
  const idx = new Set<number>();
  for (const c of candidates) for (const i of lcsIndices(ref, c)) idx.add(i);
  return [...idx].sort((a, b) => a - b).map((i) => ref[i]!);
}

/** Summary-level LCS over tokenized sentences. */
export function summaryLevelLcs(
  refSents: readonly (readonly string[])[],
  canSents: readonly (readonly string[])[],
): RougeScore {
  if (refSents.length === 0 || canSents.length === 0) return score(0, 0);
  const m = refSents.reduce((s, x) => s + x.length, 0);
  const n = canSents.reduce((s, x) => s + x.length, 0);
  if (m === 0 || n === 0) return score(0, 0);
  const leftR = counter(refSents.flat());
  const leftC = counter(canSents.flat());
  let hits = 0;
  for (const r of refSents)
    for (const tok of unionLcs(r, canSents)) {
      if ((leftC.get(tok) ?? 0) > 0 && (leftR.get(tok) ?? 0) > 0) {
        hits++;
        leftC.set(tok, leftC.get(tok)! - 1);
        leftR.set(tok, leftR.get(tok)! - 1);
      }
    }
  return score(hits / n, hits / m);
}

const sentences = (text: string, stem: boolean) =>
  text
    .split('\n')
    .filter((s) => s.length > 0)
    .map((s) => rougeTokenize(s, stem));

/** rouge-score's RougeScorer(types, use_stemmer).score(target, prediction). */
export function rougeScore(
  target: string,
  prediction: string,
  types: readonly RougeType[] = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'],
  opts: RougeOptions = {},
): Record<string, RougeScore> {
  const stem = opts.useStemmer ?? false;
  const t = rougeTokenize(target, stem);
  const p = rougeTokenize(prediction, stem);
  const out: Record<string, RougeScore> = {};
  for (const type of types) {
    if (type === 'rougeL') out[type] = rougeL(t, p);
    else if (type === 'rougeLsum') out[type] = summaryLevelLcs(sentences(target, stem), sentences(prediction, stem));
    else if (/^rouge[1-9]$/.test(type)) out[type] = rougeN(t, p, Number(type.slice(5)));
    else throw new MetricInputError(`unknown ROUGE type ${JSON.stringify(type)} (rouge1..rouge9, rougeL, rougeLsum)`);
  }
  return out;
}

export interface RougeCorpus {
  /** Per type: the mean of the per-example precision, recall and F (rouge-score's "mid" without bootstrap). */
  mean: Record<string, RougeScore>;
  perExample: Record<string, RougeScore>[];
}

/** Scores every (target, prediction) pair and averages each number over the examples. */
export function rougeCorpus(
  targets: readonly string[],
  predictions: readonly string[],
  types: readonly RougeType[] = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'],
  opts: RougeOptions = {},
): RougeCorpus {
  checkSameLength(targets, 'targets', predictions, 'predictions');
  if (targets.length === 0) throw new MetricInputError('no examples to score');
  const perExample = targets.map((t, i) => rougeScore(t, predictions[i]!, types, opts));
  const mean: Record<string, RougeScore> = {};
  for (const type of types) {
    const avg = (k: keyof RougeScore) => perExample.reduce((s, e) => s + e[type]![k], 0) / perExample.length;
    mean[type] = { precision: avg('precision'), recall: avg('recall'), fmeasure: avg('fmeasure') };
  }
  return { mean, perExample };
}
