// Fill-in-the-middle (Bavarian et al. 2022, "Efficient Training of Language Models to Fill in the
// Middle"): a document cut at two random character positions into prefix, middle and suffix is
// moved around so that a left-to-right model reads the middle last, after both ends:
//   PSM  <PRE> prefix <SUF> suffix <MID> middle
//   SPM  <PRE> <SUF> suffix <MID> prefix middle      (the paper's SPM variant for joint training:
//        prefix and middle are contiguous, so the middle simply continues the prefix's text)
// The loss is the ordinary next-token loss over the whole sequence. Pure functions: the cuts come
// from the caller's Rng, the ids from the tokenizer's sentinels (tokenizers/special.ts).
import type { Rng } from '../../kernels/random.ts';
import type { FimIds, Tokenizer } from '../tokenizers/index.ts';

export type FimMode = 'psm' | 'spm';
export const FIM_MODES: readonly FimMode[] = ['psm', 'spm'];

export interface FimParts {
  prefix: string;
  middle: string;
  suffix: string;
}

/** UTF-16 offset of each code point of `text`, then text.length: the places a cut may fall. */
export function cutPoints(text: string): number[] {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    out.push(i);
    const c = text.charCodeAt(i);
    const next = text.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
  }
  out.push(text.length);
  return out;
}

/** Cuts `text` before code points `i` and `j` (0 <= i <= j <= code point count). */
export function splitAt(text: string, i: number, j: number): FimParts {
  const at = cutPoints(text);
  if (!(Number.isInteger(i) && Number.isInteger(j) && 0 <= i && i <= j && j < at.length))
    throw new RangeError(`fim: cuts ${i}, ${j} outside [0, ${at.length - 1}] or out of order`);
  const a = at[i] as number;
  const b = at[j] as number;
  return { prefix: text.slice(0, a), middle: text.slice(a, b), suffix: text.slice(b) };
}

/** Two cuts drawn uniformly from the n + 1 places of a text of n code points, sorted (either part
 *  may be empty, as in the paper). */
export function randomSplit(text: string, rng: Rng): FimParts {
  const places = cutPoints(text).length;
  const x = rng.unbiasedInt(places);
  const y = rng.unbiasedInt(places);
  return splitAt(text, Math.min(x, y), Math.max(x, y));
}

export interface FimPartIds {
  prefix: readonly number[];
  middle: readonly number[];
  suffix: readonly number[];
}

/** The rearranged ids (no end-of-text: the caller ends the document as any other). */
export function arrangeFim(p: FimPartIds, s: FimIds, mode: FimMode): number[] {
  if (mode === 'psm') return [s.prefix, ...p.prefix, s.suffix, ...p.suffix, s.middle, ...p.middle];
  return [s.prefix, s.suffix, ...p.suffix, s.middle, ...p.prefix, ...p.middle];
}

/** What a FIM sequence holds: PSM keeps the three parts apart; SPM only the suffix and the
 *  prefix followed by the middle (where one ends and the other begins is not in the ids). */
export type FimSequence =
  | { mode: 'psm'; prefix: number[]; suffix: number[]; middle: number[] }
  | { mode: 'spm'; suffix: number[]; prefixMiddle: number[] };

/** Reads a sequence arrangeFim made back, or null when `seq` is not one (ordinary text). PSM with
 *  an empty prefix has the ids of SPM (and the same document) and reads as SPM. */
export function parseFim(seq: readonly number[], s: FimIds): FimSequence | null {
  const iS = seq.indexOf(s.suffix);
  const iM = seq.indexOf(s.middle);
  if (seq[0] !== s.prefix || iS < 1 || iM < iS) return null;
  const rest = seq.slice(iM + 1);
  if (seq.indexOf(s.prefix, 1) >= 0 || seq.indexOf(s.suffix, iS + 1) >= 0 || rest.includes(s.middle)) return null;
  if (iS === 1) return { mode: 'spm', suffix: seq.slice(2, iM), prefixMiddle: rest };
  return { mode: 'psm', prefix: seq.slice(1, iS), suffix: seq.slice(iS + 1, iM), middle: rest };
}

/** The inverse of arrangeFim: the document's ids in reading order (prefix, middle, suffix). A
 *  sequence that is not a FIM sequence is returned as it is. */
export function unarrangeFim(seq: readonly number[], s: FimIds): number[] {
  const f = parseFim(seq, s);
  if (f === null) return [...seq];
  return f.mode === 'psm' ? [...f.prefix, ...f.middle, ...f.suffix] : [...f.prefixMiddle, ...f.suffix];
}

/** Each part encoded on its own, so no token straddles a cut (as at inference, where the middle
 *  is unknown). */
export function encodeParts(tok: Tokenizer, p: FimParts): FimPartIds {
  return { prefix: tok.encode(p.prefix), middle: tok.encode(p.middle), suffix: tok.encode(p.suffix) };
}

export interface FimOptions {
  /** Share of documents (or fragments) rearranged, in [0, 1]. */
  rate: number;
  mode: FimMode;
  /** > 0: documents are cut into fragments of about this many characters and each fragment is a
   *  FIM candidate (so that a FIM example fits a short context); 0: whole documents. */
  fragmentChars?: number;
}

/**
 * Cuts `text` into consecutive pieces of at most `maxChars` UTF-16 units, each cut at the start of
 * a word (the whitespace stays with the piece before it); a single longer word is one piece of its
 * own. The pieces concatenate to `text`.
 */
export function fragments(text: string, maxChars: number): string[] {
  const out: string[] = [];
  const wordStart = (i: number): boolean => /\s/u.test(text[i - 1]!) && !/\s/u.test(text[i]!);
  let start = 0;
  while (text.length - start > maxChars) {
    let cut = start + maxChars;
    while (cut > start && !wordStart(cut)) cut--;
    if (cut === start) {
      cut = start + maxChars + 1;
      while (cut < text.length && !wordStart(cut)) cut++;
    }
    out.push(text.slice(start, cut));
    start = cut;
  }
  if (start < text.length || out.length === 0) out.push(text.slice(start));
  return out;
}

/**
 * One training document's ids: with probability `rate` cut at random and rearranged, otherwise
 * encoded as it is. With `fragmentChars`, each fragment is drawn for on its own; a rearranged one
 * stands between end-of-text ids as a document of its own (the one after its middle is where a
 * filling stops), and the plain text between them is encoded in one piece. The Rng is advanced only when `rate` > 0, so rate 0 is plain encoding exactly.
 */
export function encodeFimDocument(tok: Tokenizer, s: FimIds, text: string, rng: Rng, o: FimOptions): number[] {
  if (!(o.rate > 0)) return tok.encode(text);
  if (!o.fragmentChars) {
    if (rng.uniform() >= o.rate) return tok.encode(text);
    return arrangeFim(encodeParts(tok, randomSplit(text, rng)), s, o.mode);
  }
  const out: number[] = [];
  let plain = '';
  for (const piece of fragments(text, o.fragmentChars)) {
    if (rng.uniform() >= o.rate) {
      plain += piece;
      continue;
    }
    if (plain !== '') out.push(...tok.encode(plain), tok.eotId);
    plain = '';
    out.push(...arrangeFim(encodeParts(tok, randomSplit(piece, rng)), s, o.mode), tok.eotId);
  }
  if (plain !== '') out.push(...tok.encode(plain));
  else out.pop(); // the document's own end-of-text follows
  return out;
}
