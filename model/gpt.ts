// The GPT-2 model: token + position embeddings, pre-LN transformer blocks (causal self-attention
// through the fused attention kernel, a 4x GELU MLP), a final layernorm and the LM head tied to
// the token embedding. Engine ops only: the forward pass reads like the math, the engine's tape
// gives the backward. It is the ONE transcription of the network: training, evaluation and
// generation (which passes a KV cache, model/kv-cache.ts) all run `forward` and its `block`.
// Adapters (LoRA, model/lora-store.ts) plug into its linear layers through `attachAdapters`.
//
// Typical training step (the whole step recorded into one command encoder):
//   model.zeroGrads();   // the flat gradient buffer (an adapted model: the adapters' only)
//   for (micro of batches) tidy(() => { const { loss } = model.forward(ids, tgt, { dropoutSeed }); backward(loss); });
//   opt.step({ lr, gradScale: 1 / batches.length });
//   const { loss, gradNorm } = await readStats(lossTensor, opt);   // the only readback
// (model/train-step.ts `trainStep` does exactly this, optionally skipping non-finite steps.)
import { totalmem } from 'node:os';
import {
  add,
  attentionPacked,
  crossEntropy,
  dropout,
  embedding,
  gatherRows,
  gelu,
  layernorm,
  linear,
  noGrad,
  permute,
  reshape,
  runtime,
  slice,
  type Runtime,
  type Tensor,
} from '../engine/index.ts';
import { checkFits, ModelFitError, validateConfig, type FitOptions, type GPTConfig } from './config.ts';
import type { KVCache } from './kv-cache.ts';
import type { LayerParams, ParamTree } from './layout.ts';
import { ParamStore } from './params.ts';

export interface ForwardOptions {
  /** Train mode applies dropout; eval mode does not. Default: the model's mode (`model.training`). */
  train?: boolean;
  /**
   * Seed of this forward pass's dropout masks (each dropout site derives its own from it). Pass
   * something that changes every micro-step (e.g. step·accum + micro) for reproducible runs; by
   * default a counter of forward calls is used (`model.forwardCount`).
   */
  dropoutSeed?: number;
  /** Targets equal to this do not count in the loss. Default -1. */
  ignoreIndex?: number;
  /** Decode with this KV cache (see `GPT.forward`). */
  cache?: KVCache;
  /**
   * Return the final hidden states (after ln_f) for a classifier; the LM head runs only when
   * targets are given (an auxiliary language-modelling loss). Not with a cache.
   */
  hidden?: boolean;
}

export interface ForwardResult {
  /** [B, T, paddedVocabSize] ([B, 1, ..] with a cache); columns >= vocabSize are padding (never predicted). */
  logits: Tensor;
  /** Mean cross-entropy over the non-ignored targets (a scalar tensor), when targets were given. */
  loss?: Tensor;
}

export interface HiddenResult {
  /** [B, T, C]: the final hidden states, after ln_f. */
  hidden: Tensor;
  /** With targets: the LM logits and mean cross-entropy, as in ForwardResult. */
  logits?: Tensor;
  loss?: Tensor;
}

/** A 32-bit mix of two integers (the dropout seed of one site from the step's seed). */
export function mixSeed(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ Math.imul((b + 0x7f4a7c15) >>> 0, 0x85ebca77)) >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d) >>> 0;
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export type Dropper = (x: Tensor) => Tensor;
const noDropout: Dropper = (x) => x;

/** One forward pass's dropout: on the residual stream, and on the adapters' inputs. */
interface PassDrop {
  drop: Dropper;
  adapter: Dropper;
}
const NO_DROP: PassDrop = { drop: noDropout, adapter: noDropout };

/**
 * Extra terms on named linear layers (`h.0.attn.c_attn`, ...): the hook LoRA (model/lora-store.ts)
 * plugs into. Attached adapters own the trainable parameters; the base weights stay frozen.
 */
export interface LinearAdapters {
  /** Whether layer `name` has an adapter. */
  has(name: string): boolean;
  /** out + the adapter's term for the layer's input x (`drop` applied to x first). */
  adapt(name: string, x: Tensor, out: Tensor, drop: Dropper): Tensor;
  /** Dropout on the adapters' inputs in train mode. */
  readonly dropout: number;
  /** A classification head that trains with the adapters, used in place of the base's. */
  readonly score?: { weight: Tensor; bias: Tensor };
  /** Records a zero fill of the adapters' gradients. */
  zeroGrads(): void;
  /** Frees the adapters' buffers (the model's dispose calls it; a second call does nothing). */
  dispose(): void;
}

/**
 * Validates the config and checks it against the adapter's limits (and, on a software adapter,
 * the host's memory) before anything is laid out or allocated: a model that cannot fit fails at
 * once with a ModelFitError saying what fits.
 */
export function assertFits(config: GPTConfig, rt: Runtime, fit: FitOptions = {}): void {
  validateConfig(config);
  const memoryBytes = fit.memoryBytes ?? (rt.isSoftware ? totalmem() : undefined);
  const problem = checkFits(config, rt.limits, { ...fit, memoryBytes });
  if (problem) throw new ModelFitError(problem);
}

export class GPT {
  readonly config: GPTConfig;
  readonly params: ParamStore;
  /** Train mode (dropout on) by default, like PyTorch modules. */
  training = true;
  /**
   * Forward passes that drew a default dropout seed (train mode, dropout > 0, no explicit
   * dropoutSeed). Save it to resume such a run exactly; passing dropoutSeed avoids the need.
   */
  forwardCount = 0;
  /** Base of the default dropout seeds. */
  readonly seed: number;
  /** Adapters on the linear layers (LoRA), or null: see attachAdapters. */
  adapters: LinearAdapters | null = null;

  private constructor(params: ParamStore, seed: number) {
    this.params = params;
    this.config = params.config;
    this.seed = seed;
  }

  /** A new model with GPT-2 initial weights drawn from `seed` (the same on every adapter). */
  static create(config: GPTConfig, opts: { seed?: number; rt?: Runtime; fit?: FitOptions } = {}): GPT {
    const rt = opts.rt ?? runtime();
    assertFits(config, rt, opts.fit);
    const seed = opts.seed ?? 0;
    return new GPT(ParamStore.create(config, { seed, rt }), seed);
  }

  /**
   * A model whose weights are the given flat parameters (layout.ts order), e.g. from a
   * checkpoint. `seed` only sets the default dropout seeds.
   */
  static fromParams(
    config: GPTConfig,
    flat: Float32Array,
    opts: { seed?: number; rt?: Runtime; fit?: FitOptions } = {},
  ): GPT {
    const rt = opts.rt ?? runtime();
    assertFits(config, rt, opts.fit);
    const seed = opts.seed ?? 0;
    return new GPT(ParamStore.create(config, { initial: flat, rt }), seed);
  }

  /**
   * Attaches adapters (null detaches them). With adapters the base parameters stop requiring
   * grad: backward then computes no weight gradient for them (only what flows to the adapters).
   */
  attachAdapters(a: LinearAdapters | null): this {
    this.adapters = a;
    for (const p of this.params.all()) p.requiresGrad = a === null;
    return this;
  }

  /** Records a zero fill of the gradients that train: the adapters' if attached, else the model's. */
  zeroGrads(): void {
    if (this.adapters) this.adapters.zeroGrads();
    else this.params.zeroGrads();
  }

  train(): this {
    this.training = true;
    return this;
  }

  eval(): this {
    this.training = false;
    return this;
  }

  /** The parameters as typed GPT-2-named views: `w.wte.weight`, `w.h[l].attn.c_attn.bias`. */
  get w(): ParamTree<Tensor> {
    return this.params.w;
  }

  /**
   * ids: i32 [B, T] with T <= blockSize; targets (optional): i32 [B, T] (the next tokens).
   * Returns the logits [B, T, Vp] and, with targets, the mean loss. Call inside `tidy` (and under
   * `noGrad` for evaluation): the activations belong to the caller's scope.
   *
   * With `opts.cache` this is an inference step (nanoGPT's shortcut inside its one forward): ids are
   * the positions cache.pos.., their keys and values are appended to the cache, and only the last
   * position's logits [B, 1, Vp] are computed. No tape, no dropout, no targets.
   */
  forward(ids: Tensor, targets: Tensor | null | undefined, opts: ForwardOptions & { hidden: true }): HiddenResult;
  forward(ids: Tensor, targets?: Tensor | null, opts?: ForwardOptions): ForwardResult;
  forward(ids: Tensor, targets?: Tensor | null, opts: ForwardOptions = {}): ForwardResult | HiddenResult {
    const { B, T } = this.checkIds(ids, 'forward');
    const cache = opts.cache ?? null;
    if (cache) {
      if (targets)
        throw new Error('forward: targets cannot be given with a KV cache (it computes the last logits only)');
      if (opts.hidden) throw new Error('forward: hidden states cannot be asked for with a KV cache');
      cache.check(B, T);
      return { logits: noGrad(() => this.lmHead(this.run(ids, NO_DROP, cache))) };
    }
    if (targets) this.checkTargets(targets, B, T);
    const hidden = this.run(ids, this.dropper(opts), null);
    if (opts.hidden && !targets) return { hidden };
    const logits = this.lmHead(hidden);
    if (!targets) return { logits };
    const loss = crossEntropy(logits, targets, { V: this.config.vocabSize, ignoreIndex: opts.ignoreIndex ?? -1 });
    return opts.hidden ? { hidden, logits, loss } : { logits, loss };
  }

  /**
   * The classification head on each sequence's last real token: hidden [B, T, C] (forward with
   * `hidden: true`) and lastPos i32 [B] → class logits [B, nClasses]. Needs config.nClasses > 0.
   */
  classify(hidden: Tensor, lastPos: Tensor): Tensor {
    const score = this.adapters?.score ?? this.w.score;
    if (!score) throw new Error('classify: this model has no classification head (config.nClasses is 0)');
    return linear(gatherRows(hidden, lastPos), score.weight, score.bias, { transW: true });
  }

  /** Tied LM head over the padded vocabulary: logits = x · wteᵀ. */
  private lmHead(x: Tensor): Tensor {
    return linear(x, this.w.wte.weight, null, { transW: true });
  }

  /** The network up to ln_f: ids [B, T] → hidden [B, T, C] ([B, 1, C] with a cache). */
  private run(ids: Tensor, pass: PassDrop, cache: KVCache | null): Tensor {
    const T = ids.shape[1]!;
    const pos = cache?.pos ?? 0;
    const w = this.w;
    // With a cache the positions start at cache.pos.
    const wpe = cache ? slice(w.wpe.weight, 0, pos, pos + T) : w.wpe.weight;
    let x = pass.drop(embedding(w.wte.weight, ids, wpe)); // [B, T, C]
    for (let l = 0; l < this.config.nLayer; l++) x = this.block(x, l, pass, cache);
    if (cache) {
      cache.pos = pos + T;
      if (T > 1) x = slice(x, 1, T - 1, T); // [B, 1, C]: only the next token is wanted
    }
    return layernorm(x, w.ln_f.weight, w.ln_f.bias);
  }

  /** One pre-LN transformer block, nanoGPT's Block: x + attn(ln_1(x)), then x + mlp(ln_2(x)). */
  private block(x: Tensor, l: number, pass: PassDrop, cache: KVCache | null): Tensor {
    const w = this.w.h[l]!;
    const { drop } = pass;
    x = add(x, drop(this.causalSelfAttention(layernorm(x, w.ln_1.weight, w.ln_1.bias), l, cache, pass)));
    return add(x, drop(this.mlp(layernorm(x, w.ln_2.weight, w.ln_2.bias), l, pass)));
  }

  /** x · W + b of layer `name` (`h.0.attn.c_attn`), plus its adapter's term if it has one. */
  private dense(
    name: string,
    x: Tensor,
    w: { weight: Tensor; bias: Tensor },
    pass: PassDrop,
    fuseGelu = false,
  ): Tensor {
    const a = this.adapters;
    if (!a?.has(name)) return linear(x, w.weight, w.bias, { gelu: fuseGelu });
    const y = a.adapt(name, x, linear(x, w.weight, w.bias), pass.adapter);
    return fuseGelu ? gelu(y) : y;
  }

  /**
   * x [B, T, C] → c_proj(attention(q, k, v)), q/k/v split from c_attn(x) into heads. With a cache,
   * k and v are appended to it and q attends over every cached position.
   */
  private causalSelfAttention(x: Tensor, l: number, cache: KVCache | null, pass: PassDrop): Tensor {
    const w = this.w.h[l]!.attn;
    const [B, T, C] = x.shape as [number, number, number];
    const NH = this.config.nHead;
    const HS = C / NH;
    const qkv = this.dense(`h.${l}.attn.c_attn`, x, w.c_attn, pass); // [B, T, 3C]
    // One gather to [3, B, NH, T, HS]; q, k, v are then leading-axis slices (views).
    const heads = permute(reshape(qkv, [B, T, 3, NH, HS]), [2, 0, 3, 1, 4]);
    const y = cache ? cache.attend(heads, l) : attentionPacked(heads); // [B, NH, T, HS]
    const merged = reshape(permute(y, [0, 2, 1, 3]), [B, T, C]);
    return this.dense(`h.${l}.attn.c_proj`, merged, w.c_proj, pass);
  }

  /** x [B, T, C] → c_proj(gelu(c_fc(x))), the GELU fused into the first matmul (unless c_fc is adapted). */
  private mlp(x: Tensor, l: number, pass: PassDrop): Tensor {
    const w: LayerParams<Tensor>['mlp'] = this.w.h[l]!.mlp;
    const hidden = this.dense(`h.${l}.mlp.c_fc`, x, w.c_fc, pass, true); // [B, T, 4C]
    return this.dense(`h.${l}.mlp.c_proj`, hidden, w.c_proj, pass);
  }

  /**
   * This pass's dropout: identity in eval mode or at p = 0; else each call (a dropout site, in
   * model order) gets its own seed mixed from the pass's seed. The adapters' sites draw from a
   * stream of their own, so the residual stream's masks are those of the model without adapters.
   */
  private dropper(opts: ForwardOptions): PassDrop {
    const p = this.config.dropout;
    const pa = this.adapters?.dropout ?? 0;
    if (!((opts.train ?? this.training) && (p > 0 || pa > 0))) return NO_DROP;
    const stepSeed = opts.dropoutSeed ?? mixSeed(this.seed, this.forwardCount++);
    const adapterSeed = mixSeed(stepSeed, 0x4c6f5241);
    let site = 0;
    let aSite = 0;
    return {
      drop: p > 0 ? (x) => dropout(x, p, mixSeed(stepSeed, site++)) : noDropout,
      adapter: pa > 0 ? (x) => dropout(x, pa, mixSeed(adapterSeed, aSite++)) : noDropout,
    };
  }

  /** Shape checks with errors that say what was expected. */
  checkIds(ids: Tensor, what: string): { B: number; T: number } {
    if (ids.dtype !== 'i32') throw new Error(`${what}: ids must be an i32 tensor [B, T], got ${ids.describe()}`);
    if (ids.rank !== 2) throw new Error(`${what}: ids must be [B, T], got ${ids.describe()}`);
    const [B, T] = ids.shape as [number, number];
    if (T > this.config.blockSize)
      throw new Error(`${what}: sequence length ${T} exceeds the model's blockSize ${this.config.blockSize}`);
    if (B < 1 || T < 1) throw new Error(`${what}: empty batch ${ids.describe()}`);
    return { B, T };
  }

  private checkTargets(targets: Tensor, B: number, T: number): void {
    if (targets.dtype !== 'i32')
      throw new Error(`forward: targets must be an i32 tensor [B, T], got ${targets.describe()}`);
    if (targets.size !== B * T) throw new Error(`forward: targets ${targets.describe()} do not match ids [${B}, ${T}]`);
  }

  /** Frees the parameter buffers (and the gradients), and those of attached adapters. */
  dispose(): void {
    this.adapters?.dispose();
    this.params.dispose();
  }
}
