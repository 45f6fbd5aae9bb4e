// Pre-training, the first objective: next-token prediction on the token shards of a folder from
// `webgpu-gpt prepare`. Micro-batches are random (B, T+1) windows of train.bin (seeded, resumable);
// evaluation is the mean loss over a fixed set of val.bin windows plus a sampled text.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { Rng } from '../../engine/random.ts';
import { generate } from '../../model/generate.ts';
import { mixSeed, type GPT } from '../../model/gpt.ts';
import { tokenBatchLoss, type MicroLoss } from '../../model/train-step.ts';
import type { GPTConfig } from '../../model/config.ts';
import { CliError } from '../cli-error.ts';
import type { TrainConfig } from '../config.ts';
import {
  BatchSampler,
  evalBatches,
  readShard,
  type Batch,
  type SamplerState,
  type TokenArray,
} from '../data/shards.ts';
import { evaluateBatches } from '../evaluate.ts';
import { promptIds } from '../sample.ts';
import { loadTokenizer, TOKENIZER_FILE, type Tokenizer } from '../tokenizers/index.ts';
import type { Evaluation, Objective } from './objective.ts';

/** A prepared data folder: the shards, its tokenizer, and the unigram loss from report.json. */
export interface DataSet {
  dir: string;
  train: TokenArray;
  val: TokenArray;
  tokenizer: Tokenizer;
  unigramLoss: number | null;
  report: Record<string, unknown> | null;
}

export function loadData(dir: string): DataSet {
  const d = resolve(dir);
  const hint = `make one with: webgpu-gpt prepare --input <text files> --out ${dir}`;
  if (!existsSync(d)) throw new CliError(`--data ${dir}: no such folder (${hint})`);
  if (!statSync(d).isDirectory()) throw new CliError(`--data ${dir}: not a folder (${hint})`);
  for (const f of ['train.bin', 'val.bin', TOKENIZER_FILE]) {
    if (!existsSync(join(d, f)))
      throw new CliError(
        `--data ${dir}: ${f} is missing; is this a folder written by \`webgpu-gpt prepare\`? (${hint})`,
      );
  }
  let train: TokenArray;
  let val: TokenArray;
  let tokenizer: Tokenizer;
  try {
    const t = readShard(join(d, 'train.bin'));
    const v = readShard(join(d, 'val.bin'));
    tokenizer = loadTokenizer(d);
    train = t.tokens;
    val = v.tokens;
    if (t.header.tokenizerId !== tokenizer.id)
      throw new Error(
        `train.bin was made with tokenizer ${t.header.tokenizerId}, but tokenizer.json is ${tokenizer.id}`,
      );
  } catch (e) {
    throw new CliError(`--data ${dir}: ${(e as Error).message}`);
  }
  let report: Record<string, unknown> | null = null;
  let unigramLoss: number | null = null;
  try {
    report = JSON.parse(readFileSync(join(d, 'report.json'), 'utf8')) as Record<string, unknown>;
    const u = report.trainUnigramEntropy ?? report.unigramEntropy;
    if (typeof u === 'number') unigramLoss = u;
  } catch {
    // report.json is optional for training
  }
  return { dir: d, train, val, tokenizer, unigramLoss, report };
}

/** Micro-batch shape and accumulation, checked against the data. */
export function batchShape(
  cfg: TrainConfig,
  data: DataSet,
  modelCfg: GPTConfig,
): { B: number; T: number; accum: number } {
  const B = cfg.batchSize;
  const T = modelCfg.blockSize;
  if (data.train.length < T + 1)
    throw new CliError(
      `--data ${cfg.data}: train.bin has ${data.train.length} tokens, fewer than one window of blockSize + 1 = ${T + 1}`,
    );
  if (data.val.length < T + 1)
    throw new CliError(
      `--data ${cfg.data}: val.bin has ${data.val.length} tokens, fewer than one window of blockSize + 1 = ${T + 1} (prepare with a larger --valFraction)`,
    );
  const accum = cfg.tokensPerStep > 0 ? Math.max(1, Math.round(cfg.tokensPerStep / (B * T))) : 1;
  return { B, T, accum };
}

export interface PretrainObjectiveOptions {
  /** Micro-batch shape. */
  B: number;
  T: number;
  /** Seed of the batch sampler and of the samples. */
  seed: number;
  evalBatches: number;
  sampleTokens: number;
  samplePrompt: string;
  sampleTemperature: number;
  sampleTopK: number;
}

export class PretrainObjective implements Objective<Batch> {
  readonly loss: MicroLoss<Batch>;
  readonly baseline: { loss: number; name: string } | null;
  private readonly sampler: BatchSampler;
  private readonly valBatches: (Batch & { rows: number })[];

  constructor(
    readonly data: DataSet,
    private readonly o: PretrainObjectiveOptions,
  ) {
    this.sampler = new BatchSampler(data.train, o.B, o.T, o.seed);
    this.valBatches = [...evalBatches(data.val, o.B, o.T, o.evalBatches)];
    this.loss = tokenBatchLoss(o.B, o.T);
    this.baseline = data.unigramLoss !== null ? { loss: data.unigramLoss, name: 'unigram' } : null;
  }

  next(): Batch {
    return this.sampler.next();
  }

  tokens(): number {
    return this.o.B * this.o.T;
  }

  async evaluate(model: GPT, step: number): Promise<Evaluation> {
    const { o, data } = this;
    const valLoss = await evaluateBatches(model, this.valBatches, o.B, o.T);
    if (o.sampleTokens <= 0) return { valLoss, sample: null };
    const res = await generate(model, promptIds(data.tokenizer, o.samplePrompt), {
      maxTokens: o.sampleTokens,
      temperature: o.sampleTemperature,
      topK: o.sampleTopK,
      rng: new Rng(mixSeed(o.seed, step)),
    });
    return { valLoss, sample: o.samplePrompt + data.tokenizer.decode(res.tokens) };
  }

  /** One validation batch and a few sampled tokens, scaled up to a whole evaluation. */
  async probeEvalSec(model: GPT): Promise<number> {
    const { o, data } = this;
    const a = performance.now();
    await evaluateBatches(model, this.valBatches.slice(0, 1), o.B, o.T);
    const b = performance.now();
    const n = Math.min(8, o.sampleTokens);
    const g =
      n > 0 ? await generate(model, [data.tokenizer.eotId], { maxTokens: n, temperature: 1, rng: new Rng(0) }) : null;
    return (
      ((b - a) / 1000) * this.valBatches.length +
      (g && g.tokens.length ? (g.ms / 1000 / g.tokens.length) * o.sampleTokens : 0)
    );
  }

  dataState(): Record<string, unknown> {
    return { sampler: this.sampler.state(), dataDir: this.data.dir };
  }

  restoreDataState(s: Record<string, unknown>): void {
    this.sampler.setState(s.sampler as SamplerState);
  }
}
