// Batched generation for evaluation: many prompts at once through one KV cache of B rows, greedy
// or sampled with one seeded Rng per prompt, each row ending at maxTokens or at the stop token.
// Every row gives the tokens that model/generate.ts `generate` gives for its prompt alone (the
// same cache, the same context window and slide), so batching changes the speed, not the output.
//
// How rows of different lengths share one cache: every row advances one position per step, all
// rows at the same position (no per-row positions, masks or padding inside the model). A batch
// prefills the shortest prompt's length; a row whose prompt is longer is then fed its remaining
// prompt tokens one per step (its logits unused), while the rows that reached their end already
// sample. Prompts are sorted by length before they are cut into batches, so a batch's lengths are
// close and few steps go to the feeding. A finished row is fed a filler token until the whole
// batch ends (its logits unused). Prompts longer than blockSize keep their last blockSize tokens,
// and past blockSize positions the cache restarts on the last blockSize + 1 - slide tokens, all
// rows at once, exactly when the one-prompt path does (its restarts depend on the position only).
import { fromArray, keep, runtime, tidy, type DecodeAttention, type Tensor } from '../engine/index.ts';
import { Rng } from '../engine/random.ts';
import { sampleToken, type SamplingOptions } from './generate.ts';
import { mixSeed, type GPT } from './gpt.ts';
import { KVCache } from './kv-cache.ts';

export interface BatchGenerateOptions extends SamplingOptions {
  /** New tokens per prompt, at most. */
  maxTokens: number;
  /** E.g. the end-of-text id: a row stops after emitting it (the stop token is not returned). */
  stopToken?: number;
  /** Sampling seed: prompt i draws from rowRng(seed, i), so results do not depend on the batching. Default 0. */
  seed?: number;
  /** Prompts per GPU batch. Default: defaultBatchSize(config), at most 32. */
  batchSize?: number;
  /** Progress: called after each batch with the prompts done so far. */
  onBatch?: (done: number, total: number) => void;
  /** How the cache is attended (engine/decode.ts). Default 'decode-kernel'. */
  attention?: DecodeAttention;
  /** Positions freed when the cache is full, as in `generate`. Default max(1, blockSize/4). */
  slide?: number;
}

/** The sampling Rng of prompt `row`: `generate(model, prompt, { rng: rowRng(seed, row) })` gives the same tokens. */
export function rowRng(seed: number, row: number): Rng {
  return new Rng(mixSeed(seed, row));
}

/** Cache bytes a default batch may take: enough for 32 rows of the small models, a few of GPT-2. */
const CACHE_BUDGET = 256 * 2 ** 20;

/** 32 rows, or fewer where their KV cache would pass 256 MiB. */
export function defaultBatchSize(cfg: { nLayer: number; blockSize: number; nEmbd: number }): number {
  const perRow = cfg.nLayer * 2 * cfg.blockSize * cfg.nEmbd * 4;
  return Math.max(1, Math.min(32, Math.floor(CACHE_BUDGET / perRow)));
}

/** One prompt's state: its tokens so far (prompt, then generated), and what it has produced. */
interface Row {
  seq: number[];
  promptLen: number;
  out: number[];
  rng: Rng;
  done: boolean;
}

/**
 * New tokens for every prompt (in prompt order), generated batchSize prompts at a time with the KV
 * cache. Greedy at temperature 0; otherwise prompt i samples from rowRng(seed, i).
 */
export async function generateBatch(
  model: GPT,
  prompts: readonly (readonly number[])[],
  opts: BatchGenerateOptions,
): Promise<number[][]> {
  const cfg = model.config;
  const { batchSize, slide } = checkOptions(cfg, prompts, opts);
  const results: number[][] = prompts.map(() => []);
  if (opts.maxTokens === 0 || prompts.length === 0) return results;
  // Sorted by length (then by index): a batch's prompts end close together.
  const order = prompts
    .map((p, i) => ({ i, n: Math.min(p.length, cfg.blockSize) }))
    .sort((a, b) => a.n - b.n || a.i - b.i);
  const seed = opts.seed ?? 0;
  const wasTraining = model.training;
  model.eval();
  try {
    for (let start = 0; start < order.length; start += batchSize) {
      const chunk = order.slice(start, start + batchSize);
      const rows = chunk.map(({ i }): Row => {
        const seq = prompts[i]!.slice(-cfg.blockSize);
        return { seq, promptLen: seq.length, out: [], rng: rowRng(seed, i), done: false };
      });
      await runBatch(model, rows, opts, slide);
      chunk.forEach(({ i }, b) => (results[i] = rows[b]!.out));
      opts.onBatch?.(Math.min(start + batchSize, order.length), order.length);
    }
  } finally {
    model.training = wasTraining;
  }
  return results;
}

/** Validates the prompts and options; returns the batch size and slide to use. */
function checkOptions(
  cfg: GPT['config'],
  prompts: readonly (readonly number[])[],
  o: BatchGenerateOptions,
): { batchSize: number; slide: number } {
  prompts.forEach((p, i) => {
    if (p.length === 0)
      throw new Error(`generateBatch: prompt ${i} is empty (use the end-of-text id to start from nothing)`);
    for (const id of p)
      if (!(Number.isInteger(id) && id >= 0 && id < cfg.vocabSize))
        throw new Error(`generateBatch: prompt ${i} has token ${id}, outside [0, ${cfg.vocabSize})`);
  });
  if (!(Number.isInteger(o.maxTokens) && o.maxTokens >= 0))
    throw new Error(`generateBatch: maxTokens must be an integer >= 0, got ${o.maxTokens}`);
  const batchSize = o.batchSize ?? defaultBatchSize(cfg);
  if (!(Number.isInteger(batchSize) && batchSize >= 1))
    throw new Error(`generateBatch: batchSize must be an integer >= 1, got ${batchSize}`);
  const bs = cfg.blockSize;
  const slide = o.slide ?? Math.max(1, Math.floor(bs / 4));
  if (!(Number.isInteger(slide) && slide >= 1 && slide <= bs))
    throw new Error(`generateBatch: slide must be an integer in [1, ${bs}], got ${slide}`);
  return { batchSize, slide };
}

/**
 * Generates for one batch of rows, in place (row.out, row.done). After `n` positions the logits
 * predict token n of every row: a row samples it once n reaches its prompt's length.
 */
async function runBatch(model: GPT, rows: Row[], o: BatchGenerateOptions, slide: number): Promise<void> {
  const cfg = model.config;
  const B = rows.length;
  const cache = new KVCache(cfg, { B, attention: o.attention });
  // Runs `width` positions of every row (row r's j-th is tokenAt(r, j)) → logits [B, 1, Vp], kept.
  const step = (width: number, tokenAt: (r: Row, j: number) => number): Tensor =>
    tidy(() => {
      const ids = new Int32Array(B * width);
      rows.forEach((r, b) => {
        for (let j = 0; j < width; j++) ids[b * width + j] = tokenAt(r, j);
      });
      return keep(model.forward(fromArray(ids, [B, width], 'i32'), null, { cache }).logits);
    });
  // Token `idx` of a row; a finished row has none past its end and gets a filler.
  const token = (r: Row, idx: number): number => r.seq[idx] ?? 0;
  try {
    let n = Math.min(...rows.map((r) => r.promptLen));
    let logits = step(n, token);
    for (;;) {
      const data = await readLogits(logits, B);
      logits.dispose();
      rows.forEach((r, b) => {
        if (!r.done && n >= r.promptLen) sampleRow(r, data, b, cfg, o);
      });
      if (rows.every((r) => r.done)) break;
      if (cache.pos < cache.maxT) logits = step(1, (r) => token(r, n));
      else {
        // The cache is full: restart on the last W tokens (0..n), as `generate` does.
        const W = cfg.blockSize + 1 - slide;
        cache.reset();
        logits = step(W, (r, j) => token(r, n + 1 - W + j));
      }
      n++;
    }
  } finally {
    cache.dispose();
  }
}

/** Samples row b's next token from its logits, appends it, and marks the row done at the end. */
function sampleRow(r: Row, data: Float32Array, b: number, cfg: GPT['config'], o: BatchGenerateOptions): void {
  const Vp = cfg.paddedVocabSize;
  const id = sampleToken(data.subarray(b * Vp, b * Vp + cfg.vocabSize), cfg.vocabSize, o, r.rng);
  if (id === o.stopToken) {
    r.done = true;
    return;
  }
  r.seq.push(id);
  r.out.push(id);
  if (r.out.length >= o.maxTokens) r.done = true;
}

/** All B rows of logits [B, 1, Vp], one readback. */
async function readLogits(t: Tensor, B: number): Promise<Float32Array> {
  const Vp = t.shape[t.rank - 1]!;
  return new Float32Array(await runtime().read(t.buffer, t.offset * 4, B * Vp * 4));
}
