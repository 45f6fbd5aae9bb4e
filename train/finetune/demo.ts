// The fine-tuning demo (`npm run finetune` = `webgpu-gpt finetune-demo`): the measurement behind
// the claim that pre-training makes fine-tuning work, on shipped public data, in five stages that
// each run the real `finetune` into their own folder under <out>:
//   [1/5] sentiment `classify` from the pre-trained base, scored on the held-out 20%;
//   [2/5] the same from scratch (same shape, same tokenizer, same budget);
//   [3/5] the baselines a practitioner asks for: majority class and naive Bayes, same split;
//   [4/5] definitions `sft` ("Define: word" → WordNet gloss) from the base, scored on held-out words
//         before and after (greedy generations, ROUGE-L F1 and exact match);
//   [5/5] domain adaptation `lm` on the review sentences from the base: the review-domain and the
//         Moby-Dick validation losses before and after.
// Then one table with every number (./demo-report.ts). Which base to start from (and a shorter
// pre-training when there is none) is the command's business: train/cli/finetune-demo.ts.
//
// The budgets below are the knobs: one object per sub-run, over `finetune`'s defaults. Chosen so
// the whole demo takes at most ~15 minutes on lavapipe (2 CPU cores).
import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from '../cli-error.ts';
import { TOKENIZER_FILE } from '../tokenizers/index.ts';
import { runBaselines } from './baselines.ts';
import { writeDemoData, type DemoData, type DemoDataOptions } from './demo-data.ts';
import { checkBars, formatResults, writeResults, type ClassifierScore, type DemoResults } from './demo-report.ts';
import { finetune, type FinetuneConfig, type FinetuneSummary } from './run.ts';

/** The data: seed 0 is the split the baselines' documented 0.82 was measured on. */
export const DEMO_DATA: DemoDataOptions = {
  seed: 0,
  sentimentTestFraction: 0.2,
  definitionWords: 3000,
  definitionMaxChars: 80,
  definitionTestFraction: 0.1,
};

/** [1/5] sentiment from the base (a stratified 10% of the training split validates during training). */
export const SENTIMENT_FROM_BASE = {
  steps: 300,
  batchSize: 32,
  lr: 1e-3,
  evalEvery: 100,
} satisfies Partial<FinetuneConfig>;

/** [2/5] from scratch: the same budget as [1/5] (the comparison is only fair if steps and batch match). */
export const SENTIMENT_FROM_SCRATCH = { ...SENTIMENT_FROM_BASE } satisfies Partial<FinetuneConfig>;

/**
 * [4/5] definitions; the held-out words are the validation split, so "before" is scored on them too.
 * Measured from runs/moby-dick (B 16, lr 1e-3): ROUGE-L F1 0.064 → 0.202 at 150 steps, 0.191 at 300.
 */
export const DEFINITIONS_SFT = {
  steps: 150,
  batchSize: 16,
  lr: 1e-3,
  evalEvery: 150,
  scoreExamples: 64,
  prompt: 'Define: {word}\n',
  target: '{gloss}',
} satisfies Partial<FinetuneConfig>;

/**
 * [5/5] domain adaptation on the review sentences (their last 10% of tokens validate). Measured from
 * runs/moby-dick (B 16, lr 1e-3): review loss 4.02 → 3.09 at 100 steps, 2.88 at 400 (Moby-Dick 3.20
 * → 3.96 and 4.21: forgetting).
 */
export const REVIEWS_LM = {
  steps: 150,
  batchSize: 16,
  lr: 1e-3,
  evalEvery: 50,
} satisfies Partial<FinetuneConfig>;

/** --quick: a smoke run (for the test): every sub-run this small, and fewer, shorter definitions
 *  (a test's tiny model has a context of 16 characters). */
export const QUICK = { steps: 2, evalEvery: 2, batchSize: 4, evalBatches: 1, scoreExamples: 2 };
export const QUICK_DATA: Partial<DemoDataOptions> = { definitionWords: 100, definitionMaxChars: 12 };

export interface DemoOptions {
  /** A finished pre-training run folder. */
  base: string;
  out: string;
  quick: boolean;
  /** `finetune`'s keys at their defaults (the finetune command's schema). */
  defaults: FinetuneConfig;
  /** The base was pre-trained by this demo (a shorter run: the output says so). */
  pretrainedHere?: boolean;
  /** performance.now() when the demo started (a pre-training before it counts in its time). */
  startedAt?: number;
  log?: (line: string) => void;
}

const STAGES = 5;

/** A sub-run's config: the defaults, the stage's budget (or --quick's), its folder. */
function stageConfig(o: DemoOptions, name: string, over: Partial<FinetuneConfig>): FinetuneConfig {
  return { ...o.defaults, from: resolve(o.base), ...over, ...(o.quick ? QUICK : {}), out: join(resolve(o.out), name) };
}

/** Runs one sub-run from a clean folder; a run stopped by a signal stops the demo. */
async function runStage(cfg: FinetuneConfig, log: (l: string) => void): Promise<{ s: FinetuneSummary; sec: number }> {
  rmSync(cfg.out!, { recursive: true, force: true });
  const t0 = performance.now();
  const s = await finetune(cfg, { log, handleSigint: true });
  if (s.status !== 'finished')
    throw new CliError(
      `stopped${s.stoppedBy ? ` by ${s.stoppedBy}` : ''} in ${cfg.out}: run the demo again to start over`,
    );
  return { s, sec: (performance.now() - t0) / 1000 };
}

function header(n: number, what: string, log: (l: string) => void): void {
  log(`\n[${n}/${STAGES}] ${what} ...`);
}

function testScore(r: { s: FinetuneSummary; sec: number }): ClassifierScore {
  const m = r.s.test?.metrics ?? {};
  return { accuracy: m.accuracy ?? NaN, macroF1: m.macroF1 ?? NaN, sec: r.sec };
}

/** [1/5] and [2/5]: classify from the base, then from scratch in the base's shape and tokenizer. */
async function sentimentRuns(o: DemoOptions, data: DemoData, log: (l: string) => void) {
  const task = { task: 'classify', data: data.sentimentTrain, test: data.sentimentTest };
  header(1, 'sentiment from the pre-trained base', log);
  const base = await runStage(stageConfig(o, 'sentiment-base', { ...task, ...SENTIMENT_FROM_BASE }), log);
  header(2, 'sentiment from scratch (same shape, tokenizer and budget)', log);
  const { nLayer, nHead, nEmbd, blockSize } = base.s.model;
  const shape = { nLayer, nHead, nEmbd, blockSize, tokenizer: join(resolve(o.base), TOKENIZER_FILE) };
  const scratchCfg = stageConfig(o, 'sentiment-scratch', { ...task, ...SENTIMENT_FROM_SCRATCH, ...shape });
  const scratch = await runStage({ ...scratchCfg, from: 'scratch' }, log);
  const sameShape = JSON.stringify(scratch.s.model) === JSON.stringify(base.s.model);
  if (!sameShape || scratch.s.tokenizer !== base.s.tokenizer)
    throw new CliError(
      `the from-scratch run differs from the base: model ${JSON.stringify(scratch.s.model)} tokenizer ${scratch.s.tokenizer}, base ${JSON.stringify(base.s.model)} ${base.s.tokenizer}`,
    );
  return { fromBase: testScore(base), fromScratch: testScore(scratch) };
}

/** [3/5] majority class and naive Bayes, trained on the training split, scored on the test split. */
function baselineRuns(data: DemoData, log: (l: string) => void) {
  header(3, 'baselines: majority class and naive Bayes (unigrams + bigrams)', log);
  const t0 = performance.now();
  const { train, test, labels } = data.sentiment;
  const b = runBaselines(train, test, labels);
  const sec = (performance.now() - t0) / 1000;
  const score = (r: typeof b.majority): ClassifierScore => ({ accuracy: r.accuracy, macroF1: r.macro.f1, sec });
  log(`naive Bayes: accuracy ${b.naiveBayes.accuracy.toFixed(4)}, macro-F1 ${b.naiveBayes.macro.f1.toFixed(4)}`);
  log(`majority class: accuracy ${b.majority.accuracy.toFixed(4)}, macro-F1 ${b.majority.macro.f1.toFixed(4)}`);
  return { naiveBayes: score(b.naiveBayes), majority: score(b.majority) };
}

const num = (x: number | null | undefined): number | null => (typeof x === 'number' && Number.isFinite(x) ? x : null);

/** [4/5] definitions sft: the held-out words are its validation split, scored before and after. */
async function definitionsRun(o: DemoOptions, data: DemoData, log: (l: string) => void) {
  header(4, `definitions from the pre-trained base (scored on ${data.definitions.test} held-out words)`, log);
  const task = { task: 'sft', data: data.definitionsTrain, val: data.definitionsTest, ...DEFINITIONS_SFT };
  const { s, sec } = await runStage(stageConfig(o, 'definitions', task), log);
  const before = s.before?.metrics ?? {};
  return {
    heldOutWords: data.definitions.test,
    rougeL: { before: num(before.rougeL), after: num(s.metrics.rougeL) },
    exactMatch: { before: num(before.exactMatch), after: num(s.metrics.exactMatch) },
    valLoss: { before: num(s.before?.valLoss), after: num(s.finalValLoss) },
    sec,
  };
}

/** [5/5] lm on the reviews: review-domain loss, and the base's own (Moby-Dick) validation loss. */
async function reviewsRun(o: DemoOptions, data: DemoData, log: (l: string) => void) {
  header(5, 'domain adaptation: lm on the review sentences from the pre-trained base', log);
  const { s, sec } = await runStage(stageConfig(o, 'reviews', { task: 'lm', data: data.reviews, ...REVIEWS_LM }), log);
  return {
    reviewLoss: { before: num(s.before?.valLoss), after: num(s.finalValLoss) },
    mobyDickLoss: { before: num(s.before?.metrics.baseValLoss), after: num(s.metrics.baseValLoss) },
    sec,
  };
}

/** The base run's steps and final validation loss, from its summary.json. */
function baseFacts(dir: string): { steps: number; valLoss: number | null } {
  const s = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { steps: number; finalValLoss: number };
  return { steps: s.steps, valLoss: num(s.finalValLoss) };
}

/** Runs every stage, prints the table and writes results.md and results.json into `out`. */
export async function runDemo(o: DemoOptions): Promise<DemoResults> {
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const t0 = o.startedAt ?? performance.now();
  const out = resolve(o.out);
  const data = writeDemoData(join(out, 'data'), { ...DEMO_DATA, ...(o.quick ? QUICK_DATA : {}) });
  log(`fine-tuning demo: base ${resolve(o.base)}, results in ${out}${o.quick ? ' (--quick smoke run)' : ''}`);
  for (const l of data.lines) log(`data: ${l}`);
  const sentiment = await sentimentRuns(o, data, log);
  const baselines = baselineRuns(data, log);
  const definitions = await definitionsRun(o, data, log);
  const reviews = await reviewsRun(o, data, log);
  const partial = {
    date: new Date().toISOString(),
    quick: o.quick,
    base: { dir: resolve(o.base), ...baseFacts(o.base), pretrainedHere: o.pretrainedHere ?? false },
    sentiment: {
      trainSentences: data.sentiment.train.length,
      testSentences: data.sentiment.test.length,
      ...sentiment,
      ...baselines,
    },
    definitions,
    reviews,
    totalSec: (performance.now() - t0) / 1000,
  };
  const results: DemoResults = { ...partial, checks: checkBars(partial) };
  const files = writeResults(out, results);
  log(`\n${formatResults(results)}\n\nwritten: ${files.md}, ${files.json}`);
  return results;
}
