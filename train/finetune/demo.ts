// The fine-tuning demo (`npm run finetune` = `webgpu-gpt finetune-demo`): the measurement behind
// the claim that pre-training makes fine-tuning work, on shipped public data, in six stages that
// each run the real `finetune` into their own folder under <out>. Sentiment follows ULMFiT
// (Howard & Ruder 2018): general pre-training → language-model fine-tuning on the target domain's
// text → classifier fine-tuning, here with GPT-1's auxiliary LM loss (Radford et al. 2018):
//   [1/6] domain adaptation `lm` on the training split's review sentences from the base: the
//         review-domain and the Moby-Dick validation losses before and after;
//   [2/6] sentiment `classify` from that adapted base, scored on the held-out 20%;
//   [3/6] and [4/6] the same two steps from random weights (same shape, tokenizer and budgets);
//   [5/6] the baselines a practitioner asks for: majority class and naive Bayes, same split;
//   [6/6] definitions `sft` ("Define: word" → WordNet gloss) from the base, scored on held-out words
//         before and after (greedy generations, ROUGE-L F1 and exact match).
// Measured on the sentiment data from runs/moby-dick: classify straight from the base (no [1/6])
// reached 0.740 test accuracy at 600 steps with lmWeight 1 (0.705 with lmWeight 0, 300 steps);
// with the review LM stage first, 0.763 at 400 steps.
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

/**
 * [2/6] sentiment from the review-adapted base (a stratified 10% of the training split validates
 * during training), with the auxiliary LM loss at weight 1; [4/6] from scratch uses the same.
 * Validation loss is lowest near step 200 and accuracy flat from 200 to 400.
 */
export const SENTIMENT = {
  steps: 300,
  batchSize: 32,
  lr: 1e-3,
  lmWeight: 1,
  evalEvery: 100,
} satisfies Partial<FinetuneConfig>;

/**
 * [6/6] definitions; the held-out words are the validation split, so "before" is scored on them too.
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
 * [1/6] and [3/6] domain adaptation on the training split's review sentences (their last 10% of
 * tokens validate). Measured from runs/moby-dick (B 16, lr 1e-3), on all 3,000 sentences: review loss
 * 4.02 → 3.09 at 100 steps, 2.88 at 400 (Moby-Dick 3.20 → 3.96 and 4.21: forgetting); on the 2,400
 * training sentences, 4.08 → 2.96 at 300.
 */
export const REVIEWS_LM = {
  steps: 300,
  batchSize: 16,
  lr: 1e-3,
  evalEvery: 100,
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

const STAGES = 6;

/** A sub-run's config: the defaults, the stage's budget (or --quick's), its folder. */
function stageConfig(o: DemoOptions, name: string, over: Partial<FinetuneConfig>): FinetuneConfig {
  return { ...o.defaults, from: resolve(o.base), ...over, ...(o.quick ? QUICK : {}), out: join(resolve(o.out), name) };
}

/** Runs one sub-run from a clean folder; a run stopped by a signal stops the demo. */
interface StageRun {
  s: FinetuneSummary;
  sec: number;
  /** The stage's run folder (a later stage can start from it). */
  dir: string;
}

async function runStage(cfg: FinetuneConfig, log: (l: string) => void): Promise<StageRun> {
  rmSync(cfg.out!, { recursive: true, force: true });
  const t0 = performance.now();
  const s = await finetune(cfg, { log, handleSigint: true });
  if (s.status !== 'finished')
    throw new CliError(
      `stopped${s.stoppedBy ? ` by ${s.stoppedBy}` : ''} in ${cfg.out}: run the demo again to start over`,
    );
  return { s, sec: (performance.now() - t0) / 1000, dir: cfg.out! };
}

function header(n: number, what: string, log: (l: string) => void): void {
  log(`\n[${n}/${STAGES}] ${what} ...`);
}

function testScore(r: StageRun): ClassifierScore {
  const m = r.s.test?.metrics ?? {};
  return { accuracy: m.accuracy ?? NaN, macroF1: m.macroF1 ?? NaN, sec: r.sec };
}

/** The base's shape and tokenizer, for the from-scratch runs. */
function scratchShape(o: DemoOptions, base: FinetuneSummary): Partial<FinetuneConfig> {
  const { nLayer, nHead, nEmbd, blockSize } = base.model;
  return { from: 'scratch', nLayer, nHead, nEmbd, blockSize, tokenizer: join(resolve(o.base), TOKENIZER_FILE) };
}

/** [2/6]-[4/6]: classify from the adapted base; then review LM and classify from random weights. */
async function sentimentRuns(o: DemoOptions, data: DemoData, adapted: StageRun, log: (l: string) => void) {
  const task = { task: 'classify', data: data.sentimentTrain, test: data.sentimentTest, ...SENTIMENT };
  header(2, 'sentiment from the review-adapted pre-trained base', log);
  const base = await runStage(stageConfig(o, 'sentiment-base', { ...task, from: adapted.dir }), log);
  header(3, 'from scratch: lm on the review sentences (same shape, tokenizer and budget)', log);
  const lm = { task: 'lm', data: data.reviews, ...REVIEWS_LM, ...scratchShape(o, base.s) };
  const scratchLm = await runStage(stageConfig(o, 'reviews-scratch', lm), log);
  header(4, 'from scratch: sentiment from that model (same budget)', log);
  const scratch = await runStage(stageConfig(o, 'sentiment-scratch', { ...task, from: scratchLm.dir }), log);
  const sameShape = JSON.stringify(scratch.s.model) === JSON.stringify(base.s.model);
  if (!sameShape || scratch.s.tokenizer !== base.s.tokenizer)
    throw new CliError(
      `the from-scratch run differs from the base: model ${JSON.stringify(scratch.s.model)} tokenizer ${scratch.s.tokenizer}, base ${JSON.stringify(base.s.model)} ${base.s.tokenizer}`,
    );
  const fromScratch = testScore(scratch);
  return { fromBase: testScore(base), fromScratch: { ...fromScratch, sec: fromScratch.sec + scratchLm.sec } };
}

/** [5/6] majority class and naive Bayes, trained on the training split, scored on the test split. */
function baselineRuns(data: DemoData, log: (l: string) => void) {
  header(5, 'baselines: majority class and naive Bayes (unigrams + bigrams)', log);
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

/** [6/6] definitions sft: the held-out words are its validation split, scored before and after. */
async function definitionsRun(o: DemoOptions, data: DemoData, log: (l: string) => void) {
  header(6, `definitions from the pre-trained base (scored on ${data.definitions.test} held-out words)`, log);
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

/** [1/6] lm on the reviews: review-domain loss, and the base's own (Moby-Dick) validation loss. */
async function reviewsRun(o: DemoOptions, data: DemoData, log: (l: string) => void) {
  header(1, 'domain adaptation: lm on the review sentences from the pre-trained base', log);
  const run = await runStage(stageConfig(o, 'reviews', { task: 'lm', data: data.reviews, ...REVIEWS_LM }), log);
  const { s, sec } = run;
  return {
    run,
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
  const { run: adapted, ...reviews } = await reviewsRun(o, data, log);
  const sentiment = await sentimentRuns(o, data, adapted, log);
  const baselines = baselineRuns(data, log);
  const definitions = await definitionsRun(o, data, log);
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
