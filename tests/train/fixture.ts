// Shared by the training tests: a small prepared data set (a slice of Moby-Dick, char tokenizer)
// and a tiny model configuration that trains in milliseconds per step on lavapipe.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { prepare } from '../../train/data/prepare.ts';
import { TRAIN_SCHEMA, type TrainConfig } from '../../train/config.ts';
import { readMetrics, type StepMetrics } from '../../train/metrics.ts';

export const ROOT = join(import.meta.dirname, '..', '..');

/** A prepared folder from the first ~60 KB of Moby-Dick, made once per process. */
export async function tinyData(): Promise<string> {
  const base = join(tmpdir(), `wgpt-train-test-${process.pid}`);
  const out = join(base, 'data');
  if (existsSync(join(out, 'report.json'))) return out;
  mkdirSync(base, { recursive: true });
  const text = readFileSync(defaultCorpusPath(), 'utf8').slice(20_000, 80_000);
  const input = join(base, 'text.txt');
  writeFileSync(input, text);
  await prepare({
    inputs: [input],
    out,
    tokenizer: 'char',
    docChars: 2000,
    valFraction: 0.1,
    progress: 'off',
    log: () => {},
  });
  return out;
}

/** Defaults of every key, as parseConfig would give them. */
export function defaults(): TrainConfig {
  const out: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(TRAIN_SCHEMA)) out[k] = s.default;
  return out as unknown as TrainConfig;
}

/** A tiny model and short schedule for tests. */
export function tinyConfig(data: string, out: string, over: Partial<TrainConfig> = {}): TrainConfig {
  return {
    ...defaults(),
    data,
    out,
    model: 'tiny',
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    blockSize: 16,
    batchSize: 4,
    steps: 6,
    lr: 3e-3,
    minLr: 3e-4,
    warmupSteps: 2,
    evalEvery: 3,
    evalBatches: 2,
    sampleTokens: 8,
    progress: 'off',
    ...over,
  };
}

/** A run's logged step, loss, gradient norm and val loss (no timings): what a resumed run must reproduce exactly. */
export function lossCurve(run: string): Pick<StepMetrics, 'step' | 'loss' | 'gradNorm' | 'valLoss'>[] {
  return readMetrics(join(run, 'metrics.jsonl')).map(({ step, loss, gradNorm, valLoss }) => ({
    step,
    loss,
    gradNorm,
    valLoss,
  }));
}
