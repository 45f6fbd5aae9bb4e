// Batched generation (model/generate-batch.ts) against one-prompt-at-a-time cached generation
// (model/generate.ts): the same tokens for every prompt, greedy and seeded sampling, with prompts
// of different lengths (1, past the window, longer than blockSize), a stop token, and batch sizes
// that do not divide the number of prompts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { resolveConfig } from '../../model/config.ts';
import { defaultBatchSize, generateBatch, rowRng } from '../../model/generate-batch.ts';
import { generate } from '../../model/generate.ts';
import { GPT } from '../../model/gpt.ts';
import { paramLayout } from '../../model/layout.ts';
import { randomParams } from './random-params.ts';

let rt: E.Runtime;
let model: GPT;
const cfg = resolveConfig({ preset: 'tiny' }); // blockSize 8, vocabulary 32
beforeAll(async () => {
  rt = await E.initEngine();
  model = GPT.fromParams(cfg, randomParams(paramLayout(cfg), 41, 0.3, 3));
});
afterAll(async () => {
  model.dispose();
  await rt.sync();
});

// Lengths 1 .. 12: some end inside the window, some pass it while generating, two are longer
// than blockSize (they keep their last 8 tokens, as `generate` does).
const prompts = [
  [5],
  [3, 9, 1, 30, 2, 7, 11],
  [4, 4],
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  [17, 0, 6],
  [8],
  [2, 2, 2, 2, 2],
  [9, 8, 7, 6, 5, 4, 3, 2, 1],
];
const maxTokens = 6;

/** What `generate` gives for each prompt alone. */
async function oneByOne(o: { temperature: number; seed?: number; stopToken?: number }): Promise<number[][]> {
  const out: number[][] = [];
  for (const [i, p] of prompts.entries()) {
    const rng = rowRng(o.seed ?? 0, i);
    const stop = o.stopToken === undefined ? [] : [o.stopToken];
    out.push((await generate(model, p, { maxTokens, temperature: o.temperature, rng, stop })).tokens);
  }
  return out;
}

describe('generateBatch', () => {
  it('gives every prompt the greedy tokens of generating it alone, whatever the batch size', async () => {
    const want = await oneByOne({ temperature: 0 });
    expect(want.every((t) => t.length === maxTokens)).toBe(true);
    const inUse = rt.pool.buffersInUse;
    for (const batchSize of [3, 8, 1]) {
      const done: number[] = [];
      const got = await generateBatch(model, prompts, {
        maxTokens,
        temperature: 0,
        batchSize,
        onBatch: (n, total) => void done.push(n, total),
      });
      expect(got, `batchSize ${batchSize}`).toEqual(want);
      if (batchSize === 3) expect(done).toEqual([3, 8, 6, 8, 8, 8]);
    }
    expect(rt.pool.buffersInUse).toBe(inUse); // the caches and every intermediate were released
    expect(model.training).toBe(true); // the model's mode is restored
  });

  it('stops a row at the stop token (not returned) while the others go on', async () => {
    const free = await oneByOne({ temperature: 0 });
    // A token that some row emits in the middle of its output, and that some row never emits.
    const stopToken = free[1]![2]!;
    const want = await oneByOne({ temperature: 0, stopToken });
    expect(want.some((t) => t.length < maxTokens)).toBe(true);
    expect(want.some((t) => t.length === maxTokens)).toBe(true);
    const got = await generateBatch(model, prompts, { maxTokens, temperature: 0, stopToken, batchSize: 3 });
    expect(got).toEqual(want);
    expect(got.flat()).not.toContain(stopToken);
  });

  it('samples prompt i from rowRng(seed, i): the tokens of generating it alone, and another seed differs', async () => {
    const o = { temperature: 1, seed: 7 };
    const want = await oneByOne(o);
    expect(await generateBatch(model, prompts, { ...o, maxTokens, batchSize: 3 })).toEqual(want);
    expect(await generateBatch(model, prompts, { ...o, maxTokens, batchSize: 5 })).toEqual(want);
    expect(await generateBatch(model, prompts, { ...o, seed: 8, maxTokens, batchSize: 3 })).not.toEqual(want);
  });

  it('handles no prompts, no tokens, and refuses bad input', async () => {
    expect(await generateBatch(model, [], { maxTokens: 3 })).toEqual([]);
    expect(await generateBatch(model, [[1], [2, 3]], { maxTokens: 0 })).toEqual([[], []]);
    await expect(generateBatch(model, [[1], []], { maxTokens: 1 })).rejects.toThrow(/prompt 1 is empty/);
    await expect(generateBatch(model, [[40]], { maxTokens: 1 })).rejects.toThrow(
      /prompt 0 has token 40, outside \[0, 32\)/,
    );
    await expect(generateBatch(model, [[1]], { maxTokens: 1, batchSize: 0 })).rejects.toThrow(
      /batchSize must be an integer >= 1/,
    );
    await expect(generateBatch(model, [[1]], { maxTokens: -1 })).rejects.toThrow(/maxTokens must be an integer/);
  });

  it('sizes the default batch by the cache it needs', () => {
    expect(defaultBatchSize(cfg)).toBe(32);
    expect(defaultBatchSize(resolveConfig({ preset: 'gpt2' }))).toBe(3);
  });
});
