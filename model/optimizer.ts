// AdamW over the model's flat parameter and gradient buffers with the fused kernels of
// kernels/adamw.ts: one deterministic global-norm reduction (two dispatches) and one AdamW
// dispatch for all parameters, clipping by the global norm on the GPU (no readback needed).
// Weight decay applies to [0, decayEnd): the matrices, which the layout puts first.
//
// Freezing (`freeze: 'wte,wpe,h.0-3'`): the frozen tensors' gradients are zeroed before the norm
// (so clipping and the logged norm see only what trains), and the fused AdamW runs over the
// unfrozen ranges of the flat buffers only, so frozen weights are never written and have no
// moments: the moment buffers hold the trainable ranges packed one after another (exportState
// gives them back in the full layout, zero where frozen). Every tensor starts on a 256-byte
// boundary and every range is a multiple of 256 bytes long, so each range binds directly. Frozen tensors also
// stop requiring grad while the optimizer lives, so backward skips their weight gradients (the
// matmuls that would compute them), not just their update.
//
// The optimizer runs over any FlatParams: the model's ParamStore, or LoRA's adapter store
// (model/lora-store.ts), whose moments then cover the adapters only.
import { adamw, globalNorm, type AdamWConfig } from '../kernels/adamw.ts';
import type { BufferRef, ReadOptions, Runtime } from '../kernels/gpu/runtime.ts';
import { keep, type Tensor } from '../engine/tensor.ts';
import { alignUp } from './layout.ts';
import { flatBuffer, zeroFlat } from './params.ts';

/** The layout facts AdamW reads: tensors by name and range, the decay boundary. */
export interface FlatLayout {
  readonly config: { readonly nLayer: number };
  readonly entries: readonly { readonly name: string; readonly offset: number; readonly size: number }[];
  readonly total: number;
  readonly decayEnd: number;
}

/** Flat parameter and gradient buffers in one layout: a ParamStore or LoRA's adapter store. */
export interface FlatParams {
  readonly rt: Runtime;
  readonly n: number;
  readonly data: Tensor;
  readonly grad: Tensor;
  readonly layout: FlatLayout;
  /** The tensor of a name (to stop a frozen one requiring grad). */
  get(name: string): Tensor;
}

export type { AdamWConfig };

/** GPT-2 / nanoGPT defaults. */
export const ADAMW_DEFAULTS: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxNorm: 1.0 };

export interface StepOptions {
  /** Learning rate of this step (the schedule lives in the trainer). */
  lr: number;
  /**
   * Multiplier of the accumulated gradient: 1/accumSteps when the gradient buffer holds the sum
   * of accumSteps micro-batch gradients of mean losses. Default 1.
   */
  gradScale?: number;
}

export interface OptimizerState {
  /** Steps taken (the next step is step + 1; bias corrections use it). */
  step: number;
  config: AdamWConfig;
  /** First and second moments in the flat parameter layout. */
  m: Float32Array;
  v: Float32Array;
}

/**
 * The tensor names a freeze spec selects, in layout order. The spec is comma-separated patterns
 * over GPT-2 names, each matching a whole name or a dotted prefix of one: `wte`, `ln_f`,
 * `h.0-3` (layers 0 to 3), `h.*.ln_1` (`*` is one name component), `h.2.attn.c_attn.weight`.
 * A pattern that matches nothing is an error naming it.
 */
export function frozenTensors(layout: FlatLayout, spec: string | readonly string[]): string[] {
  const patterns = (typeof spec === 'string' ? spec.split(',') : spec).map((p) => p.trim()).filter((p) => p !== '');
  const picked = new Set<string>();
  for (const pat of patterns) {
    const re = patternRegExp(pat);
    const hits = layout.entries.filter((e) => re.test(e.name));
    if (hits.length === 0) {
      const tops = [...new Set(layout.entries.map((e) => e.name.replace(/^(h\.\d+)\..*$|^([^.]+)\..*$/, '$1$2')))];
      const L = layout.config.nLayer;
      const known = tops.filter((t) => !t.startsWith('h.')).concat(L > 0 ? [`h.0-${L - 1}`] : []);
      throw new Error(`freeze: pattern "${pat}" matches no parameter (this model has ${known.join(', ')})`);
    }
    for (const e of hits) picked.add(e.name);
  }
  return layout.entries.filter((e) => picked.has(e.name)).map((e) => e.name);
}

/** One pattern as a RegExp over whole names or their dotted prefixes. */
function patternRegExp(pat: string): RegExp {
  if (!/^[A-Za-z0-9_.*-]+$/.test(pat))
    throw new Error(`freeze: invalid pattern "${pat}" (letters, digits, _ . * and a-b ranges)`);
  const parts = pat.split('.').map((part) => {
    if (part === '*') return '[^.]+';
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [lo, hi] = [Number(range[1]), Number(range[2])];
      if (lo > hi) throw new Error(`freeze: empty layer range "${part}" in "${pat}"`);
      return `(?:${Array.from({ length: hi - lo + 1 }, (_, i) => lo + i).join('|')})`;
    }
    if (part.includes('*') || part.includes('-') || part === '')
      throw new Error(`freeze: invalid component "${part}" in "${pat}" (use * for a whole component, a-b for layers)`);
    return part;
  });
  return new RegExp(`^${parts.join('\\.')}(?:\\.|$)`);
}

/** [start, end) element ranges of the flat buffer that train: the complement of the frozen tensors. */
function trainableRanges(layout: FlatLayout, frozen: ReadonlySet<string>): [number, number][] {
  const out: [number, number][] = [];
  let start = 0;
  for (const e of layout.entries) {
    if (!frozen.has(e.name)) continue;
    if (e.offset > start) out.push([start, e.offset]);
    start = alignUp(e.offset + e.size);
  }
  if (layout.total > start) out.push([start, layout.total]);
  return out;
}

export interface AdamWOptions {
  /** Tensors that get no update and no moments: a freeze spec (see frozenTensors). */
  freeze?: string | readonly string[];
}

export class AdamW {
  readonly config: AdamWConfig;
  /** Moments of the trainable ranges, packed in layout order (frozen tensors have none). */
  readonly m: Tensor;
  readonly v: Tensor;
  /** [sumsq, norm] of the last computeNorm (the norm of gradScale · grad, before clipping). */
  readonly norm: Tensor;
  /** Steps taken so far. */
  stepCount = 0;
  /** Names of the frozen tensors, in layout order (empty: everything trains). */
  readonly frozen: readonly string[];
  private readonly rt: Runtime;
  /** Trainable [start, end) ranges of the flat parameters, and where each starts in the moments. */
  private readonly ranges: { start: number; end: number; at: number }[];
  /** Gradient views of the frozen tensors, zeroed before each norm. */
  private readonly frozenGrads: Tensor[];
  /** The frozen parameters, which require grad again when the optimizer is disposed. */
  private readonly frozenParams: Tensor[];
  private disposed = false;

  constructor(
    readonly params: FlatParams,
    config: Partial<AdamWConfig> = {},
    opts: AdamWOptions = {},
  ) {
    for (const k of Object.keys(config)) {
      if (!(k in ADAMW_DEFAULTS))
        throw new Error(`AdamW: unknown option "${k}" (known: ${Object.keys(ADAMW_DEFAULTS).join(', ')})`);
    }
    this.config = { ...ADAMW_DEFAULTS, ...config };
    const c = this.config;
    if (!(c.beta1 >= 0 && c.beta1 < 1) || !(c.beta2 >= 0 && c.beta2 < 1))
      throw new Error(`AdamW: betas must be in [0, 1), got ${c.beta1}, ${c.beta2}`);
    if (!(c.eps > 0)) throw new Error(`AdamW: eps must be > 0, got ${c.eps}`);
    if (!(c.weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be >= 0, got ${c.weightDecay}`);
    this.rt = params.rt;
    const L = params.layout;
    this.frozen = opts.freeze === undefined ? [] : frozenTensors(L, opts.freeze);
    const frozen = new Set(this.frozen);
    let at = 0;
    this.ranges = trainableRanges(L, frozen).map(([start, end]) => ({
      start,
      end,
      at: (at += end - start) - (end - start),
    }));
    this.m = flatBuffer(this.rt, at, 'adamw-m');
    this.v = flatBuffer(this.rt, at, 'adamw-v');
    this.norm = flatBuffer(this.rt, 4, 'grad-norm');
    this.frozenGrads = L.entries
      .filter((e) => frozen.has(e.name))
      .map((e) => keep(params.grad.view([e.size], e.offset)));
    this.frozenParams = this.frozen.map((n) => params.get(n)).filter((p) => p.requiresGrad);
    for (const p of this.frozenParams) p.requiresGrad = false;
  }

  /** Bytes of optimizer state on the device: the two moment buffers. */
  get stateBytes(): number {
    return (this.m.size + this.v.size) * 4;
  }

  /**
   * Records the global norm of gradScale · grad into `norm` (what clipping and logging use),
   * after zeroing the frozen tensors' gradients.
   */
  computeNorm(gradScale = 1): void {
    this.assertLive();
    for (const g of this.frozenGrads) zeroFlat(this.rt, g);
    globalNorm(this.rt, { norm: this.norm.ref(), grads: this.params.grad.ref() }, { n: this.params.n, gradScale });
  }

  /**
   * Records the AdamW update with the norm already in `norm` (from computeNorm with the same
   * gradScale). Split from computeNorm so that a trainer can read the norm first and skip a
   * non-finite step; `step` does both.
   */
  apply(o: StepOptions): void {
    this.assertLive();
    if (!Number.isFinite(o.lr) || o.lr < 0) throw new Error(`AdamW: lr must be a finite number >= 0, got ${o.lr}`);
    const c = this.config;
    this.stepCount++;
    const sub = (t: Tensor, start: number, end: number): BufferRef => ({
      buffer: t.buffer,
      offset: (t.offset + start) * 4,
      size: (end - start) * 4,
    });
    for (const { start, end, at } of this.ranges) {
      adamw(
        this.rt,
        {
          params: sub(this.params.data, start, end),
          grads: sub(this.params.grad, start, end),
          m: sub(this.m, at, at + end - start),
          v: sub(this.v, at, at + end - start),
          norm: this.norm.ref(),
        },
        {
          n: end - start,
          decayEnd: Math.min(end - start, Math.max(0, this.params.layout.decayEnd - start)),
          lr: o.lr,
          beta1: c.beta1,
          beta2: c.beta2,
          eps: c.eps,
          weightDecay: c.weightDecay,
          step: this.stepCount,
          maxNorm: c.maxNorm,
          gradScale: o.gradScale ?? 1,
        },
      );
    }
  }

  /** Records one optimizer step: global norm, clipping and the AdamW update, all on the GPU. */
  step(o: StepOptions): void {
    this.computeNorm(o.gradScale ?? 1);
    this.apply(o);
  }

  /** Reads the norm of the last computeNorm (a sync point: read it only when needed). */
  async readGradNorm(): Promise<number> {
    return (await this.norm.data())[1]!;
  }

  async exportState(): Promise<OptimizerState> {
    this.assertLive();
    const full = async (t: Tensor): Promise<Float32Array> => {
      const packed = new Float32Array(await this.rt.read(t.buffer, 0, t.size * 4));
      if (packed.length === this.params.n) return packed;
      const out = new Float32Array(this.params.n);
      for (const { start, end, at } of this.ranges) out.set(packed.subarray(at, at + end - start), start);
      return out;
    };
    return { step: this.stepCount, config: { ...this.config }, m: await full(this.m), v: await full(this.v) };
  }

  /** Restores moments and step count (e.g. from a checkpoint); the config stays this optimizer's. */
  importState(s: Pick<OptimizerState, 'step' | 'm' | 'v'>): void {
    this.assertLive();
    const n = this.params.n;
    if (s.m.length !== n || s.v.length !== n)
      throw new Error(`AdamW: state has ${s.m.length}/${s.v.length} moments for ${n} parameters`);
    if (!Number.isInteger(s.step) || s.step < 0) throw new Error(`AdamW: invalid step ${s.step}`);
    for (const { start, end, at } of this.ranges) {
      this.rt.write(this.m.buffer, at * 4, s.m.subarray(start, end));
      this.rt.write(this.v.buffer, at * 4, s.v.subarray(start, end));
    }
    this.stepCount = s.step;
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('AdamW: the optimizer was disposed');
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const g of this.frozenGrads) g.dispose();
    for (const p of this.frozenParams) p.requiresGrad = true;
    this.m.dispose();
    this.v.dispose();
    this.norm.dispose();
  }
}

/**
 * Reads the loss and the optimizer's last gradient norm with ONE readback (one submit, one map):
 * the only sync a training step needs. With several losses (one per micro-step of gradient
 * accumulation) the returned loss is their mean.
 */
export async function readStats(
  losses: Tensor | readonly Tensor[],
  opt: AdamW,
  o: ReadOptions = {},
): Promise<{ loss: number; gradNorm: number }> {
  const list = Array.isArray(losses) ? (losses as readonly Tensor[]) : [losses as Tensor];
  if (list.length === 0) throw new Error('readStats: no loss tensor given');
  const rt = opt.params.rt;
  const buf = rt.pool.acquire(4 * (list.length + 1), 'step-stats');
  try {
    rt.copy(opt.norm.buffer, opt.norm.offset * 4 + 4, buf, 0, 4);
    list.forEach((l, i) => {
      if (l.size !== 1) throw new Error(`readStats: loss ${l.describe()} is not a scalar`);
      rt.copy(l.buffer, l.offset * 4, buf, 4 * (i + 1), 4);
    });
    const vals = new Float32Array(await rt.read(buf, 0, 4 * (list.length + 1), o));
    let sum = 0;
    for (let i = 1; i < vals.length; i++) sum += vals[i]!;
    return { loss: sum / list.length, gradNorm: vals[0]! };
  } finally {
    rt.pool.release(buf);
  }
}
