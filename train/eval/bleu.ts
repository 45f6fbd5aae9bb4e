// BLEU (Papineni et al. 2002) as sacreBLEU computes it (Post 2018, github.com/mjpost/sacrebleu,
// sacrebleu/metrics/bleu.py), so that scores compare with published ones.
// Per segment, after tokenization, with hypothesis h and references r₁..r_k:
//   matches_n = Σ_g min(count_h(g), max_j count_rj(g))   over the n-grams g of h ("clipped")
//   totals_n  = number of n-grams of h                    (n = 1..N, N = 4 by default)
//   ref_len   = the r_j length closest to |h| (ties: the shorter)
// Corpus: sum matches, totals, |h| (sys_len) and ref_len over segments, then
//   p_n  = 100 · matches_n / totals_n
//   BP   = 1 if sys_len ≥ ref_len, else exp(1 − ref_len / sys_len)   (0 when sys_len = 0)
//   BLEU = BP · exp( (1/N') Σ_{n≤N'} ln p_n )                         (0..100)
// with ln 0 taken as −9999999999 (so a zero precision gives BLEU 0) and BLEU = 0 outright when no
// n-gram of any order matches. N' = N, except with effectiveOrder, where N' is the highest order
// whose totals_n > 0 (short sentences are not zeroed for lacking 4-grams). The loop over n stops
// at the first order with totals_n = 0. Smoothing of zero matches (Chen & Cherry 2014):
//   'none'  : p_n = 0
//   'floor' : p_n = 100 · smoothValue / totals_n              (smoothValue default 0.1)
//   'add-k' : matches_n and totals_n += smoothValue for n ≥ 2 (default 1), before all else
//   'exp'   : the k-th order with zero matches gets p_n = 100 / (2^k · totals_n)  (mteval's NIST rule)
// sacreBLEU's defaults: corpus BLEU 'exp' smoothing without effective order; sentence BLEU 'exp'
// with effective order. Both strip trailing whitespace, optionally lower-case, then tokenize
// ('13a' by default, the mteval-v13a rules WMT uses; also 'none', 'char' and 'intl').
import { checkSameLength, MetricInputError, pyRstrip, pySplit } from './text.ts';

export type BleuTokenizer = '13a' | 'intl' | 'char' | 'none';
export type BleuSmoothing = 'none' | 'floor' | 'add-k' | 'exp';

export interface BleuOptions {
  tokenize?: BleuTokenizer;
  lowercase?: boolean;
  smoothMethod?: BleuSmoothing;
  /** For 'floor' (default 0.1) and 'add-k' (default 1). */
  smoothValue?: number;
  maxNgramOrder?: number;
  effectiveOrder?: boolean;
}

export interface BleuScore {
  /** 0..100, as sacreBLEU prints it. */
  score: number;
  /** Clipped n-gram matches per order (before add-k smoothing). */
  counts: number[];
  /** Hypothesis n-grams per order (before add-k smoothing). */
  totals: number[];
  /** p_n in percent, after smoothing. */
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  /** sysLen / refLen (0 when refLen is 0). */
  ratio: number;
}

/** Sufficient statistics of one segment; corpus BLEU sums them. */
export interface BleuStats {
  sysLen: number;
  refLen: number;
  counts: number[];
  totals: number[];
}

const SMOOTH_DEFAULTS: Record<BleuSmoothing, number> = { none: 0, floor: 0.1, 'add-k': 1, exp: 0 };

// mteval-v13a's language-dependent rules (sacrebleu/tokenizers/tokenizer_re.py), in order:
// pad every ASCII symbol except ' , - . with spaces; split . and , unless preceded by a digit;
// split . and , unless followed by a digit; split a dash that follows a digit.
const RE_13A: readonly [RegExp, string][] = [
  [/([\x7b-\x7e\x5b-\x60\x20-\x26\x28-\x2b\x3a-\x40\x2f])/gu, ' $1 '],
  [/([^0-9])([.,])/gu, '$1 $2 '],
  [/([.,])([^0-9])/gu, ' $1 $2'],
  [/([0-9])(-)/gu, '$1 $2 '],
];

// mteval-v14's international rules (sacrebleu/tokenizers/tokenizer_intl.py): Unicode punctuation
// is split off unless between digits; Unicode symbols always.
const RE_INTL: readonly [RegExp, string][] = [
  [/(\P{N})(\p{P})/gu, '$1 $2 '],
  [/(\p{P})(\P{N})/gu, ' $1 $2'],
  [/(\p{S})/gu, ' $1 '],
];

const applyRules = (line: string, rules: readonly [RegExp, string][]): string =>
  pySplit(rules.reduce((s, [re, rep]) => s.replace(re, rep), line)).join(' ');

/** sacreBLEU's '13a' tokenizer: mteval-v13a's language-independent part, then its regexes. */
export function tokenize13a(line: string): string {
  let s = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (s.includes('&'))
    s = s.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  return applyRules(` ${s} `, RE_13A);
}

export function tokenizeIntl(line: string): string {
  return applyRules(line, RE_INTL);
}

export function tokenizeBleu(line: string, tokenize: BleuTokenizer = '13a'): string {
  switch (tokenize) {
    case '13a':
      return tokenize13a(line);
    case 'intl':
      return tokenizeIntl(line);
    case 'char':
      return Array.from(line).join(' ');
    case 'none':
      return line;
  }
}

function preprocess(s: string, o: BleuOptions): string {
  return tokenizeBleu(pyRstrip(o.lowercase ? s.toLowerCase() : s), o.tokenize ?? '13a');
}

/** n-gram counts of orders 1..N, one map per order, keyed by the tokens joined with a space. */
function ngramCounts(tokens: readonly string[], N: number): Map<string, number>[] {
  const out: Map<string, number>[] = [];
  for (let n = 1; n <= N; n++) {
    const m = new Map<string, number>();
    for (let i = 0; i + n <= tokens.length; i++) {
      const g = tokens.slice(i, i + n).join(' ');
      m.set(g, (m.get(g) ?? 0) + 1);
    }
    out.push(m);
  }
  return out;
}

function closestRefLen(hypLen: number, refLens: readonly number[]): number {
  let best = -1,
    bestDiff = -1;
  for (const r of refLens) {
    const d = Math.abs(hypLen - r);
    if (bestDiff === -1 || d < bestDiff || (d === bestDiff && r < best)) [best, bestDiff] = [r, d];
  }
  return best;
}

/** The statistics of one hypothesis against its references (raw strings; tokenized here). */
export function bleuStats(hypothesis: string, references: readonly string[], opts: BleuOptions = {}): BleuStats {
  if (references.length === 0) throw new MetricInputError('a segment has no references (at least one is needed)');
  const N = opts.maxNgramOrder ?? 4;
  const refMax: Map<string, number>[] = Array.from({ length: N }, () => new Map());
  const refLens: number[] = [];
  for (const ref of references) {
    const toks = pySplit(preprocess(ref, opts));
    refLens.push(toks.length);
    ngramCounts(toks, N).forEach((m, n) => {
      for (const [g, c] of m) refMax[n]!.set(g, Math.max(refMax[n]!.get(g) ?? 0, c));
    });
  }
  const hyp = pySplit(preprocess(hypothesis, opts));
  const counts = new Array<number>(N).fill(0);
  const totals = new Array<number>(N).fill(0);
  ngramCounts(hyp, N).forEach((m, n) => {
    for (const [g, c] of m) {
      totals[n]! += c;
      counts[n]! += Math.min(c, refMax[n]!.get(g) ?? 0);
    }
  });
  return { sysLen: hyp.length, refLen: closestRefLen(hyp.length, refLens), counts, totals };
}

const myLog = (x: number): number => (x === 0 ? -9999999999 : Math.log(x));

/** BLEU from summed statistics (sacreBLEU's BLEU.compute_bleu). */
export function computeBleu(stats: BleuStats, opts: BleuOptions = {}): BleuScore {
  const N = opts.maxNgramOrder ?? 4;
  const method = opts.smoothMethod ?? 'exp';
  const k = opts.smoothValue ?? SMOOTH_DEFAULTS[method];
  const { sysLen, refLen } = stats;
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(N).fill(0);
  const result = (score: number): BleuScore => ({
    score,
    counts: [...stats.counts],
    totals: [...stats.totals],
    precisions,
    bp,
    sysLen,
    refLen,
    ratio: refLen ? sysLen / refLen : 0,
  });
  if (!stats.counts.some((c) => c > 0)) return result(0);
  const correct = [...stats.counts];
  const total = [...stats.totals];
  let smoothMteval = 1;
  let effOrder = N;
  for (let n = 1; n <= N; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1]! += k;
      total[n - 1]! += k;
    }
    if (total[n - 1] === 0) break;
    if (opts.effectiveOrder) effOrder = n;
    if (correct[n - 1] === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * total[n - 1]!);
      } else if (method === 'floor') precisions[n - 1] = (100 * k) / total[n - 1]!;
    } else precisions[n - 1] = (100 * correct[n - 1]!) / total[n - 1]!;
  }
  let logSum = 0;
  for (let n = 0; n < effOrder; n++) logSum += myLog(precisions[n]!);
  return result(bp * Math.exp(logSum / effOrder));
}

/** Σ of segment statistics. */
export function sumBleuStats(all: readonly BleuStats[], N = 4): BleuStats {
  const acc: BleuStats = { sysLen: 0, refLen: 0, counts: new Array(N).fill(0), totals: new Array(N).fill(0) };
  for (const s of all) {
    acc.sysLen += s.sysLen;
    acc.refLen += s.refLen;
    for (let n = 0; n < N; n++) {
      acc.counts[n]! += s.counts[n]!;
      acc.totals[n]! += s.totals[n]!;
    }
  }
  return acc;
}

/**
 * Corpus BLEU. references[i] holds every reference of hypotheses[i] (one or more). sacreBLEU takes
 * references the other way round, as streams (references[j][i] = j-th reference of segment i):
 * convert with transposeStreams. Empty hypotheses count (as length 0), they are not dropped.
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (readonly string[])[],
  opts: BleuOptions = {},
): BleuScore {
  checkSameLength(hypotheses, 'hypotheses', references, 'reference lists');
  if (hypotheses.length === 0) throw new MetricInputError('no hypotheses to score');
  const stats = hypotheses.map((h, i) => {
    if (references[i]!.length === 0)
      throw new MetricInputError(`segment ${i} has an empty reference list (at least one reference is needed)`);
    return bleuStats(h, references[i]!, opts);
  });
  return computeBleu(sumBleuStats(stats, opts.maxNgramOrder ?? 4), opts);
}

/** Sentence BLEU: sacreBLEU's sentence_bleu defaults ('exp' smoothing, effective order). */
export function sentenceBleu(hypothesis: string, references: readonly string[], opts: BleuOptions = {}): BleuScore {
  const o: BleuOptions = { smoothMethod: 'exp', effectiveOrder: true, ...opts };
  if (references.length === 0) throw new MetricInputError('the reference list is empty (at least one is needed)');
  return computeBleu(bleuStats(hypothesis, references, o), o);
}

/**
 * sacreBLEU's reference layout (streams[j][i]: reference j of segment i; null where a segment has
 * fewer references) to ours (refs[i]: the references of segment i).
 */
export function transposeStreams(streams: readonly (readonly (string | null)[])[]): string[][] {
  if (streams.length === 0) throw new MetricInputError('no reference streams');
  const n = streams[0]!.length;
  streams.forEach((s, j) => {
    if (s.length !== n)
      throw new MetricInputError(`reference stream ${j} has ${s.length} segments but stream 0 has ${n}`);
  });
  return Array.from({ length: n }, (_, i) => streams.map((s) => s[i]!).filter((r): r is string => r !== null));
}
