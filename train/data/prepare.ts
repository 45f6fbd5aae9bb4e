// `prepare`'s pipeline, nanoGPT's data/<set>/prepare.py grown up: read the inputs, clean them one
// document at a time, split train/val by document, build the tokenizer on the train split only,
// encode both splits with an end-of-text after each document, and write train.bin, val.bin,
// tokenizer.json and report.json into the output folder atomically. The command line is
// train/cli/prepare.ts; the report and its printed form are report.ts. With a fill-in-the-middle
// rate (fim.ts) the tokenizer gains the three sentinels and that share of the train documents is
// rearranged before packing, as the paper does; validation stays plain left-to-right text.
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from '../cli-error.ts';
import { Rng } from '../../kernels/random.ts';
import {
  DEFAULT_BPE_VOCAB,
  buildTokenizer,
  fimIds,
  isTokenizerKind,
  withFimSentinels,
  type Tokenizer,
  type TokenizerKind,
} from '../tokenizers/index.ts';
import { checkReplaceable, replaceDirAtomically } from './atomic-dir.ts';
import { FIM_MODES, encodeFimDocument, type FimMode } from './fim.ts';
import { Cleaner, DEFAULT_CLEANUP, NOISE_RULES, RULE_NAMES, type RuleName } from './cleanup.ts';
import { collectInputFiles, readInputFile, type InputFile } from './inputs.ts';
import { Progress } from './progress.ts';
import {
  REPORT_FILE,
  TRAIN_FILE,
  VAL_FILE,
  buildReport,
  timingsFrom,
  type EncodedSplit,
  type PrepareReport,
  type SkipCounts,
  type SourceCounts,
} from './report.ts';
import { writeShard } from './shards.ts';
import { splitByDocument } from './split.ts';
import { TokenBuffer, countTokens } from './stats.ts';

/** Defaults of the options that are not cleanup thresholds (those are DEFAULT_CLEANUP). */
export const PREPARE_DEFAULTS = {
  tokenizer: 'bpe' as TokenizerKind,
  valFraction: 0.05,
  seed: 1337,
  textField: 'text',
  docChars: 4000,
  fimRate: 0,
  fimMode: 'psm' as FimMode,
  fimChars: 0,
} as const;

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
  /** Share of train documents rearranged for fill-in-the-middle (default 0: none, and no sentinels
   *  in the tokenizer, so the output is what it was without FIM). */
  fimRate?: number;
  /** `psm` (default) or `spm`. */
  fimMode?: FimMode;
  /** > 0: FIM applies to fragments of about this many characters instead of whole documents, so
   *  that an example fits a short context (default 0). */
  fimChars?: number;
  /** `bar`: terminal progress bar; `lines`: one line per phase; `off` (default). */
  progress?: 'bar' | 'lines' | 'off';
  /** Warnings and progress lines (default: stderr). */
  log?: (line: string) => void;
  /** Called with the temporary folder once every file is written, just before it is moved into
   *  place (for inspection in tests; throwing aborts the run and leaves `out` as it was). */
  beforeCommit?: (tmpDir: string) => void;
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
  fimRate: number;
  fimMode: FimMode;
  fimChars: number;
  rules: Record<RuleName, boolean>;
  progress: 'bar' | 'lines' | 'off';
  log: (line: string) => void;
}

/** Every rule on, then `noise` for the five noise rules, then each rule given by name. */
function resolveRules(given: Partial<Record<RuleName | 'noise', boolean>>): Record<RuleName, boolean> {
  const rules = {} as Record<RuleName, boolean>;
  for (const r of RULE_NAMES) rules[r] = true;
  if (given.noise !== undefined) for (const r of NOISE_RULES) rules[r] = given.noise;
  for (const r of RULE_NAMES) {
    const v = given[r];
    if (v !== undefined) rules[r] = v;
  }
  return rules;
}

/** Fills in defaults and checks every option; messages name the command-line flag. */
function resolveOptions(o: PrepareOptions): Resolved {
  const D = PREPARE_DEFAULTS;
  const tokenizer = o.tokenizer ?? D.tokenizer;
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
  if (!o.out) throw new CliError('no output folder given: pass --out <dir>');
  const fimMode = o.fimMode ?? D.fimMode;
  if (!FIM_MODES.includes(fimMode)) throw new CliError(`--fimMode must be psm or spm, got ${String(fimMode)}`);
  return {
    inputs: o.inputs,
    out: resolve(o.out),
    tokenizer,
    vocabSize,
    valFraction: num('valFraction', o.valFraction, D.valFraction, (x) => x >= 0 && x < 1, 'a number in [0, 1)'),
    seed: num('seed', o.seed, D.seed, (x) => int(x) && x >= 0 && x <= 0xffffffff, 'an integer in [0, 2^32)'),
    textField: o.textField ?? D.textField,
    docChars: num('docChars', o.docChars, D.docChars, (x) => int(x) && x >= 0, 'an integer >= 0'),
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
    fimRate: num('fimRate', o.fimRate, D.fimRate, (x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
    fimMode,
    fimChars: num('fimChars', o.fimChars, D.fimChars, (x) => int(x) && x >= 0, 'an integer >= 0'),
    rules: resolveRules(o.rules ?? {}),
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

interface KeptDoc {
  text: string;
  source: string;
}

/** Warnings go into the report; the first 20 are also logged. */
class Warnings {
  readonly list: string[] = [];
  constructor(private readonly log: (line: string) => void) {}
  add(msg: string): void {
    this.list.push(msg);
    if (this.list.length <= 20) this.log(`warning: ${msg}`);
    else if (this.list.length === 21) this.log('warning: (further warnings only in report.json)');
  }
}

interface ReadResult {
  kept: KeptDoc[];
  sources: Map<string, SourceCounts>;
  skipped: SkipCounts;
  docsIn: number;
  charsIn: number;
}

/** Step 1: reads every file and cleans it one document at a time (the corpus never sits in memory
 *  twice). Bad records are counted and warned about, or thrown with --strict. */
async function readAndClean(
  files: InputFile[],
  o: Resolved,
  cleaner: Cleaner,
  progress: Progress,
  warnings: Warnings,
): Promise<ReadResult> {
  const r: ReadResult = {
    kept: [],
    sources: new Map(),
    skipped: { binaryFile: 0, invalidUtf8: 0, malformedJson: 0, missingTextField: 0, examples: [] },
    docsIn: 0,
    charsIn: 0,
  };
  let bytesDone = 0;
  progress.start(
    'reading + cleaning',
    files.reduce((s, f) => s + f.size, 0),
    'bytes',
  );
  for (const file of files) {
    let src = r.sources.get(file.source);
    if (src === undefined) {
      src = { files: 0, docsIn: 0, charsIn: 0, docsOut: 0, charsOut: 0, tokens: 0 };
      r.sources.set(file.source, src);
    }
    src.files++;
    const acc = src;
    let charsInFile = 0;
    readInputFile(
      file,
      { textField: o.textField, docChars: o.docChars, strict: o.strict },
      (doc) => {
        r.docsIn++;
        r.charsIn += doc.text.length;
        acc.docsIn++;
        acc.charsIn += doc.text.length;
        const text = cleaner.process(doc.text);
        if (text !== null) {
          r.kept.push({ text, source: doc.source });
          acc.docsOut++;
          acc.charsOut += text.length;
        }
        charsInFile += doc.text.length;
        if ((r.docsIn & 255) === 0) progress.update(bytesDone + Math.min(charsInFile, file.size), r.docsIn);
      },
      (skip) => {
        r.skipped[skip.kind]++;
        const line = `${skip.where}: ${skip.message}; the ${skip.unit} is skipped`;
        if (r.skipped.examples.length < 50) r.skipped.examples.push(line);
        warnings.add(line);
      },
    );
    bytesDone += file.size;
    progress.update(bytesDone, r.docsIn);
    await maybeYield();
  }
  progress.stop(`${r.docsIn} documents read, ${r.kept.length} kept`);
  return r;
}

/** Nothing to train on is an error that says why: no text at all, or cleanup removed all of it. */
function checkNotEmpty(r: ReadResult, fileCount: number, cleaner: Cleaner): void {
  const sk = r.skipped;
  if (r.docsIn === 0) {
    const skips = sk.binaryFile + sk.invalidUtf8 + sk.malformedJson + sk.missingTextField;
    throw new CliError(
      `empty corpus: the ${fileCount} input file(s) contain no text` +
        (skips > 0 ? ` (${skips} file(s)/record(s) skipped as bad input: ${sk.examples.slice(0, 3).join('; ')})` : ''),
    );
  }
  if (r.kept.length === 0) {
    const by = RULE_NAMES.filter((rule) => cleaner.stats[rule].docsRemoved > 0)
      .map((rule) => `${rule}: ${cleaner.stats[rule].docsRemoved}`)
      .join(', ');
    throw new CliError(
      `empty corpus after cleanup: all ${r.docsIn} documents were removed (${by}); switch rules off with --no-<rule>`,
    );
  }
}

/** Step 3: the tokenizer, trained on the train split only so that validation stays unseen. */
function trainTokenizer(o: Resolved, trainDocs: KeptDoc[], progress: Progress, warnings: Warnings): Tokenizer {
  if (o.tokenizer === 'bpe')
    progress.start(`training bpe (${o.vocabSize})`, (o.vocabSize ?? DEFAULT_BPE_VOCAB) - 257, 'merges');
  else progress.start(`building ${o.tokenizer} tokenizer`, 1, 'docs');
  let tokenizer: Tokenizer;
  try {
    tokenizer = buildTokenizer(
      o.tokenizer,
      trainDocs.map((d) => d.text),
      { vocabSize: o.vocabSize, onProgress: (done) => progress.update(done) },
    );
  } catch (err) {
    if (err instanceof RangeError) throw new CliError(err.message);
    throw err;
  }
  progress.stop(`vocabulary ${tokenizer.vocabSize}`);
  if (o.tokenizer === 'bpe' && o.vocabSize !== undefined && tokenizer.vocabSize < o.vocabSize) {
    warnings.add(
      `bpe: the corpus only supports ${tokenizer.vocabSize} ids (no pair occurs twice any more); asked for ${o.vocabSize}`,
    );
  }
  return tokenizer;
}

/** Step 4: encodes both splits (split k's documents with `encodeDoc(text, k)`); every document is
 *  followed by end-of-text. */
async function encodeSplits(
  tokenizer: Tokenizer,
  splits: readonly KeptDoc[][],
  sources: Map<string, SourceCounts>,
  progress: Progress,
  encodeDoc: (text: string, split: number) => number[],
): Promise<EncodedSplit[]> {
  const V = tokenizer.vocabSize;
  const out = splits.map((docs) => ({
    docs: docs.length,
    chars: docs.reduce((s, d) => s + d.text.length, 0),
    buf: new TokenBuffer(),
    counts: new Float64Array(V),
  }));
  progress.start(
    'encoding',
    out.reduce((s, e) => s + e.chars, 0),
    'bytes',
  );
  let encodedChars = 0;
  let encodedDocs = 0;
  for (const [k, docs] of splits.entries()) {
    const acc = out[k]!;
    for (const doc of docs) {
      const ids = encodeDoc(doc.text, k);
      ids.push(tokenizer.eotId);
      acc.buf.pushAll(ids);
      countTokens(ids, acc.counts);
      sources.get(doc.source)!.tokens += ids.length;
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
  return out;
}

/** The options as the report records them. */
function reportOptions(o: Resolved): PrepareReport['options'] {
  return {
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
    // Only when on, so that a run without FIM writes the report it always wrote.
    ...(o.fimRate > 0 ? { fim: { rate: o.fimRate, mode: o.fimMode, fragmentChars: o.fimChars } } : {}),
  };
}

/**
 * How step 4 encodes a document: plainly, or — with a FIM rate — the train split's documents
 * through the FIM transform, drawing from one Rng seeded from the split seed. Returns the tokenizer
 * to encode and save with (with the sentinels when FIM is on).
 */
function documentEncoder(
  base: Tokenizer,
  o: Resolved,
): { tokenizer: Tokenizer; encodeDoc: (text: string, split: number) => number[] } {
  if (!(o.fimRate > 0)) return { tokenizer: base, encodeDoc: (text) => base.encode(text) };
  const tokenizer = withFimSentinels(base);
  const ids = fimIds(tokenizer)!;
  const rng = new Rng(o.seed ^ 0xf1f0, 'sfc32');
  const fim = { rate: o.fimRate, mode: o.fimMode, fragmentChars: o.fimChars };
  return {
    tokenizer,
    encodeDoc: (text, split) =>
      split === 0 ? encodeFimDocument(tokenizer, ids, text, rng, fim) : tokenizer.encode(text),
  };
}

/**
 * Runs the whole pipeline: read, clean, split, build the tokenizer on the train split, encode, and
 * write `train.bin`, `val.bin`, `tokenizer.json` and `report.json` into `out` atomically. Returns the
 * report. Bad input raises a CliError with a message that names the file (and line).
 */
export async function prepare(options: PrepareOptions): Promise<PrepareReport> {
  const o = resolveOptions(options);
  const start = performance.now();
  const progress = new Progress(o.progress, o.log);
  const warnings = new Warnings(o.log);
  const files = collectInputFiles(o.inputs);
  checkReplaceable(o.out, REPORT_FILE);

  // 1. Read and clean.
  const cleaner = new Cleaner({
    rules: o.rules,
    minChars: o.minChars,
    minLetterFraction: o.minLetterFraction,
    nearDupThreshold: o.nearDupThreshold,
  });
  const read = await readAndClean(files, o, cleaner, progress, warnings);
  checkNotEmpty(read, files.length, cleaner);
  const tRead = performance.now();

  // 2. Split by document.
  const { kept } = read;
  const isVal = splitByDocument(
    kept.map((d) => d.text.length),
    o.valFraction,
    o.seed,
  );
  const trainDocs = kept.filter((_, i) => !isVal[i]);
  const valDocs = kept.filter((_, i) => isVal[i]);
  if (o.valFraction > 0 && valDocs.length === 0) {
    warnings.add(
      `only ${kept.length} document left after cleanup: the validation split is empty (more text, or a smaller --docChars, gives one)`,
    );
  }

  // 3. Tokenizer; 4. encoding.
  const { tokenizer, encodeDoc } = documentEncoder(trainTokenizer(o, trainDocs, progress, warnings), o);
  const tTok = performance.now();
  const [train, val] = (await encodeSplits(tokenizer, [trainDocs, valDocs], read.sources, progress, encodeDoc)) as [
    EncodedSplit,
    EncodedSplit,
  ];
  const tEnc = performance.now();

  // 5. Statistics, then 6. the files, written into a temporary folder renamed into place.
  const report = buildReport({
    ...read,
    out: o.out,
    options: reportOptions(o),
    inputs: { paths: [...o.inputs], files: files.length, bytes: files.reduce((s, f) => s + f.size, 0) },
    docsOut: kept.length,
    cleaner,
    tokenizer,
    train,
    val,
    warnings: warnings.list,
  });
  replaceDirAtomically(o.out, REPORT_FILE, (tmp) => {
    const meta = { vocabSize: tokenizer.vocabSize, eotId: tokenizer.eotId, tokenizerId: tokenizer.id };
    writeShard(join(tmp, TRAIN_FILE), train.buf.view(), { ...meta, docCount: trainDocs.length });
    writeShard(join(tmp, VAL_FILE), val.buf.view(), { ...meta, docCount: valDocs.length });
    tokenizer.save(tmp);
    report.timings = timingsFrom({ start, read: tRead, tokenizer: tTok, encode: tEnc, end: performance.now() });
    writeFileSync(join(tmp, REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
    options.beforeCommit?.(tmp);
  });
  return report;
}
