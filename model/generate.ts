// Text generation: sampling (temperature, top-k, top-p, seeded) with a KV cache, so that each new
// token runs the model on ONE position and attends over the cached keys and values (O(T) per
// token instead of a full O(T²) forward), plus the uncached path (a full forward per token) that
// the cache is tested against. Tokens stream out through a callback as they are sampled.
//
// Context longer than blockSize: the uncached path always sees the last blockSize tokens. The
// cached path fills its cache up to blockSize positions; when it is full, it restarts on the last
// blockSize + 1 - slide tokens (one batched prefill) and continues incrementally. slide = 1 makes it
// see exactly what the uncached path sees (a prefill per token once past the window); the default
// (a quarter of the window) amortises the restarts.
import {
  add,
  embedding,
  layernorm,
  linear,
  matmul,
  maskedFill,
  mulScalar,
  noGrad,
  permute,
  reshape,
  slice,
  softmax,
  tidy,
  transpose,
  fromArray,
  type Tensor,
} from '../engine/index.ts';
import { empty, keep, runtime } from '../engine/tensor.ts';
import { Rng } from '../engine/random.ts';
import { stridedCopy } from '../kernels/copy.ts';
import { attentionDecode } from '../kernels/attention.ts';
import type { GPTConfig } from './config.ts';
import type { GPT } from './gpt.ts';

// ---- the KV cache ----------------------------------------------------------------------------

/** Keys and values of every layer for up to maxT positions: [B, NH, maxT, HS] each. */
export class KVCache {
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];
  /** Positions filled so far. */
  pos = 0;

  constructor(
    readonly config: GPTConfig,
    readonly B = 1,
    readonly maxT = config.blockSize,
  ) {
    if (maxT > config.blockSize) throw new Error(`KVCache: maxT ${maxT} exceeds blockSize ${config.blockSize}`);
    const shape = [B, config.nHead, maxT, config.nEmbd / config.nHead];
    for (let l = 0; l < config.nLayer; l++) {
      this.k.push(keep(empty(shape, 'f32', 'kv-cache')));
      this.v.push(keep(empty(shape, 'f32', 'kv-cache')));
    }
  }

  reset(): void {
    this.pos = 0;
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
    this.k.length = 0;
    this.v.length = 0;
  }
}

/**
 * Use the fused decode kernel (kernels/attention.ts attentionDecode); false runs the same math as
 * engine ops (matmul, masked softmax, matmul), which tests compare it with.
 */
export let useDecodeKernel = true;
export function setUseDecodeKernel(on: boolean): void {
  useDecodeKernel = on;
}

/**
 * Causal attention of Tq new queries (absolute positions pos..pos+Tq-1) over the cached keys and
 * values 0..pos+Tq-1. q: [B, NH, Tq, HS]; kc, vc: [B, NH, maxT, HS]. No tape.
 */
function cachedAttention(q: Tensor, kc: Tensor, vc: Tensor, pos: number, maxT: number): Tensor {
  const [B, NH, Tq, HS] = q.shape as [number, number, number, number];
  const L = pos + Tq;
  if (useDecodeKernel) {
    const out = empty(q.shape);
    attentionDecode(
      runtime(),
      { out: out.ref(), q: q.ref(), k: kc.ref(), v: vc.ref() },
      { B, NH, Tq, qOffset: pos, maxT, HS },
    );
    return out;
  }
  // Engine ops: scores over the first L cached positions, the future masked out.
  const k = slice(kc, 2, 0, L);
  const v = slice(vc, 2, 0, L);
  const scores = mulScalar(matmul(q, transpose(k)), 1 / Math.sqrt(HS)); // [B, NH, Tq, L]
  const mask = new Float32Array(Tq * L);
  for (let i = 0; i < Tq; i++) for (let j = pos + i + 1; j < L; j++) mask[i * L + j] = 1;
  const p = softmax(maskedFill(scores, fromArray(mask, [Tq, L]), -1e30));
  return matmul(p, v); // [B, NH, Tq, HS]
}

/**
 * Runs the model on ids [B, Tq] at positions cache.pos.., appending their keys and values to the
 * cache, and returns the logits of the LAST position, [B, 1, Vp]. Eval mode (no dropout), no tape.
 * Call inside `tidy`.
 */
export function forwardCached(model: GPT, ids: Tensor, cache: KVCache): Tensor {
  return noGrad(() => {
    const { B, T: Tq } = model.checkIds(ids, 'forwardCached');
    const cfg = model.config;
    const { nHead: NH, nEmbd: C } = cfg;
    const HS = C / NH;
    const pos = cache.pos;
    if (B !== cache.B) throw new Error(`forwardCached: batch ${B} does not match the cache's ${cache.B}`);
    if (pos + Tq > cache.maxT)
      throw new Error(`forwardCached: ${pos} cached + ${Tq} new positions exceed the cache's ${cache.maxT}`);
    const rt = runtime();
    const p = (name: string) => model.params.get(name);

    let x = embedding(p('wte.weight'), ids, slice(p('wpe.weight'), 0, pos, pos + Tq)); // [B, Tq, C]
    for (let l = 0; l < cfg.nLayer; l++) {
      const h = `h.${l}.`;
      const qkv = linear(
        layernorm(x, p(h + 'ln_1.weight'), p(h + 'ln_1.bias')),
        p(h + 'attn.c_attn.weight'),
        p(h + 'attn.c_attn.bias'),
      ); // [B, Tq, 3C]
      // Scatter k and v into the cache at positions pos.., and gather q into [B, NH, Tq, HS].
      const src = { shape: [B, NH, Tq, HS], si: [Tq * 3 * C, HS, 3 * C, 1] };
      const dstCache = { so: [NH * cache.maxT * HS, cache.maxT * HS, HS, 1], outOffset: pos * HS };
      stridedCopy(rt, { out: cache.k[l]!.ref(), inp: qkv.ref() }, { ...src, ...dstCache, inOffset: C });
      stridedCopy(rt, { out: cache.v[l]!.ref(), inp: qkv.ref() }, { ...src, ...dstCache, inOffset: 2 * C });
      const q = empty([B, NH, Tq, HS]);
      stridedCopy(rt, { out: q.ref(), inp: qkv.ref() }, { ...src, so: [NH * Tq * HS, Tq * HS, HS, 1], inOffset: 0 });
      const y = cachedAttention(q, cache.k[l]!, cache.v[l]!, pos, cache.maxT);
      const merged = reshape(permute(y, [0, 2, 1, 3]), [B, Tq, C]);
      x = add(x, linear(merged, p(h + 'attn.c_proj.weight'), p(h + 'attn.c_proj.bias')));
      const hidden = linear(
        layernorm(x, p(h + 'ln_2.weight'), p(h + 'ln_2.bias')),
        p(h + 'mlp.c_fc.weight'),
        p(h + 'mlp.c_fc.bias'),
        { gelu: true },
      );
      x = add(x, linear(hidden, p(h + 'mlp.c_proj.weight'), p(h + 'mlp.c_proj.bias')));
    }
    cache.pos = pos + Tq;
    const last = Tq === 1 ? x : slice(x, 1, Tq - 1, Tq); // [B, 1, C]
    const xf = layernorm(last, p('ln_f.weight'), p('ln_f.bias'));
    return linear(xf, p('wte.weight'), null, { transW: true }); // [B, 1, Vp]
  });
}

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
  const cache = useCache ? new KVCache(cfg, 1) : null;
  const wasTraining = model.training;
  model.eval();

  // Logits of the next token, as a kept tensor [1, *, Vp], and the row to read.
  const prefill = (window: number[]): { t: Tensor; row: number } =>
    tidy(() => {
      const ids = fromArray(Int32Array.from(window), [1, window.length], 'i32');
      if (cache) {
        cache.reset();
        return { t: keep(forwardCached(model, ids, cache)), row: 0 };
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
          t: keep(forwardCached(model, fromArray(Int32Array.from([id]), [1, 1], 'i32'), cache)),
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
