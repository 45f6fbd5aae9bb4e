// Short-answer metrics of SQuAD v1.1 (the official evaluate-v1.1.py, Rajpurkar et al. 2016):
//   normalize(s)  = lower-case → drop ASCII punctuation (Python's string.punctuation) → replace the
//                   whole words a / an / the by a space → collapse whitespace (str.split + join)
//   EM(p, g)      = 1 if normalize(p) == normalize(g) else 0
//   F1(p, g)      = with P, G the normalized whitespace tokens and common = |P ∩ G| (multiset):
//                   0 if common == 0, else 2·prec·rec / (prec + rec), prec = common/|P|, rec = common/|G|
//   per question  = max over the gold answers of EM and of F1 (each maximised on its own)
//   corpus        = 100 × mean over questions.
// As in v1.1 (unlike v2.0), an empty prediction scores F1 0 even against an empty gold answer.
// "Whole word" follows Python's Unicode \b: letters, digits and '_' of any script are word characters.
import { checkSameLength, counter, MetricInputError, overlap, pySplit } from './text.ts';

const PUNCT = /[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g;
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;

export function normalizeAnswer(s: string): string {
  return pySplit(s.toLowerCase().replace(PUNCT, '').replace(ARTICLES, ' ')).join(' ');
}

export function exactMatch(prediction: string, gold: string): number {
  return normalizeAnswer(prediction) === normalizeAnswer(gold) ? 1 : 0;
}

export function tokenF1(prediction: string, gold: string): number {
  const p = pySplit(normalizeAnswer(prediction));
  const g = pySplit(normalizeAnswer(gold));
  const common = overlap(counter(p), counter(g));
  if (common === 0) return 0;
  const precision = common / p.length;
  const recall = common / g.length;
  return (2 * precision * recall) / (precision + recall);
}

function maxOverGolds(fn: (p: string, g: string) => number, prediction: string, golds: readonly string[]): number {
  if (golds.length === 0) throw new MetricInputError('a question has no gold answers (at least one is needed)');
  let best = -Infinity;
  for (const g of golds) best = Math.max(best, fn(prediction, g));
  return best;
}

export interface SquadScore {
  /** Per question: max EM and max F1 over its gold answers (0..1). */
  perExample: { exactMatch: number; f1: number }[];
  /** Percentages, as the official script prints them. */
  exactMatch: number;
  f1: number;
}

/** predictions[i] is scored against every answer in golds[i]. */
export function squadScores(predictions: readonly string[], golds: readonly (readonly string[])[]): SquadScore {
  checkSameLength(predictions, 'predictions', golds, 'gold answer lists');
  if (predictions.length === 0) throw new MetricInputError('no questions to score');
  const perExample = predictions.map((p, i) => {
    const g = golds[i]!;
    if (g.length === 0) throw new MetricInputError(`question ${i} has no gold answers (at least one is needed)`);
    return { exactMatch: maxOverGolds(exactMatch, p, g), f1: maxOverGolds(tokenF1, p, g) };
  });
  const mean = (k: 'exactMatch' | 'f1') => (100 * perExample.reduce((s, e) => s + e[k], 0)) / perExample.length;
  return { perExample, exactMatch: mean('exactMatch'), f1: mean('f1') };
}
