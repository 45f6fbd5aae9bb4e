// The KV cache of incremental decoding: every layer's keys and values for up to maxT positions,
// so that `GPT.forward(ids, null, { cache })` runs only the NEW positions and attends over the
// cached ones (O(T) per generated token instead of a full O(T²) forward). It owns its buffers
// (dispose it) and reaches them only through the engine's inference-only decode ops.
import {
  cacheWrite,
  decodeAttention,
  empty,
  keep,
  reshape,
  split,
  type DecodeAttention,
  type Tensor,
} from '../engine/index.ts';
import type { GPTConfig } from './config.ts';

export interface KVCacheOptions {
  /** Batch size. Default 1. */
  B?: number;
  /** Positions the cache holds (<= blockSize). Default blockSize. */
  maxT?: number;
  /** How attention over the cache is computed (engine/decode.ts). Default 'decode-kernel'. */
  attention?: DecodeAttention;
}

/** Keys and values of every layer for up to maxT positions: [B, NH, maxT, HS] each. */
export class KVCache {
  readonly k: Tensor[] = [];
  readonly v: Tensor[] = [];
  readonly B: number;
  readonly maxT: number;
  readonly attention: DecodeAttention;
  /** Positions filled so far; GPT.forward advances it. */
  pos = 0;

  constructor(
    readonly config: GPTConfig,
    opts: KVCacheOptions = {},
  ) {
    this.B = opts.B ?? 1;
    this.maxT = opts.maxT ?? config.blockSize;
    this.attention = opts.attention ?? 'decode-kernel';
    if (this.maxT > config.blockSize)
      throw new Error(`KVCache: maxT ${this.maxT} exceeds blockSize ${config.blockSize}`);
    const shape = [this.B, config.nHead, this.maxT, config.nEmbd / config.nHead];
    for (let l = 0; l < config.nLayer; l++) {
      this.k.push(keep(empty(shape, 'f32', 'kv-cache')));
      this.v.push(keep(empty(shape, 'f32', 'kv-cache')));
    }
  }

  /** Throws unless Tq new positions of batch B fit after the cached ones. */
  check(B: number, Tq: number): void {
    if (B !== this.B) throw new Error(`forward: batch ${B} does not match the KV cache's ${this.B}`);
    if (this.pos + Tq > this.maxT)
      throw new Error(`forward: ${this.pos} cached + ${Tq} new positions exceed the KV cache's ${this.maxT}`);
  }

  /**
   * Layer l's attention for new positions pos.. (pos = this.pos): appends their keys and values,
   * then attends their queries over everything cached. heads: [3, B, NH, Tq, HS] (q, k, v stacked,
   * as the model splits c_attn's output) → [B, NH, Tq, HS].
   */
  attend(heads: Tensor, l: number): Tensor {
    const [, B, NH, Tq, HS] = heads.shape as [number, number, number, number, number];
    const [q, k, v] = split(heads, [1, 1, 1], 0).map((t) => reshape(t, [B, NH, Tq, HS])) as [Tensor, Tensor, Tensor];
    cacheWrite(this.k[l]!, k, this.pos);
    cacheWrite(this.v[l]!, v, this.pos);
    return decodeAttention(q, this.k[l]!, this.v[l]!, this.pos, { attention: this.attention });
  }

  /** Forgets every position (the buffers are reused). */
  reset(): void {
    this.pos = 0;
  }

  dispose(): void {
    for (const t of [...this.k, ...this.v]) t.dispose();
    this.k.length = 0;
    this.v.length = 0;
  }
}
