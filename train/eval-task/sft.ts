// `eval --task sft`: continuations of each record's prompt, scored against its target. Every
// record of the --input JSONL is a test example (no split): the prompt goes in after an
// end-of-text (as fine-tuning feeds it), generation stops at the end-of-text or after maxNewTokens.
//   corpus:      BLEU (sacreBLEU, 13a, 0–100), ROUGE-1/2/L/Lsum F1 (rouge-score, mean over
//                examples, 0–1), SQuAD exact match and token F1 (0–100), and the teacher-forced
//                loss and perplexity of the targets (the fine-tuning validation loss)
//   per example: sentence BLEU (exp smoothing), ROUGE-1/2/L F1, exact match, token F1
import type { GPT } from '../../model/gpt.ts';
import { corpusBleu, sentenceBleu } from '../eval/bleu.ts';
import { rougeScore } from '../eval/rouge.ts';
import { squadScores } from '../eval/squad.ts';
import { sftBatch } from '../finetune/batches.ts';
import { sftExamples } from '../finetune/examples.ts';
import type { SftRecord } from '../finetune/records.ts';
import { meanTargetLoss } from '../objectives/sft.ts';
import type { Tokenizer } from '../tokenizers/types.ts';
import { generateBatch } from '../../model/generate-batch.ts';

export interface GenerationOptions {
  maxNewTokens: number;
  temperature: number;
  topK?: number;
  topP?: number;
  seed: number;
  /** Prompts generated at once (undefined: the generator's default); also the target-loss batch. */
  batchSize?: number;
  /** Progress after each batch of prompts. */
  onProgress?: (done: number, total: number, elapsedSec: number) => void;
}

export interface GenScores {
  bleu: number;
  rouge1: number;
  rouge2: number;
  rougeL: number;
  exactMatch: number;
  f1: number;
}

export interface GenExample {
  line: number;
  input: string;
  /** The first reference; `references` holds them all when a record has several. */
  reference: string;
  references?: string[];
  prediction: string;
  scores: GenScores;
}

export interface Throughput {
  examples: number;
  newTokens: number;
  seconds: number;
  examplesPerSec: number;
  tokensPerSec: number;
}

export interface SftResult {
  task: 'sft';
  examples: number;
  bleu: number;
  bleuDetail: { bp: number; ratio: number; precisions: number[]; sysLen: number; refLen: number };
  rouge1: number;
  rouge2: number;
  rougeL: number;
  rougeLsum: number;
  exactMatch: number;
  f1: number;
  /** Teacher-forced mean loss over target tokens (null when no target fits the context). */
  targetLoss: number | null;
  targetPerplexity: number | null;
  /** Predictions that are empty (the model ended at once): scored, and counted here. */
  emptyPredictions: number;
  /** Prompts cut from the left to leave room for the new tokens. */
  truncatedPrompts: number;
  throughput: Throughput;
  perExample: GenExample[];
}

/** Prompt ids: an end-of-text, then the prompt, cut from the left to leave room for new tokens. */
export function promptIds(records: readonly SftRecord[], tok: Tokenizer, T: number, maxNew: number) {
  const keep = Math.max(Math.ceil(T / 2), T - maxNew);
  let truncated = 0;
  const prompts = records.map((r) => {
    const ids = [tok.eotId, ...tok.encode(r.prompt)];
    if (ids.length <= keep) return ids;
    truncated++;
    return ids.slice(ids.length - keep);
  });
  return { prompts, truncated };
}

/** Generates a continuation of every record's prompt; returns the texts and the throughput. */
export async function generateAll(model: GPT, records: readonly SftRecord[], tok: Tokenizer, o: GenerationOptions) {
  const { prompts, truncated } = promptIds(records, tok, model.config.blockSize, o.maxNewTokens);
  const t0 = performance.now();
  const sec = (): number => (performance.now() - t0) / 1000;
  const out = await generateBatch(model, prompts, {
    maxTokens: o.maxNewTokens,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    seed: o.seed,
    stopToken: tok.eotId,
    batchSize: o.batchSize,
    onBatch: (done, total) => o.onProgress?.(done, total, sec()),
  });
  // A generator that lost or added outputs would pair predictions with the wrong references.
  if (out.length !== prompts.length)
    throw new Error(`generateBatch returned ${out.length} outputs for ${prompts.length} prompts`);
  const seconds = sec();
  const newTokens = out.reduce((s, t) => s + t.length, 0);
  const throughput: Throughput = {
    examples: records.length,
    newTokens,
    seconds,
    examplesPerSec: records.length / seconds,
    tokensPerSec: newTokens / seconds,
  };
  return { predictions: out.map((t) => tok.decode(t)), truncated, throughput };
}

const ROUGE_TYPES = ['rouge1', 'rouge2', 'rougeL', 'rougeLsum'] as const;

/** Per type, the best F1 over the references (rouge-score's score_multi keeps the best by F). */
function bestRouge(refs: readonly string[], prediction: string): Record<(typeof ROUGE_TYPES)[number], number> {
  const all = refs.map((r) => rougeScore(r, prediction, ROUGE_TYPES));
  const best = (t: (typeof ROUGE_TYPES)[number]): number => Math.max(...all.map((s) => s[t]!.fmeasure));
  return { rouge1: best('rouge1'), rouge2: best('rouge2'), rougeL: best('rougeL'), rougeLsum: best('rougeLsum') };
}

/**
 * Corpus and per-example scores of predictions against each record's references (default: its
 * target alone). Several references: BLEU counts n-grams against all, the rest keep the best.
 */
export function scoreGenerations(
  records: readonly SftRecord[],
  predictions: readonly string[],
  references: readonly (readonly string[])[] = records.map((r) => [r.target]),
) {
  const bleu = corpusBleu(predictions, references);
  const squad = squadScores(predictions, references);
  const rouge = references.map((refs, i) => bestRouge(refs, predictions[i]!));
  const several = references.some((r) => r.length > 1);
  const perExample: GenExample[] = records.map((r, i) => ({
    line: r.line,
    input: r.prompt,
    reference: references[i]![0]!,
    ...(several ? { references: [...references[i]!] } : {}),
    prediction: predictions[i]!,
    scores: {
      bleu: sentenceBleu(predictions[i]!, references[i]!).score,
      rouge1: rouge[i]!.rouge1,
      rouge2: rouge[i]!.rouge2,
      rougeL: rouge[i]!.rougeL,
      exactMatch: squad.perExample[i]!.exactMatch,
      f1: squad.perExample[i]!.f1,
    },
  }));
  const mean = (t: (typeof ROUGE_TYPES)[number]): number => rouge.reduce((s, x) => s + x[t], 0) / rouge.length;
  const { bp, ratio, precisions, sysLen, refLen } = bleu;
  return {
    bleu: bleu.score,
    bleuDetail: { bp, ratio, precisions, sysLen, refLen },
    rouge1: mean('rouge1'),
    rouge2: mean('rouge2'),
    rougeL: mean('rougeL'),
    rougeLsum: mean('rougeLsum'),
    exactMatch: squad.exactMatch,
    f1: squad.f1,
    perExample,
  };
}

/** The teacher-forced loss of the targets, B examples per batch (null if none fits the context). */
async function targetLoss(model: GPT, records: readonly SftRecord[], tok: Tokenizer, B: number) {
  const { examples } = sftExamples(records, tok, model.config.blockSize);
  if (examples.length === 0) return null;
  const batches = [];
  for (let i = 0; i < examples.length; i += B) batches.push(sftBatch(examples.slice(i, i + B), tok.eotId));
  const loss = await meanTargetLoss(model, batches);
  return Number.isFinite(loss) ? loss : null;
}

export async function evaluateSft(
  model: GPT,
  records: readonly SftRecord[],
  tok: Tokenizer,
  o: GenerationOptions,
  references?: readonly (readonly string[])[],
): Promise<SftResult> {
  const gen = await generateAll(model, records, tok, o);
  const scores = scoreGenerations(records, gen.predictions, references);
  const loss = await targetLoss(model, records, tok, o.batchSize ?? 8);
  return {
    task: 'sft',
    examples: records.length,
    ...scores,
    targetLoss: loss,
    targetPerplexity: loss === null ? null : Math.exp(loss),
    emptyPredictions: gen.predictions.filter((p) => p.trim() === '').length,
    truncatedPrompts: gen.truncated,
    throughput: gen.throughput,
  };
}
