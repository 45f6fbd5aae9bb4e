// `prepare --task nsp`: next-sentence prediction as a sentence-pair classification task, built from
// any corpus `prepare` reads, and written as `finetune --task classify` data.
//
// - Documents: each JSONL record is one; a plain-text file is split at chapter headings when it
//   has them (a book: Moby-Dick's 135 chapters), else into paragraph-packed chunks of --docChars
//   (inputs.ts). Each document is split into sentences by the documented rules of sentences.ts.
//   No cleanup rule runs (the pairs are raw text for a classifier): clean a corpus with `prepare`'s
//   rules elsewhere first if it needs it.
// - Splits: whole documents go to train, val and test (seeded), so held-out pairs come from
//   held-out documents. val and test each get round(valFraction × documents), at least 2 (a random
//   sentence must come from another document of the same split); valFraction 0 writes train only.
// - Pairs (BERT's recipe, Devlin et al. 2019): for every two consecutive sentences (A, next) of a
//   document, the pair is (A, next) with label "next" or (A, R) with label "random", R a sentence
//   drawn uniformly from the other documents of the same split. Exactly half of a split's pairs
//   (rounded down) are "next", which ones is a seeded shuffle, so chance accuracy is 50 %. With
//   maxSentenceChars, only pairs whose A and B are both that short are made, and R is drawn from
//   sentences that short too (so length says nothing about the label).
// - Records: `{"text": A, "text2": B, "label": "next" | "random"}`. `finetune --task classify`
//   reads `text2` as the second segment of a pair and joins the two with the end-of-text id
//   (records.ts, examples.ts): no separator token is added to a pre-trained vocabulary.
// - Output, written atomically (atomic-dir.ts): train.jsonl, val.jsonl, test.jsonl and nsp.json
//   (the counts; also the marker that lets a later run replace the folder).
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Rng } from '../../kernels/random.ts';
import { CliError } from '../cli-error.ts';
import { replaceDirAtomically } from './atomic-dir.ts';
import { defaultCorpusPath } from './default-corpus.ts';
import { collectInputFiles, readInputFile, splitTextDocuments } from './inputs.ts';
import { PREPARE_DEFAULTS } from './prepare.ts';
import { hasChapters, splitChapters, splitSentences } from './sentences.ts';

export const NSP_REPORT_FILE = 'nsp.json';
export const NSP_LABELS = ['next', 'random'] as const;
export type NspLabel = (typeof NSP_LABELS)[number];
export const NSP_SPLITS = ['train', 'val', 'test'] as const;
export type NspSplitName = (typeof NSP_SPLITS)[number];

/** One classify record of the task. */
export interface NspPair {
  text: string;
  text2: string;
  label: NspLabel;
}

export interface NspOptions {
  inputs: string[];
  out: string;
  /** Share of the documents for val and for test each (default prepare's 0.05; 0 = train only). */
  valFraction?: number;
  seed?: number;
  textField?: string;
  /** Plain text without chapter headings: paragraphs packed into documents of this many characters. */
  docChars?: number;
  /** Only sentences of at most this many characters make pairs (default 0: no limit). */
  maxSentenceChars?: number;
  strict?: boolean;
  log?: (line: string) => void;
}

export interface NspSplitReport {
  documents: number;
  sentences: number;
  pairs: number;
  next: number;
  random: number;
  file: string | null;
}

export interface NspReport {
  task: 'nsp';
  inputs: string[];
  out: string;
  seed: number;
  valFraction: number;
  maxSentenceChars: number;
  documents: number;
  sentences: number;
  skippedRecords: number;
  splits: Record<NspSplitName, NspSplitReport>;
}

/** A document's sentences; `sentences.length` may be 1 (it then only lends random sentences). */
type Doc = string[];

/** Reads the inputs into documents of sentences (the document rule at the top of this file). */
export function readNspDocuments(
  inputs: readonly string[],
  opts: { textField: string; docChars: number; strict: boolean; log: (line: string) => void },
): { docs: Doc[]; skipped: number } {
  const docs: Doc[] = [];
  let skipped = 0;
  const add = (text: string): void => {
    const sentences = splitSentences(text);
    if (sentences.length > 0) docs.push(sentences);
  };
  for (const file of collectInputFiles(inputs)) {
    const read = { textField: opts.textField, docChars: 0, strict: opts.strict };
    readInputFile(
      file,
      read,
      ({ text }) => {
        if (file.format === 'jsonl') add(text);
        else if (hasChapters(text)) splitChapters(text).forEach(add);
        else splitTextDocuments(text, opts.docChars).forEach(add);
      },
      (s) => {
        skipped++;
        if (skipped <= 5) opts.log(`warning: ${s.where}: ${s.message}; skipped`);
      },
    );
  }
  return { docs, skipped };
}

/** Seeded split of `n` documents into train/val/test indices (see the top of this file). */
export function splitNspDocuments(
  n: number,
  valFraction: number,
  seed: number,
  where: string,
): Record<NspSplitName, number[]> {
  const order = new Rng(seed ^ 0x4e5350, 'sfc32').shuffle(Array.from({ length: n }, (_, i) => i));
  if (valFraction === 0) return { train: order, val: [], test: [] };
  const held = Math.max(2, Math.round(valFraction * n));
  if (n - 2 * held < 2) {
    throw new CliError(
      `prepare --task nsp holds out whole documents (at least 2 each for val and test, 2 left to train): ` +
        `needs at least ${2 * held + 2} documents, got ${n} in ${where} (pass --valFraction 0 for train only, or a smaller --docChars)`,
    );
  }
  const sorted = (a: number[]): number[] => a.sort((x, y) => x - y);
  return {
    val: sorted(order.slice(0, held)),
    test: sorted(order.slice(held, 2 * held)),
    train: sorted(order.slice(2 * held)),
  };
}

/** The pairs of one split's documents, in document order (see the top of this file). */
export function makeNspPairs(docs: readonly Doc[], rng: Rng, maxSentenceChars = 0): NspPair[] {
  const fits = (s: string): boolean => maxSentenceChars <= 0 || s.length <= maxSentenceChars;
  const pool: { doc: number; s: string }[] = [];
  const anchors: { doc: number; i: number }[] = [];
  docs.forEach((sentences, doc) => {
    sentences.forEach((s, i) => {
      if (!fits(s)) return;
      pool.push({ doc, s });
      if (i + 1 < sentences.length && fits(sentences[i + 1] as string)) anchors.push({ doc, i });
    });
  });
  if (anchors.length === 0) return [];
  if (new Set(pool.map((p) => p.doc)).size < 2) return [];
  const isNext = rng.shuffle(anchors.map((_, k) => k < Math.floor(anchors.length / 2)));
  return anchors.map(({ doc, i }, k): NspPair => {
    const sentences = docs[doc] as Doc;
    const text = sentences[i] as string;
    if (isNext[k]) return { text, text2: sentences[i + 1] as string, label: 'next' };
    let r = pool[rng.unbiasedInt(pool.length)] as { doc: number; s: string };
    while (r.doc === doc) r = pool[rng.unbiasedInt(pool.length)] as { doc: number; s: string };
    return { text, text2: r.s, label: 'random' };
  });
}

/** The bad inputs of the task, one clear line each, before any split is drawn. */
function checkCorpus(docs: readonly Doc[], where: string, maxSentenceChars: number): void {
  if (docs.length < 2) {
    throw new CliError(
      `prepare --task nsp needs at least two documents to draw random sentences from; got ${docs.length} in ${where}`,
    );
  }
  const fits = (s: string | undefined): boolean =>
    s !== undefined && (maxSentenceChars <= 0 || s.length <= maxSentenceChars);
  if (!docs.some((d) => d.some((s, i) => fits(s) && fits(d[i + 1])))) {
    const limit = maxSentenceChars > 0 ? ` of at most --maxSentenceChars ${maxSentenceChars} characters` : '';
    throw new CliError(
      `prepare --task nsp needs a document with at least two consecutive sentences${limit} to draw a next sentence from; ` +
        `none of the ${docs.length} documents in ${where} has them`,
    );
  }
}

function resolveNspOptions(o: NspOptions): Required<Omit<NspOptions, 'log'>> & { log: (line: string) => void } {
  const valFraction = o.valFraction ?? PREPARE_DEFAULTS.valFraction;
  if (!(valFraction >= 0 && valFraction < 0.5))
    throw new CliError(`--valFraction must be in [0, 0.5) for --task nsp (val and test each), got ${valFraction}`);
  const max = o.maxSentenceChars ?? 0;
  if (!(Number.isInteger(max) && max >= 0))
    throw new CliError(`--maxSentenceChars must be an integer >= 0, got ${max}`);
  if (!o.out) throw new CliError('no output folder given: pass --out <dir>');
  return {
    inputs: o.inputs,
    out: resolve(o.out),
    valFraction,
    seed: o.seed ?? PREPARE_DEFAULTS.seed,
    textField: o.textField ?? PREPARE_DEFAULTS.textField,
    docChars: o.docChars ?? PREPARE_DEFAULTS.docChars,
    maxSentenceChars: max,
    strict: o.strict ?? false,
    log: o.log ?? ((line: string) => process.stderr.write(line + '\n')),
  };
}

/** Reads the corpus, draws the pairs of each split and writes them (see the top of this file). */
export function prepareNsp(options: NspOptions): NspReport {
  const o = resolveNspOptions(options);
  const where = o.inputs.join(', ');
  const { docs, skipped } = readNspDocuments(o.inputs, o);
  checkCorpus(docs, where, o.maxSentenceChars);
  const split = splitNspDocuments(docs.length, o.valFraction, o.seed, where);
  const pairs = {} as Record<NspSplitName, NspPair[]>;
  const splits = {} as Record<NspSplitName, NspSplitReport>;
  NSP_SPLITS.forEach((name, k) => {
    const members = split[name].map((i) => docs[i] as Doc);
    pairs[name] = makeNspPairs(members, new Rng((o.seed ^ 0x4e5350) + k + 1, 'sfc32'), o.maxSentenceChars);
    if (members.length > 0 && pairs[name].length === 0) {
      throw new CliError(
        `prepare --task nsp: the ${members.length} ${name} documents of ${where} give no sentence pair ` +
          `(a pair needs two consecutive sentences in one document${o.maxSentenceChars > 0 ? ' within --maxSentenceChars' : ''} ` +
          `and a sentence in another); try another --seed or a larger --valFraction`,
      );
    }
    const next = pairs[name].filter((p) => p.label === 'next').length;
    splits[name] = {
      documents: members.length,
      sentences: members.reduce((n, d) => n + d.length, 0),
      pairs: pairs[name].length,
      next,
      random: pairs[name].length - next,
      file: members.length > 0 ? join(o.out, `${name}.jsonl`) : null,
    };
  });
  const report: NspReport = {
    task: 'nsp',
    inputs: o.inputs,
    out: o.out,
    seed: o.seed,
    valFraction: o.valFraction,
    maxSentenceChars: o.maxSentenceChars,
    documents: docs.length,
    sentences: docs.reduce((n, d) => n + d.length, 0),
    skippedRecords: skipped,
    splits,
  };
  replaceDirAtomically(o.out, NSP_REPORT_FILE, (tmp) => {
    for (const name of NSP_SPLITS) {
      if (splits[name].file === null) continue;
      writeFileSync(join(tmp, `${name}.jsonl`), pairs[name].map((p) => JSON.stringify(p) + '\n').join(''));
    }
    writeFileSync(join(tmp, NSP_REPORT_FILE), JSON.stringify(report, null, 2) + '\n');
  });
  return report;
}

/** The printed summary: documents and pairs per split. */
export function formatNspReport(r: NspReport): string {
  const n = (x: number): string => x.toLocaleString('en-US');
  const lines = [
    `nsp: ${n(r.documents)} documents, ${n(r.sentences)} sentences from ${r.inputs.join(', ')}` +
      (r.skippedRecords > 0 ? ` (${n(r.skippedRecords)} records skipped)` : ''),
  ];
  for (const name of NSP_SPLITS) {
    const s = r.splits[name];
    if (s.file === null) continue;
    lines.push(
      `  ${name.padEnd(5)} ${n(s.documents).padStart(6)} documents ${n(s.pairs).padStart(8)} pairs ` +
        `(${n(s.next)} next, ${n(s.random)} random) -> ${s.file}`,
    );
  }
  lines.push(`finetune with: --task classify --data ${join(r.out, 'train.jsonl')}` + valTestFlags(r));
  return lines.join('\n');
}

function valTestFlags(r: NspReport): string {
  const f = (name: NspSplitName, flag: string): string =>
    r.splits[name].file ? ` ${flag} ${r.splits[name].file}` : '';
  return f('val', '--val') + f('test', '--test');
}

/**
 * The demo's NSP data: Moby-Dick (the default corpus), chapters as documents, `heldOut` of the
 * chapters each for val and test (default 0.1: 14 + 14 of 135), written to `out`.
 */
export function mobyDickNsp(
  out: string,
  opts: { seed?: number; heldOut?: number; maxSentenceChars?: number; log?: (line: string) => void } = {},
): NspReport {
  return prepareNsp({
    inputs: [defaultCorpusPath()],
    out,
    valFraction: opts.heldOut ?? 0.1,
    seed: opts.seed,
    maxSentenceChars: opts.maxSentenceChars,
    log: opts.log,
  });
}
