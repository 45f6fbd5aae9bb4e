// The data files of the fine-tuning demo (`npm run finetune`), written under <out>/data from the
// shipped public data (./datasets.ts): the review sentences split 80/20 stratified by label with a
// fixed seed (train/test JSONL), WordNet "Define: word" → gloss records split by word (so the test
// words are never seen in training), and the review sentences as plain text for `lm`. The files are
// what the sub-runs read, so each number in the demo's table can be reproduced with `finetune`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { atomicWrite } from '../run-dir.ts';
import { sentimentSentences, toJsonl, wordnetGlosses } from './datasets.ts';
import type { ClassifyRecord, Label } from './records.ts';
import { seededRng } from './rng.ts';
import { splitByFraction } from './splits.ts';

export interface DemoDataOptions {
  /** Seed of every split and shuffle (the baselines' documented split uses 0). */
  seed: number;
  /** Share of the review sentences held out as the sentiment test split. */
  sentimentTestFraction: number;
  /** WordNet words drawn (a seeded subset of the single-word nouns with a short enough gloss). */
  definitionWords: number;
  /** Longest gloss kept, in characters: longer ones do not fit a small model's context. */
  definitionMaxChars: number;
  /** Share of those words held out for scoring. */
  definitionTestFraction: number;
}

/** The files written and the records the baselines need. */
export interface DemoData {
  dir: string;
  sentimentTrain: string;
  sentimentTest: string;
  definitionsTrain: string;
  definitionsTest: string;
  reviews: string;
  sentiment: { train: ClassifyRecord[]; test: ClassifyRecord[]; labels: Label[] };
  definitions: { train: number; test: number };
  /** One line per file for the demo's log. */
  lines: string[];
}

const OFFENSIVE = /slur|offensive|obscen|vulgar|disparag|derogatory/i;

function writeFile(path: string, text: string): string {
  atomicWrite(path, text);
  return path;
}

/** Records as JSONL rows `{text, label}` (the label as a string, as the fixtures' classes are named). */
function sentimentRows(records: readonly ClassifyRecord[]): object[] {
  return records.map((r) => ({ text: r.text, label: r.label }));
}

/** Writes every data file of the demo into `dir` (created if missing); the same seed, the same files. */
export function writeDemoData(dir: string, o: DemoDataOptions): DemoData {
  mkdirSync(dir, { recursive: true });
  const sentiment = sentimentSentences();
  const split = splitByFraction(sentiment.records, o.sentimentTestFraction, o.seed, 'sentiment', (r) => r.label);
  const sentimentTrain = writeFile(join(dir, 'sentiment-train.jsonl'), toJsonl(sentimentRows(split.train)));
  const sentimentTest = writeFile(join(dir, 'sentiment-test.jsonl'), toJsonl(sentimentRows(split.val)));

  // WordNet labels slurs and obscenities in their glosses; a demo that prints samples leaves them out.
  const short = wordnetGlosses().rows.filter((r) => r.gloss.length <= o.definitionMaxChars && !OFFENSIVE.test(r.gloss));
  const drawn = seededRng(o.seed).shuffle(short).slice(0, o.definitionWords);
  const words = splitByFraction(drawn, o.definitionTestFraction, o.seed, 'definitions');
  const definitionsTrain = writeFile(join(dir, 'definitions-train.jsonl'), toJsonl(words.train));
  const definitionsTest = writeFile(join(dir, 'definitions-test.jsonl'), toJsonl(words.val));

  // The training split's sentences only (the test sentences stay unseen, even unlabelled), shuffled
  // so that the held-out tail `lm` validates on mixes the three sources; a blank line between
  // sentences makes each its own document (closed by the end-of-text token).
  const sentences = seededRng(o.seed)
    .shuffle(split.train.map((r) => r.text))
    .join('\n\n');
  const reviews = writeFile(join(dir, 'reviews.txt'), sentences + '\n');

  const count = (rs: readonly ClassifyRecord[], l: Label): number => rs.filter((r) => r.label === l).length;
  const byLabel = (rs: readonly ClassifyRecord[]): string =>
    sentiment.labels.map((l) => `${count(rs, l)} ${String(l)}`).join(', ');
  const lines = [
    `sentiment: ${split.train.length} train (${byLabel(split.train)}) / ${split.val.length} test (${byLabel(split.val)}) sentences, stratified, seed ${o.seed} (${sentiment.report.skipped} empty fixture entries skipped)`,
    `definitions: ${words.train.length} train / ${words.val.length} held-out WordNet words (first noun sense, glosses of at most ${o.definitionMaxChars} characters)`,
    `reviews: the ${split.train.length} training sentences as text for lm (domain adaptation)`,
  ];
  return {
    dir,
    sentimentTrain,
    sentimentTest,
    definitionsTrain,
    definitionsTest,
    reviews,
    sentiment: { train: split.train, test: split.val, labels: sentiment.labels },
    definitions: { train: words.train.length, test: words.val.length },
    lines,
  };
}
