// prepare's report: what went in, what each cleanup rule removed, the splits, the tokenizer and
// the token statistics. report.json holds it (the trainer reads its unigram baseline from there);
// formatReport prints it as tables.
import { TOKENIZER_FILE, type Tokenizer, type TokenizerKind } from '../tokenizers/index.ts';
import { RULE_NAMES, type AnonymizeCounts, type Cleaner, type RuleName, type RuleStats } from './cleanup.ts';
import type { SkipKind } from './inputs.ts';
import { formatBytes } from './progress.ts';
import { unigramCrossEntropy, unigramEntropy, type TokenBuffer } from './stats.ts';

export const REPORT_FILE = 'report.json';
export const TRAIN_FILE = 'train.bin';
export const VAL_FILE = 'val.bin';

export interface SplitReport {
  file: string;
  docs: number;
  chars: number;
  /** Tokens including one end-of-text per document. */
  tokens: number;
  unigramEntropy: number;
}

export interface SourceReport {
  source: string;
  files: number;
  docsIn: number;
  charsIn: number;
  docsOut: number;
  charsOut: number;
  tokens: number;
  /** Share of all tokens (train + val) that come from this source. */
  tokenShare: number;
}

export interface PrepareReport {
  formatVersion: 1;
  createdAt: string;
  out: string;
  options: {
    tokenizer: TokenizerKind;
    vocabSize: number | null;
    valFraction: number;
    seed: number;
    textField: string;
    docChars: number;
    nearDupThreshold: number;
    minChars: number;
    minLetterFraction: number;
    strict: boolean;
    rules: Record<RuleName, boolean>;
    /** Fill-in-the-middle of the train documents (data/fim.ts); absent when off. */
    fim?: { rate: number; mode: 'psm' | 'spm'; fragmentChars: number };
  };
  inputs: { paths: string[]; files: number; bytes: number };
  docsIn: number;
  charsIn: number;
  docsOut: number;
  charsOut: number;
  /** Per rule: documents removed or changed, characters removed. */
  rules: Record<RuleName, RuleStats>;
  /** Replacements made by the anonymize rule. */
  anonymized: AnonymizeCounts;
  nearDupParams: { threshold: number; numPerm: number; shingleSize: number; bands: number; rows: number } | null;
  /** Records and files skipped as bad input (see the warnings for where). */
  skipped: Record<SkipKind, number> & { examples: string[] };
  tokenizer: { type: TokenizerKind; id: string; vocabSize: number; eotId: number; file: string };
  splits: { train: SplitReport; val: SplitReport };
  tokens: number;
  charsPerToken: number;
  sources: SourceReport[];
  /** Unigram entropy of the whole token stream (train + val), nats per token. */
  unigramEntropy: number;
  /** Unigram entropy of the train split, nats per token: the trainer's `unigramLoss` baseline. */
  trainUnigramEntropy: number;
  /** Cross-entropy of val under the train unigram distribution (add-0.1 smoothing), nats per token. */
  valUnigramCrossEntropy: number;
  warnings: string[];
  timings: { readCleanSec: number; tokenizerSec: number; encodeSec: number; writeSec: number; totalSec: number };
}

/** Per-source counts, accumulated while reading and encoding. */
export interface SourceCounts {
  files: number;
  docsIn: number;
  charsIn: number;
  docsOut: number;
  charsOut: number;
  tokens: number;
}

export type SkipCounts = Record<SkipKind, number> & { examples: string[] };

/** One encoded split: its token stream and per-id counts. */
export interface EncodedSplit {
  docs: number;
  chars: number;
  buf: TokenBuffer;
  counts: Float64Array;
}

/** What the pipeline hands over to build the report from. */
export interface ReportParts {
  out: string;
  options: PrepareReport['options'];
  inputs: PrepareReport['inputs'];
  docsIn: number;
  charsIn: number;
  docsOut: number;
  cleaner: Cleaner;
  sources: Map<string, SourceCounts>;
  skipped: SkipCounts;
  tokenizer: Tokenizer;
  train: EncodedSplit;
  val: EncodedSplit;
  warnings: string[];
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

function splitReport(file: string, s: EncodedSplit): SplitReport {
  return {
    file,
    docs: s.docs,
    chars: s.chars,
    tokens: s.buf.length,
    unigramEntropy: round(unigramEntropy(s.counts), 6),
  };
}

/** The report, with zero timings (the caller fills them in once the files are written). */
export function buildReport(p: ReportParts): PrepareReport {
  const { train, val, tokenizer, cleaner } = p;
  const V = tokenizer.vocabSize;
  const all = new Float64Array(V);
  for (let i = 0; i < V; i++) all[i] = (train.counts[i] as number) + (val.counts[i] as number);
  const totalTokens = train.buf.length + val.buf.length;
  const totalChars = train.chars + val.chars;
  const rules = {} as Record<RuleName, RuleStats>;
  for (const r of RULE_NAMES) rules[r] = { ...cleaner.stats[r] };
  const nd = cleaner.nearDup;
  return {
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    out: p.out,
    options: p.options,
    inputs: p.inputs,
    docsIn: p.docsIn,
    charsIn: p.charsIn,
    docsOut: p.docsOut,
    charsOut: totalChars,
    rules,
    anonymized: { ...cleaner.anonymized },
    nearDupParams:
      nd === undefined
        ? null
        : { threshold: nd.threshold, numPerm: nd.numPerm, shingleSize: nd.shingleSize, bands: nd.bands, rows: nd.rows },
    skipped: p.skipped,
    tokenizer: { type: tokenizer.type, id: tokenizer.id, vocabSize: V, eotId: tokenizer.eotId, file: TOKENIZER_FILE },
    splits: { train: splitReport(TRAIN_FILE, train), val: splitReport(VAL_FILE, val) },
    tokens: totalTokens,
    charsPerToken: round(totalChars / Math.max(1, totalTokens - p.docsOut), 4),
    sources: [...p.sources.entries()].map(([source, a]) => ({
      source,
      ...a,
      tokenShare: round(totalTokens === 0 ? 0 : a.tokens / totalTokens, 6),
    })),
    unigramEntropy: round(unigramEntropy(all), 6),
    trainUnigramEntropy: round(unigramEntropy(train.counts), 6),
    valUnigramCrossEntropy: val.buf.length === 0 ? 0 : round(unigramCrossEntropy(val.counts, train.counts), 6),
    warnings: p.warnings,
    timings: { readCleanSec: 0, tokenizerSec: 0, encodeSec: 0, writeSec: 0, totalSec: 0 },
  };
}

/** Seconds between marks, rounded to ms, for the report. */
export function timingsFrom(t: {
  start: number;
  read: number;
  tokenizer: number;
  encode: number;
  end: number;
}): PrepareReport['timings'] {
  const sec = (a: number, b: number): number => round((b - a) / 1000, 3);
  return {
    readCleanSec: sec(t.start, t.read),
    tokenizerSec: sec(t.read, t.tokenizer),
    encodeSec: sec(t.tokenizer, t.encode),
    writeSec: sec(t.encode, t.end),
    totalSec: sec(t.start, t.end),
  };
}

// -----------------------------------------------------------------------------------------------
// Printed report

function table(rows: string[][], align: ('l' | 'r')[]): string {
  const widths = align.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => (align[c] === 'r' ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;

/** The human-readable report that `prepare` prints. */
export function formatReport(r: PrepareReport): string {
  const out: string[] = [];
  out.push(`prepared ${r.out}`);
  out.push(
    `  inputs       ${fmt(r.inputs.files)} file(s), ${formatBytes(r.inputs.bytes)}; ${fmt(r.docsIn)} documents, ${fmt(r.charsIn)} characters in`,
  );
  out.push(
    `  kept         ${fmt(r.docsOut)} documents (${pct(r.docsOut / Math.max(1, r.docsIn))}), ${fmt(r.charsOut)} characters (${pct(r.charsOut / Math.max(1, r.charsIn))})`,
  );
  out.push(
    `  tokenizer    ${r.tokenizer.type} (${r.tokenizer.id}), vocabulary ${fmt(r.tokenizer.vocabSize)}, end-of-text ${r.tokenizer.eotId}`,
  );
  const fim = r.options.fim;
  if (fim)
    out.push(
      `  fim          ${pct(fim.rate)} of the train ${fim.fragmentChars ? `fragments (of ~${fmt(fim.fragmentChars)} characters)` : 'documents'} rearranged (${fim.mode.toUpperCase()}); the last 3 ids are the sentinels`,
    );
  out.push('');
  out.push('cleanup');
  const ruleRows: string[][] = [['rule', 'on', 'docs removed', 'docs changed', 'chars removed']];
  for (const name of RULE_NAMES) {
    const s = r.rules[name];
    ruleRows.push([name, s.enabled ? 'yes' : 'no', fmt(s.docsRemoved), fmt(s.docsChanged), fmt(s.charsRemoved)]);
  }
  out.push(indent(table(ruleRows, ['l', 'l', 'r', 'r', 'r'])));
  const a = r.anonymized;
  out.push(`  anonymized: ${fmt(a.email)} e-mail, ${fmt(a.phone)} phone, ${fmt(a.ip)} IP, ${fmt(a.card)} card`);
  if (r.nearDupParams) {
    const p = r.nearDupParams;
    out.push(
      `  near-dup: Jaccard >= ${p.threshold}, MinHash ${p.numPerm} over word ${p.shingleSize}-shingles, LSH ${p.bands} bands x ${p.rows} rows`,
    );
  }
  const sk = r.skipped;
  const skTotal = sk.binaryFile + sk.invalidUtf8 + sk.malformedJson + sk.missingTextField;
  if (skTotal > 0) {
    out.push(
      `  skipped input: ${sk.binaryFile} binary file(s), ${sk.invalidUtf8} invalid UTF-8, ${sk.malformedJson} malformed JSONL line(s), ${sk.missingTextField} without the text field`,
    );
  }
  out.push('');
  out.push('splits');
  const splitRows: string[][] = [['split', 'file', 'docs', 'chars', 'tokens', 'unigram H (nats)']];
  for (const s of [r.splits.train, r.splits.val]) {
    splitRows.push([
      s === r.splits.train ? 'train' : 'val',
      s.file,
      fmt(s.docs),
      fmt(s.chars),
      fmt(s.tokens),
      s.unigramEntropy.toFixed(4),
    ]);
  }
  out.push(indent(table(splitRows, ['l', 'l', 'r', 'r', 'r', 'r'])));
  out.push(
    `  ${fmt(r.tokens)} tokens, ${r.charsPerToken.toFixed(2)} chars/token; unigram entropy ${r.unigramEntropy.toFixed(4)} nats/token ` +
      `(train ${r.trainUnigramEntropy.toFixed(4)}, val cross-entropy under train unigram ${r.valUnigramCrossEntropy.toFixed(4)})`,
  );
  out.push('');
  out.push('sources');
  const srcRows: string[][] = [['source', 'files', 'docs in', 'docs kept', 'tokens', 'share']];
  for (const s of r.sources)
    srcRows.push([s.source, fmt(s.files), fmt(s.docsIn), fmt(s.docsOut), fmt(s.tokens), pct(s.tokenShare)]);
  out.push(indent(table(srcRows, ['l', 'r', 'r', 'r', 'r', 'r'])));
  if (r.warnings.length > 0) {
    out.push('');
    out.push(`${r.warnings.length} warning(s)${r.warnings.length > 5 ? ' (first 5; all in report.json)' : ''}`);
    for (const w of r.warnings.slice(0, 5)) out.push(`  ${w}`);
  }
  out.push('');
  out.push(
    `done in ${r.timings.totalSec.toFixed(1)} s (read+clean ${r.timings.readCleanSec.toFixed(1)}, tokenizer ${r.timings.tokenizerSec.toFixed(1)}, encode ${r.timings.encodeSec.toFixed(1)}, write ${r.timings.writeSec.toFixed(1)})`,
  );
  return out.join('\n');
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => '  ' + l)
    .join('\n');
}
