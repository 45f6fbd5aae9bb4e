// Loads a prepared-data folder (what `prepare` wrote) for training and evaluation, checking that
// the shards and the tokenizer belong together.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadTokenizer, type Tokenizer } from '../tokenizers/index.ts';
import type { PrepareReport } from './report.ts';
import { readShard, type ShardHeader, type TokenArray } from './shards.ts';

export interface PreparedData {
  dir: string;
  report: PrepareReport;
  tokenizer: Tokenizer;
  train: TokenArray;
  val: TokenArray;
  trainHeader: ShardHeader;
  valHeader: ShardHeader;
  /** The trainer's context-free baseline: the train split's unigram entropy, nats per token. */
  unigramLoss: number;
}

/**
 * Loads everything `prepare` wrote into `dir` and checks that the shards and the tokenizer belong
 * together (same tokenizer id and vocabulary).
 */
export function loadPrepared(dir: string): PreparedData {
  const reportPath = join(dir, 'report.json');
  if (!existsSync(reportPath))
    throw new Error(`${dir} is not a prepared-data folder (no report.json): run webgpu-gpt prepare first`);
  const report = JSON.parse(readFileSync(reportPath, 'utf8')) as PrepareReport;
  const tokenizer = loadTokenizer(dir);
  const train = readShard(join(dir, 'train.bin'));
  const val = readShard(join(dir, 'val.bin'));
  for (const [name, h] of [
    ['train.bin', train.header],
    ['val.bin', val.header],
  ] as const) {
    if (h.tokenizerId !== tokenizer.id || h.vocabSize !== tokenizer.vocabSize || h.eotId !== tokenizer.eotId) {
      throw new Error(
        `${join(dir, name)} was written with tokenizer ${h.tokenizerId} (vocab ${h.vocabSize}) but ${dir}/tokenizer.json is ${tokenizer.id} (vocab ${tokenizer.vocabSize})`,
      );
    }
  }
  return {
    dir,
    report,
    tokenizer,
    train: train.tokens,
    val: val.tokens,
    trainHeader: train.header,
    valHeader: val.header,
    unigramLoss: report.trainUnigramEntropy,
  };
}
