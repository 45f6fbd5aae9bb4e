// Infilling scored (`eval --task infill`): a held-out document with a seeded span of one to a few
// words masked, the model's filling compared word for word with what was there, and the mean loss
// over the masked tokens. Pure: the model runs in train/infill.ts.
import type { Rng } from '../../kernels/random.ts';
import type { FimParts } from '../data/fim.ts';

/**
 * Masks `1..maxWords` consecutive words of `doc` (words: runs of non-space characters; the count
 * and the place drawn from `rng`). The middle starts right after the word before it, so it holds
 * the whitespace in front of its first word (as a byte-level BPE puts a space in front of a word);
 * null when the document has no word.
 */
export function maskWords(doc: string, rng: Rng, maxWords = 3): FimParts | null {
  const words = [...doc.matchAll(/\S+/gu)];
  if (words.length === 0) return null;
  const k = 1 + rng.unbiasedInt(Math.min(maxWords, words.length));
  const first = rng.unbiasedInt(words.length - k + 1);
  const prev = words[first - 1];
  const last = words[first + k - 1]!;
  const a = prev ? prev.index + prev[0].length : words[first]!.index;
  const b = last.index + last[0].length;
  return { prefix: doc.slice(0, a), middle: doc.slice(a, b), suffix: doc.slice(b) };
}

/** Words separated by single spaces, no space around: how fillings are compared. */
export function normalizeWords(s: string): string {
  return s.trim().split(/\s+/u).filter(Boolean).join(' ');
}

/** Whether the filling has exactly the masked words (case, punctuation and all; whitespace between
 *  and around them does not count). */
export function infillExactMatch(predicted: string, target: string): boolean {
  return normalizeWords(predicted) === normalizeWords(target);
}

/** One scored document. */
export interface InfillItem {
  prefix: string;
  middle: string;
  suffix: string;
  /** What the model filled in (greedy). */
  predicted: string;
  exact: boolean;
  /** Summed negative log-likelihood of the middle's tokens given the prefix and suffix, nats. */
  nll: number;
  /** Middle tokens scored. */
  tokens: number;
}

export interface InfillScore {
  documents: number;
  /** Share of documents filled exactly, in [0, 1]. */
  exactMatch: number;
  /** Mean loss per middle token, nats (NaN when no token was scored). */
  middleLoss: number;
  middleTokens: number;
}

export function summarizeInfill(items: readonly InfillItem[]): InfillScore {
  const tokens = items.reduce((s, it) => s + it.tokens, 0);
  const nll = items.reduce((s, it) => s + it.nll, 0);
  return {
    documents: items.length,
    exactMatch: items.length ? items.filter((it) => it.exact).length / items.length : NaN,
    middleLoss: tokens ? nll / tokens : NaN,
    middleTokens: tokens,
  };
}
