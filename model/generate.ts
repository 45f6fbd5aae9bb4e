// Text generation: sampling (temperature, top-k, top-p, seeded) with a KV cache, so that each new
// token runs the model on ONE position and attends over the cached keys and values (O(T) per
// token instead of a full O(T²) forward), plus the uncached path (a full forward per token) that
// the cache is tested against. Both call the one `GPT.forward` (the cached path passes a
// model/kv-cache.ts KVCache); nothing here computes the network. Tokens stream out through a
// callback as they are sampled.
//
// Context longer than blockSize: the uncached path always sees the last blockSize tokens. The
// cached path fills its cache up to blockSize positions; when it is full, it restarts on the last
// blockSize + 1 - slide tokens (one batched prefill) and continues incrementally. slide = 1 makes it
// see exactly what the uncached path sees (a prefill per token once past the window); the default
// (a quarter of the window) amortises the restarts.
//
// Many prompts at once (evaluation): model/generate-batch.ts, the same tokens per prompt.
import { fromArray, keep, noGrad, runtime, tidy, type DecodeAttention, type Tensor } from '../engine/index.ts';
import { Rng } from '../engine/random.ts';
import type { GPT } from './gpt.ts';
import { KVCache } from './kv-cache.ts';

// ---- sampling --------------------------------------------------------------------------------

export interface SamplingOptions {
  /** Softmax temperature; 0 picks the most likely token (greedy). Default 1. */
  temperature?: number;
  /** Keep only the k most likely tokens; 0 or undefined: all. */
  topK?: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p; 1 or undefined: all. */
  topP?: number;
}

/**
 * Picks a token from logits (the first V entries are real tokens) with one uniform draw of rng.
 * Deterministic for a given rng state: ties are broken by the lower id.
 */
export function sampleToken(logits: ArrayLike<number>, V: number, o: SamplingOptions, rng: Rng): number {
  const temperature = o.temperature ?? 1;
  if (!(temperature >= 0)) throw new Error(`sampling: temperature must be >= 0, got ${temperature}`);
  const topK = o.topK ?? 0;
  const topP = o.topP ?? 1;
  if (!Number.isInteger(topK) || topK < 0) throw new Error(`sampling: topK must be an integer >= 0, got ${topK}`);
  if (!(topP > 0 && topP <= 1)) throw new Error(`sampling: topP must be in (0, 1], got ${topP}`);
  if (temperature === 0) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i]! > logits[best]!) best = i;
    return best;
  }
  // Candidates sorted by logit (descending, lower id first on ties).
  let order = Array.from({ length: V }, (_, i) => i).sort((a, b) => logits[b]! - logits[a]! || a - b);
  if (topK > 0 && topK < V) order = order.slice(0, topK);
  const maxv = logits[order[0]!]!;
  let probs = order.map((i) => Math.exp((logits[i]! - maxv) / temperature));
  let sum = probs.reduce((s, p) => s + p, 0);
  if (topP < 1) {
    let cum = 0;
    let keepN = probs.length;
    for (let j = 0; j < probs.length; j++) {
      cum += probs[j]! / sum;
      if (cum >= topP) {
        keepN = j + 1;
        break;
      }
    }
    order = order.slice(0, keepN);
    probs = probs.slice(0, keepN);
    sum = probs.reduce((s, p) => s + p, 0);
  }
  const u = rng.uniform() * sum;
  let cum = 0;
  for (let j = 0; j < order.length; j++) {
    cum += probs[j]!;
    if (u < cum) return order[j]!;
  }
  return order[order.length - 1]!;
}

// ---- generation ------------------------------------------------------------------------------

export interface GenerateOptions extends SamplingOptions {
  /** Tokens to generate (at most). */
  maxTokens: number;
  /** Seed of the sampling RNG (ignored when `rng` is given). Default 0. */
  seed?: number;
  /** A generator to draw from (its state advances). */
  rng?: Rng;
  /** Use the KV cache (default true); false runs a full forward for every token. */
  cache?: boolean;
  /**
   * How the cached path attends: 'decode-kernel' (the fused kernel, default) or 'composed' (the
   * same math as engine ops, what tests compare the kernel with). See engine/decode.ts.
   */
  attention?: DecodeAttention;
  /** Positions freed when the cache is full (1..blockSize). Default max(1, blockSize/4). */
  slide?: number;
  /** Token ids that end generation (not emitted, not returned), e.g. the end-of-text id. */
  stop?: readonly number[];
  /** Called with each token as soon as it is sampled; return false to stop. */
  onToken?: (id: number, index: number) => void | boolean | Promise<void | boolean>;
}

export interface GenerateResult {
  /** The generated tokens (without the prompt). */
  tokens: number[];
  reason: 'maxTokens' | 'stop' | 'callback';
  /** Wall time of the whole generation, ms. */
  ms: number;
}

/** The first V logits of row `row` of a [.., Vp] tensor, read back alone. */
async function readLogitsRow(t: Tensor, row: number, V: number): Promise<Float32Array> {
  const Vp = t.shape[t.rank - 1]!;
  const rt = runtime();
  return new Float32Array(await rt.read(t.buffer, (t.offset + row * Vp) * 4, V * 4));
}

/**
 * Generates up to maxTokens tokens after `prompt` (at least one token), in eval mode, batch 1.
 * Tokens stream through onToken as they come.
 */
export async function generate(model: GPT, prompt: readonly number[], o: GenerateOptions): Promise<GenerateResult> {
  const cfg = model.config;
  const t0 = performance.now();
  if (prompt.length === 0)
    throw new Error('generate: the prompt needs at least one token (use the end-of-text id to start from nothing)');
  for (const id of prompt)
    if (!(Number.isInteger(id) && id >= 0 && id < cfg.vocabSize))
      throw new Error(`generate: prompt token ${id} is outside [0, ${cfg.vocabSize})`);
  if (!(Number.isInteger(o.maxTokens) && o.maxTokens >= 0))
    throw new Error(`generate: maxTokens must be an integer >= 0, got ${o.maxTokens}`);
  const rng = o.rng ?? new Rng(o.seed ?? 0);
  const useCache = o.cache ?? true;
  const bs = cfg.blockSize;
  const slide = o.slide ?? Math.max(1, Math.floor(bs / 4));
  if (!(Number.isInteger(slide) && slide >= 1 && slide <= bs))
    throw new Error(`generate: slide must be an integer in [1, ${bs}], got ${slide}`);
  const stop = new Set(o.stop ?? []);
  if (o.maxTokens === 0) return { tokens: [], reason: 'maxTokens', ms: 0 };
  const ctx = [...prompt];
  const tokens: number[] = [];
  const cache = useCache ? new KVCache(cfg, { attention: o.attention }) : null;
  const wasTraining = model.training;
  model.eval();

  // Logits of the next token, as a kept tensor [1, *, Vp], and the row to read.
  const prefill = (window: number[]): { t: Tensor; row: number } =>
    tidy(() => {
      const ids = fromArray(Int32Array.from(window), [1, window.length], 'i32');
      if (cache) {
        cache.reset();
        return { t: keep(model.forward(ids, null, { cache }).logits), row: 0 };
      }
      return { t: keep(noGrad(() => model.forward(ids, null, { train: false }).logits)), row: window.length - 1 };
    });

  let reason: GenerateResult['reason'] = 'maxTokens';
  try {
    let next = prefill(ctx.slice(-bs));
    for (let i = 0; i < o.maxTokens; i++) {
      const logits = await readLogitsRow(next.t, next.row, cfg.vocabSize);
      next.t.dispose();
      const id = sampleToken(logits, cfg.vocabSize, o, rng);
      if (stop.has(id)) {
        reason = 'stop';
        break;
      }
      tokens.push(id);
      ctx.push(id);
      if ((await o.onToken?.(id, i)) === false) {
        reason = 'callback';
        break;
      }
      if (i === o.maxTokens - 1) break;
      if (!cache) next = prefill(ctx.slice(-bs));
      else if (cache.pos < cache.maxT) {
        next = tidy(() => ({
          t: keep(model.forward(fromArray(Int32Array.from([id]), [1, 1], 'i32'), null, { cache }).logits),
          row: 0,
        }));
      } else next = prefill(ctx.slice(-(bs + 1 - slide)));
    }
  } finally {
    cache?.dispose();
    model.training = wasTraining;
  }
  return { tokens, reason, ms: performance.now() - t0 };
}

// ---- streaming text --------------------------------------------------------------------------

/**
 * Turns sampled ids into text as they come, decoding only the ids since the last complete
 * character (O(1) per token; re-decoding the whole output made long generations slow down).
 * Byte-level tokens can split a UTF-8 character: while the pending ids decode to text ending in
 * U+FFFD (an incomplete character, as far as a decoder can tell), they wait for the next id. A
 * character is at most 4 bytes, so after `maxPending` ids the U+FFFD is real and is written.
 */
export class TextStream {
  private pending: number[] = [];
  constructor(
    private readonly tok: { decode(ids: ArrayLike<number>): string },
    private readonly write: (s: string) => void,
    private readonly maxPending = 8,
  ) {}

  push(id: number): void {
    this.pending.push(id);
    const text = this.tok.decode(this.pending);
    if (text.endsWith('\uFFFD') && this.pending.length < this.maxPending) return;
    this.emit(text);
  }

  /** Writes what is still pending (an incomplete character at the very end decodes to U+FFFD). */
  flush(): void {
    if (this.pending.length) this.emit(this.tok.decode(this.pending));
  }

  private emit(text: string): void {
    this.pending = [];
    if (text) this.write(text);
  }
}
