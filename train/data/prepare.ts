import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { CliError } from '../cli-error.ts';
import {
  DEFAULT_BPE_VOCAB,
  TOKENIZER_FILE,
  buildTokenizer,
  isTokenizerKind,
  type Tokenizer,
  type TokenizerKind,
} from '../tokenizers/index.ts';
import {
  Cleaner,
  DEFAULT_CLEANUP,
  NOISE_RULES,
  RULE_NAMES,
  type AnonymizeCounts,
  type RuleName,
  type RuleStats,
} from './cleanup.ts';
import { defaultCorpusPath } from './default-corpus.ts';
import { collectInputFiles, readInputFile, type SkipKind } from './inputs.ts';
import { Progress, formatBytes } from './progress.ts';
import { writeShard } from './shards.ts';
import { splitByDocument } from './split.ts';
import { TokenBuffer, countTokens, unigramCrossEntropy, unigramEntropy } from './stats.ts';

export { loadTokenizer } from '../tokenizers/index.ts';
export type { Tokenizer, TokenizerKind } from '../tokenizers/index.ts';
export { CliError } from '../cli-error.ts';

export const REPORT_FILE = 'report.json';
export const TRAIN_FILE = 'train.bin';
export const VAL_FILE = 'val.bin';

export interface PrepareOptions {
  /** Files, folders (walked for .txt/.md/.jsonl) or .jsonl files. */
  inputs: string[];
  /** Output folder; replaced atomically (an existing folder is only replaced if it holds a previous
   *  `prepare` output or is empty). */
  out: string;
  /** Default `bpe`. */
  tokenizer?: TokenizerKind;
  /** bpe: target vocabulary (default 2048); char: cap (default every character seen); gpt2: 50257. */
  vocabSize?: number;
  /** Share of the characters that goes to validation (default 0.05). */
  valFraction?: number;
  /** Seed of the train/val split (default 1337). */
  seed?: number;
  /** JSONL field holding the text (default `text`; dotted paths allowed). */
  textField?: string;
  /** Plain text: paragraphs are packed into documents of at most this many characters (default
   *  4000; 0 = one document per file). */
  docChars?: number;
  /** Near-duplicate Jaccard threshold (default 0.8). */
  nearDupThreshold?: number;
  /** Documents shorter than this are noise (default 20). */
  minChars?: number;
  /** Documents with a smaller share of letters among non-space characters are noise (default 0.5). */
  minLetterFraction?: number;
  /** Rules to switch off or on (all on by default). `noise: false` switches off the five noise rules. */
  rules?: Partial<Record<RuleName | 'noise', boolean>>;
  /** Treat skipped records (binary file, invalid UTF-8, malformed JSONL) as errors. */
  strict?: boolean;
  /** `bar`: terminal progress bar; `lines`: one line per phase; `off` (default). */
  progress?: 'bar' | 'lines' | 'off';
  /** Warnings and progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Called with the temporary folder once every file is written, just before it is moved into
   *  place (for inspection in tests; throwing aborts the run and leaves `out` as it was). */
  beforeCommit?: (tmpDir: string) => void;
}

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

interface Resolved {
  inputs: string[];
  out: string;
  tokenizer: TokenizerKind;
  vocabSize: number | undefined;
  valFraction: number;
  seed: number;
  textField: string;
  docChars: number;
  nearDupThreshold: number;
  minChars: number;
  minLetterFraction: number;
  strict: boolean;
  rules: Record<RuleName, boolean>;
  progress: 'bar' | 'lines' | 'off';
  log: (line: string) => void;
}

function resolveOptions(o: PrepareOptions): Resolved {
  const tokenizer = o.tokenizer ?? 'bpe';
  if (!isTokenizerKind(tokenizer))
    throw new CliError(`unknown tokenizer "${String(tokenizer)}": use gpt2, bpe or char`);
  const num = (name: string, v: number | undefined, def: number, ok: (x: number) => boolean, want: string): number => {
    const x = v ?? def;
    if (typeof x !== 'number' || !Number.isFinite(x) || !ok(x))
      throw new CliError(`--${name} must be ${want}, got ${String(v)}`);
    return x;
  };
  const int = (x: number): boolean => Number.isInteger(x);
  let vocabSize = o.vocabSize;
  if (vocabSize !== undefined) {
    if (tokenizer === 'gpt2' && vocabSize !== 50257) {
      throw new CliError(`--vocabSize does not apply to the gpt2 tokenizer (its vocabulary is fixed at 50257)`);
    }
    vocabSize = num(
      'vocabSize',
      vocabSize,
      0,
      (x) => int(x) && x >= 257 && x <= 1 << 24,
      'an integer from 257 (256 bytes + end-of-text) to 16777216',
    );
  } else if (tokenizer === 'bpe') {
    vocabSize = DEFAULT_BPE_VOCAB;
  }
  const rules = {} as Record<RuleName, boolean>;
  for (const r of RULE_NAMES) rules[r] = true;
  const given = o.rules ?? {};
  if (given.noise !== undefined) for (const r of NOISE_RULES) rules[r] = given.noise;
  for (const r of RULE_NAMES) {
    const v = given[r];
    if (v !== undefined) rules[r] = v;
  }
  if (!o.out) throw new CliError('no output folder given: pass --out <dir>');
  return {
    inputs: o.inputs,
    out: resolve(o.out),
    tokenizer,
    vocabSize,
    valFraction: num('valFraction', o.valFraction, 0.05, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    seed: num('seed', o.seed, 1337, (x) => int(x) && x >= 0 && x <= 0xffffffff, 'an integer in [0, 2^32)'),
    textField: o.textField ?? 'text',
    docChars: num('docChars', o.docChars, 4000, (x) => int(x) && x >= 0, 'an integer >= 0'),
    nearDupThreshold: num(
      'nearDupThreshold',
      o.nearDupThreshold,
      DEFAULT_CLEANUP.nearDupThreshold,
      (x) => x > 0 && x <= 1,
      'a number in (0, 1]',
    ),
    minChars: num('minChars', o.minChars, DEFAULT_CLEANUP.minChars, (x) => int(x) && x >= 0, 'an integer >= 0'),
    minLetterFraction: num(
      'minLetterFraction',
      o.minLetterFraction,
      DEFAULT_CLEANUP.minLetterFraction,
      (x) => x >= 0 && x <= 1,
      'a number in [0, 1]',
    ),
    strict: o.strict ?? false,
    rules,
    progress: o.progress ?? 'off',
    log: o.log ?? ((line: string) => process.stderr.write(line + '\n')),
  };
}

let lastYield = 0;
/** Lets timers (the progress bar) and signals run during long synchronous stretches. */
async function maybeYield(): Promise<void> {
  const now = performance.now();
  if (now - lastYield < 100) return;
  lastYield = now;
  await new Promise<void>((r) => setImmediate(r));
}

const TMP_PREFIX = '.prepare-tmp-';
const OLD_PREFIX = '.prepare-old-';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes temporary folders that interrupted runs (dead processes) left beside `out`. */
function removeStaleTemps(out: string): void {
  const parent = dirname(out);
  const base = basename(out);
  for (const name of readdirSync(parent)) {
    for (const prefix of [TMP_PREFIX, OLD_PREFIX]) {
      const head = `.${base}${prefix}`;
      if (!name.startsWith(head)) continue;
      const pid = Number.parseInt(name.slice(head.length), 10);
      if (Number.isInteger(pid) && pid !== process.pid && !pidAlive(pid))
        rmSync(join(parent, name), { recursive: true, force: true });
    }
  }
}

/** Checks that `out` can be replaced: it does not exist, is empty, or holds a previous prepare output. */
function checkOutReplaceable(out: string): void {
  if (!existsSync(out)) return;
  const st = statSync(out);
  if (!st.isDirectory()) throw new CliError(`--out ${out} exists and is not a folder`);
  const entries = readdirSync(out);
  if (entries.length > 0 && !entries.includes(REPORT_FILE)) {
    throw new CliError(
      `--out ${out} exists and does not hold a previous prepare output (no ${REPORT_FILE}); refusing to overwrite it`,
    );
  }
}

/** Moves the finished temporary folder into place; the old output (if any) is removed afterwards. */
function commitOut(tmp: string, out: string): void {
  checkOutReplaceable(out);
  if (!existsSync(out)) {
    renameSync(tmp, out);
    return;
  }
  const old = join(dirname(out), `.${basename(out)}${OLD_PREFIX}${process.pid}-${Date.now()}`);
  renameSync(out, old);
  try {
    renameSync(tmp, out);
  } catch (err) {
    renameSync(old, out);
    throw err;
  }
  rmSync(old, { recursive: true, force: true });
}

interface KeptDoc {
  text: string;
  source: string;
}

interface SourceAcc {
  files: number;
  docsIn: number;
  charsIn: number;
  docsOut: number;
  charsOut: number;
  tokens: number;
}

const round = (x: number, digits = 4): number => Number(x.toFixed(digits));

/**
 * Runs the whole pipeline: read, clean, split, build the tokenizer on the train split, encode, and
 * write `train.bin`, `val.bin`, `tokenizer.json` and `report.json` into `out` atomically. Returns the
 * report. Bad input raises a CliError with a message that names the file (and line).
 */
export async function prepare(options: PrepareOptions): Promise<PrepareReport> {
  const o = resolveOptions(options);
  const t0 = performance.now();
  const progress = new Progress(o.progress, o.log);
  const warnings: string[] = [];
  const warn = (msg: string): void => {
    warnings.push(msg);
    if (warnings.length <= 20) o.log(`warning: ${msg}`);
    else if (warnings.length === 21) o.log('warning: (further warnings only in report.json)');
  };

  const files = collectInputFiles(o.inputs);
  checkOutReplaceable(o.out);
  const totalBytes = files.reduce((s, f) => s + f.size, 0);

  // 1. Read and clean, one document at a time.
  const cleaner = new Cleaner({
    rules: o.rules,
    minChars: o.minChars,
    minLetterFraction: o.minLetterFraction,
    nearDupThreshold: o.nearDupThreshold,
  });
  const kept: KeptDoc[] = [];
  const sources = new Map<string, SourceAcc>();
  const skipped: Record<SkipKind, number> & { examples: string[] } = {
    binaryFile: 0,
    invalidUtf8: 0,
    malformedJson: 0,
    missingTextField: 0,
    examples: [],
  };
  let docsIn = 0;
  let charsIn = 0;
  let bytesDone = 0;
  progress.start('reading + cleaning', totalBytes, 'bytes');
  for (const file of files) {
    let acc = sources.get(file.source);
    if (acc === undefined) {
      acc = { files: 0, docsIn: 0, charsIn: 0, docsOut: 0, charsOut: 0, tokens: 0 };
      sources.set(file.source, acc);
    }
    acc.files++;
    const src = acc;
    let charsInFile = 0;
    readInputFile(
      file,
      { textField: o.textField, docChars: o.docChars, strict: o.strict },
      (doc) => {
        docsIn++;
        charsIn += doc.text.length;
        src.docsIn++;
        src.charsIn += doc.text.length;
        const text = cleaner.process(doc.text);
        if (text !== null) {
          kept.push({ text, source: doc.source });
          src.docsOut++;
          src.charsOut += text.length;
        }
        charsInFile += doc.text.length;
        if ((docsIn & 255) === 0) progress.update(bytesDone + Math.min(charsInFile, file.size), docsIn);
      },
      (skip) => {
        skipped[skip.kind]++;
        const line = `${skip.where}: ${skip.message}; the ${skip.unit} is skipped`;
        if (skipped.examples.length < 50) skipped.examples.push(line);
        warn(line);
      },
    );
    bytesDone += file.size;
    progress.update(bytesDone, docsIn);
    await maybeYield();
  }
  progress.stop(`${docsIn} documents read, ${kept.length} kept`);
  const tRead = performance.now();

  if (docsIn === 0) {
    const skips = skipped.binaryFile + skipped.invalidUtf8 + skipped.malformedJson + skipped.missingTextField;
    throw new CliError(
      `empty corpus: the ${files.length} input file(s) contain no text` +
        (skips > 0
          ? ` (${skips} file(s)/record(s) skipped as bad input: ${skipped.examples.slice(0, 3).join('; ')})`
          : ''),
    );
  }
  if (kept.length === 0) {
    const by = RULE_NAMES.filter((r) => cleaner.stats[r].docsRemoved > 0)
      .map((r) => `${r}: ${cleaner.stats[r].docsRemoved}`)
      .join(', ');
    throw new CliError(
      `empty corpus after cleanup: all ${docsIn} documents were removed (${by}); switch rules off with --no-<rule>`,
    );
  }

  // 2. Split by document.
  const isVal = splitByDocument(
    kept.map((d) => d.text.length),
    o.valFraction,
    o.seed,
  );
  const trainDocs = kept.filter((_, i) => !isVal[i]);
  const valDocs = kept.filter((_, i) => isVal[i]);
  if (o.valFraction > 0 && valDocs.length === 0) {
    warn(
      `only ${kept.length} document left after cleanup: the validation split is empty (more text, or a smaller --docChars, gives one)`,
    );
  }

  // 3. Tokenizer (trained on the train split only, so validation stays unseen).
  const texts = trainDocs.map((d) => d.text);
  let tokenizer: Tokenizer;
  if (o.tokenizer === 'bpe')
    progress.start(`training bpe (${o.vocabSize})`, (o.vocabSize ?? DEFAULT_BPE_VOCAB) - 257, 'merges');
  else progress.start(`building ${o.tokenizer} tokenizer`, 1, 'docs');
  try {
    tokenizer = buildTokenizer(o.tokenizer, texts, {
      vocabSize: o.vocabSize,
      onProgress: (done) => progress.update(done),
    });
  } catch (err) {
    if (err instanceof RangeError) throw new CliError(err.message);
    throw err;
  }
  progress.stop(`vocabulary ${tokenizer.vocabSize}`);
  if (o.tokenizer === 'bpe' && o.vocabSize !== undefined && tokenizer.vocabSize < o.vocabSize) {
    warn(
      `bpe: the corpus only supports ${tokenizer.vocabSize} ids (no pair occurs twice any more); asked for ${o.vocabSize}`,
    );
  }
  const tTok = performance.now();

  // 4. Encode; documents are followed by end-of-text.
  const V = tokenizer.vocabSize;
  const split = (docs: KeptDoc[]): { buf: TokenBuffer; counts: Float64Array; chars: number } => ({
    buf: new TokenBuffer(),
    counts: new Float64Array(V),
    chars: docs.reduce((s, d) => s + d.text.length, 0),
  });
  const train = split(trainDocs);
  const val = split(valDocs);
  const totalChars = train.chars + val.chars;
  progress.start('encoding', totalChars, 'bytes');
  let encodedChars = 0;
  let encodedDocs = 0;
  for (const [docs, acc] of [
    [trainDocs, train],
    [valDocs, val],
  ] as const) {
    for (const doc of docs) {
      const ids = tokenizer.encode(doc.text);
      ids.push(tokenizer.eotId);
      acc.buf.pushAll(ids);
      countTokens(ids, acc.counts);
      (sources.get(doc.source) as SourceAcc).tokens += ids.length;
      encodedChars += doc.text.length;
      encodedDocs++;
      if ((encodedDocs & 63) === 0) {
        progress.update(encodedChars, encodedDocs);
        await maybeYield();
      }
    }
  }
  progress.update(encodedChars, encodedDocs);
  progress.stop();
  const tEnc = performance.now();

  // 5. Statistics.
  const all = new Float64Array(V);
  for (let i = 0; i < V; i++) all[i] = (train.counts[i] as number) + (val.counts[i] as number);
  const totalTokens = train.buf.length + val.buf.length;
  const rulesStats = {} as Record<RuleName, RuleStats>;
  for (const r of RULE_NAMES) rulesStats[r] = { ...cleaner.stats[r] };
  const nd = cleaner.nearDup;
  const report: PrepareReport = {
    formatVersion: 1,
    createdAt: new Date().toISOString(),
    out: o.out,
    options: {
      tokenizer: o.tokenizer,
      vocabSize: o.vocabSize ?? null,
      valFraction: o.valFraction,
      seed: o.seed,
      textField: o.textField,
      docChars: o.docChars,
      nearDupThreshold: o.nearDupThreshold,
      minChars: o.minChars,
      minLetterFraction: o.minLetterFraction,
      strict: o.strict,
      rules: { ...o.rules },
    },
    inputs: { paths: [...o.inputs], files: files.length, bytes: totalBytes },
    docsIn,
    charsIn,
    docsOut: kept.length,
    charsOut: totalChars,
    rules: rulesStats,
    anonymized: { ...cleaner.anonymized },
    nearDupParams:
      nd === undefined
        ? null
        : { threshold: nd.threshold, numPerm: nd.numPerm, shingleSize: nd.shingleSize, bands: nd.bands, rows: nd.rows },
    skipped,
    tokenizer: { type: tokenizer.type, id: tokenizer.id, vocabSize: V, eotId: tokenizer.eotId, file: TOKENIZER_FILE },
    splits: {
      train: {
        file: TRAIN_FILE,
        docs: trainDocs.length,
        chars: train.chars,
        tokens: train.buf.length,
        unigramEntropy: round(unigramEntropy(train.counts), 6),
      },
      val: {
        file: VAL_FILE,
        docs: valDocs.length,
        chars: val.chars,
        tokens: val.buf.length,
        unigramEntropy: round(unigramEntropy(val.counts), 6),
      },
    },
    tokens: totalTokens,
    charsPerToken: round(totalChars / Math.max(1, totalTokens - kept.length), 4),
    sources: [...sources.entries()].map(([source, a]) => ({
      source,
      ...a,
      tokenShare: round(totalTokens === 0 ? 0 : a.tokens / totalTokens, 6),
    })),
    unigramEntropy: round(unigramEntropy(all), 6),
    trainUnigramEntropy: round(unigramEntropy(train.counts), 6),
    valUnigramCrossEntropy: val.buf.length === 0 ? 0 : round(unigramCrossEntropy(val.counts, train.counts), 6),
    warnings,
    timings: { readCleanSec: 0, tokenizerSec: 0, encodeSec: 0, writeSec: 0, totalSec: 0 },
  };

  // 6. Write into a temporary folder beside `out`, then rename it into place.
  mkdirSync(dirname(o.out), { recursive: true });
  removeStaleTemps(o.out);
  const tmp = join(dirname(o.out), `.${basename(o.out)}${TMP_PREFIX}${process.pid}-${Date.now()}`);
  mkdirSync(tmp);
  try {
    const meta = { vocabSize: V, eotId: tokenizer.eotId, tokenizerId: tokenizer.id };
    writeShard(join(tmp, TRAIN_FILE), train.buf.view(), { ...meta, docCount: trainDocs.length });
    writeShard(join(tmp, VAL_FILE), val.buf.view(), { ...meta, docCount: valDocs.length });
    tokenizer.save(tmp);
    const tEnd = performance.now();
    report.timings = {
      readCleanSec: round((tRead - t0) / 1000, 3),
      tokenizerSec: round((tTok - tRead) / 1000, 3),
      encodeSec: round((tEnc - tTok) / 1000, 3),
      writeSec: round((tEnd - tEnc) / 1000, 3),
      totalSec: round((tEnd - t0) / 1000, 3),
    };
    writeFileSync(join(tmp, REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
    options.beforeCommit?.(tmp);
    commitOut(tmp, o.out);
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  return report;
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

// -----------------------------------------------------------------------------------------------
// Command line

export const PREPARE_HELP = `usage: webgpu-gpt prepare --input <file|folder|file.jsonl>... --out <dir> [options]

Turns raw text into token shards: reads, cleans, splits into train/val by document, builds the
tokenizer on the train split, and writes <dir>/train.bin, val.bin, tokenizer.json and report.json
(atomically: a failed run leaves no half-written folder).

inputs
  --input, -i <path>...   files or folders (searched recursively for .txt, .md, .jsonl); repeatable.
                          Without --input the default corpus (Moby-Dick) is used.
  --textField <name>      JSONL field with the text (default text; dotted paths like meta.body work)
  --docChars <n>          plain text is split into paragraphs at blank lines and packed into
                          documents of at most n characters (default 4000; 0 = one document per file)
  --strict                bad records (binary file, invalid UTF-8, malformed JSONL line) are errors
                          instead of counted skips

tokenizer
  --tokenizer <kind>      gpt2 (GPT-2's BPE, 50257 ids), bpe (trained here; default) or char
  --vocabSize <n>         bpe: vocabulary size (default 2048); char: cap on the vocabulary

split
  --valFraction <f>       share of the characters for validation (default 0.05)
  --seed <n>              seed of the split (default 1337)

cleanup (every rule is on by default; --no-<rule> switches one off)
  --no-exact-dup          exact duplicates (whitespace-normalised text)
  --no-near-dup           near duplicates (MinHash + LSH over word 5-shingles)
  --nearDupThreshold <f>  Jaccard threshold for near duplicates (default 0.8)
  --no-noise              all five noise rules below
  --no-control-chars      control characters
  --no-markup             HTML tags, comments, entities
  --no-boilerplate        navigation-like and boilerplate lines
  --no-too-short          documents under --minChars characters (default 20)
  --no-non-letter         documents under --minLetterFraction letters (default 0.5)
  --no-anonymize          e-mail, phone, IP and card numbers -> <EMAIL> <PHONE> <IP> <CARD>

output
  --out, -o <dir>         output folder (replaced if it holds an earlier prepare output)
  --quiet                 no progress output
  --help, -h              this text`;

const RULE_FLAGS: Record<string, RuleName | 'noise'> = {
  noise: 'noise',
  controlchars: 'controlChars',
  control: 'controlChars',
  markup: 'markup',
  html: 'markup',
  boilerplate: 'boilerplate',
  tooshort: 'tooShort',
  short: 'tooShort',
  nonletter: 'nonLetter',
  anonymize: 'anonymize',
  anonymise: 'anonymize',
  exactdup: 'exactDup',
  dedup: 'exactDup',
  neardup: 'nearDup',
};

export interface ParsedPrepareArgs {
  help: boolean;
  quiet: boolean;
  options: PrepareOptions;
  usedDefaultCorpus: boolean;
}

/** Parses `prepare`'s arguments. Flags are case-, dash- and underscore-insensitive
 *  (`--vocabSize`, `--vocab-size`); values may follow as the next word or after `=`. */
export function parsePrepareArgs(argv: readonly string[]): ParsedPrepareArgs {
  const inputs: string[] = [];
  const rules: Partial<Record<RuleName | 'noise', boolean>> = {};
  const opts: PrepareOptions = { inputs, out: '', rules };
  let help = false;
  let quiet = false;
  const number = (flag: string, v: string): number => {
    const x = Number(v);
    if (v.trim() === '' || !Number.isFinite(x)) throw new CliError(`${flag} expects a number, got "${v}"`);
    return x;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (!arg.startsWith('-') || arg === '-') {
      inputs.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq === -1 ? arg : arg.slice(0, eq);
    const key = flag.replace(/^-+/, '').replace(/[-_]/g, '').toLowerCase();
    const value = (): string => {
      if (eq !== -1) return arg.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined || (v.startsWith('--') && v.length > 2)) throw new CliError(`${flag} expects a value`);
      i++;
      return v;
    };
    if (key.startsWith('no') && RULE_FLAGS[key.slice(2)] !== undefined) {
      rules[RULE_FLAGS[key.slice(2)] as RuleName | 'noise'] = false;
      continue;
    }
    switch (key) {
      case 'h':
      case 'help':
        help = true;
        break;
      case 'i':
      case 'input':
      case 'inputs': {
        inputs.push(value());
        // --input a b c: following plain words are inputs too.
        while (eq === -1 && i + 1 < argv.length && !(argv[i + 1] as string).startsWith('-'))
          inputs.push(argv[++i] as string);
        break;
      }
      case 'o':
      case 'out':
      case 'output':
        opts.out = value();
        break;
      case 'tokenizer': {
        const v = value();
        if (!isTokenizerKind(v)) throw new CliError(`--tokenizer must be gpt2, bpe or char, got "${v}"`);
        opts.tokenizer = v;
        break;
      }
      case 'vocabsize':
      case 'vocab':
        opts.vocabSize = number(flag, value());
        break;
      case 'valfraction':
      case 'val':
        opts.valFraction = number(flag, value());
        break;
      case 'seed':
        opts.seed = number(flag, value());
        break;
      case 'textfield':
        opts.textField = value();
        break;
      case 'docchars':
        opts.docChars = number(flag, value());
        break;
      case 'neardupthreshold':
      case 'threshold':
        opts.nearDupThreshold = number(flag, value());
        break;
      case 'minchars':
        opts.minChars = number(flag, value());
        break;
      case 'minletterfraction':
        opts.minLetterFraction = number(flag, value());
        break;
      case 'strict':
        opts.strict = true;
        break;
      case 'quiet':
      case 'q':
      case 'noprogress':
        quiet = true;
        break;
      default:
        throw new CliError(`unknown option ${flag} (see webgpu-gpt prepare --help)`);
    }
  }
  let usedDefaultCorpus = false;
  if (!help && inputs.length === 0) {
    inputs.push(defaultCorpusPath());
    usedDefaultCorpus = true;
  }
  if (!help && !opts.out)
    throw new CliError('no output folder given: pass --out <dir> (see webgpu-gpt prepare --help)');
  return { help, quiet, options: opts, usedDefaultCorpus };
}

/** `webgpu-gpt prepare ...`: argv is what follows the word `prepare`. */
export async function prepareMain(argv: string[]): Promise<void> {
  const parsed = parsePrepareArgs(argv);
  if (parsed.help) {
    process.stdout.write(PREPARE_HELP + '\n');
    return;
  }
  if (parsed.usedDefaultCorpus)
    process.stderr.write(`no --input given: using the default corpus ${parsed.options.inputs[0]}\n`);
  const progress = parsed.quiet ? 'off' : process.stderr.isTTY ? 'bar' : 'lines';
  const report = await prepare({ ...parsed.options, progress });
  process.stdout.write(formatReport(report) + '\n');
}
