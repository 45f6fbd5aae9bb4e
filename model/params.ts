// The model's parameters on the GPU: ONE flat f32 buffer holding every tensor (layout.ts), one
// flat gradient buffer with the same layout, and a named Tensor view of each.
//
// Each parameter view is marked `.param(name)` (it requires grad and outlives every tidy scope),
// and its `.grad` is set to its view of the flat gradient buffer. Autograd adds into an existing
// `.grad`, so after backward the flat gradient buffer holds the whole gradient in the layout the
// fused AdamW kernel expects — and several backward calls between two `zeroGrads()` accumulate
// (gradient accumulation over micro-steps for free).
import { fill } from '../kernels/elementwise.ts';
import { keep, runtime, Storage, Tensor } from '../engine/tensor.ts';
import type { Runtime } from '../engine/index.ts';
import type { GPTConfig } from './config.ts';
import { initParams, paramLayout, paramSpec, paramTree, type ParamLayout, type ParamTree } from './layout.ts';

/** Storage over a buffer this module created itself (not the pool): destroyed with its last view. */
class OwnedStorage extends Storage {
  override release(): void {
    if (--this.refs > 0) return;
    // Submit what was recorded first: a destroyed buffer must not be in an unsubmitted encoder
    // (once submitted, WebGPU keeps it alive until those commands finish).
    if (!this.rt.lost) this.rt.flush();
    this.buffer.destroy();
  }
}

const FLAT_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;

/** A zero-initialised flat f32 buffer of n floats, as a tensor [n] that no scope disposes. */
export function flatBuffer(rt: Runtime, n: number, label: string): Tensor {
  const bytes = Math.max(16, Math.ceil(n / 4) * 16);
  if (bytes > rt.limits.maxBufferSize) {
    throw new Error(
      `${label}: ${bytes} bytes exceed the adapter's maxBufferSize (${rt.limits.maxBufferSize}); choose a smaller model`,
    );
  }
  // WebGPU zero-initialises new buffers.
  const buffer = rt.device.createBuffer({ size: bytes, usage: FLAT_USAGE(), label });
  return keep(new Tensor(new OwnedStorage(rt, buffer, bytes), [n], 'f32'));
}

/** Records a zero fill of a flat buffer, in chunks that fit one storage binding. */
export function zeroFlat(rt: Runtime, t: Tensor, n = t.size): void {
  const align = Math.max(64, rt.limits.minStorageBufferOffsetAlignment / 4);
  const per = Math.floor(rt.limits.maxStorageBufferBindingSize / 4 / align) * align;
  const buffer = t.storageFor('zero').buffer;
  for (let start = 0; start < n; start += per) {
    const len = Math.min(per, n - start);
    fill(rt, { out: { buffer, offset: (t.offset + start) * 4, size: len * 4 } }, { n: len, value: 0 });
  }
}

/** One tensor of a flat store: its name, shape and offset (floats) in the flat buffers. */
interface FlatEntry {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
}

/**
 * A flat parameter buffer and a flat gradient buffer of the same layout, with a view of each
 * entry in both: the parameter view is marked `.param(name)` and its `.grad` is its gradient view.
 * ParamStore (the model) and LoraAdapters (model/lora-store.ts) are such stores; an AdamW is built
 * over one (`rt, n, data, grad`).
 */
export abstract class FlatStore {
  /** Flat parameters, [n]. */
  readonly data: Tensor;
  /** Flat gradients, [n], same layout. */
  readonly grad: Tensor;
  protected readonly views = new Map<string, Tensor>();
  private readonly gradViews = new Map<string, Tensor>();
  private disposed = false;

  /**
   * `names` labels the buffers (`${buffers}params`, `${buffers}grads`) and names the store in
   * errors (`${upload} upload: ...`, `${store} was disposed`).
   */
  protected constructor(
    readonly rt: Runtime,
    private readonly total: number,
    entries: readonly FlatEntry[],
    private readonly names: { buffers: string; upload: string; store: string },
  ) {
    this.data = flatBuffer(rt, total, `${names.buffers}params`);
    this.grad = flatBuffer(rt, total, `${names.buffers}grads`);
    for (const e of entries) {
      const p = this.data.view([...e.shape], e.offset).param(e.name);
      const g = keep(this.grad.view([...e.shape], e.offset));
      g.name = `grad(${e.name})`;
      p.grad = g;
      this.views.set(e.name, p);
      this.gradViews.set(e.name, g);
    }
  }

  /** Element count of the flat buffers (the optimizer's n). */
  get n(): number {
    return this.total;
  }

  /**
   * Records a zero fill of the flat gradient buffer (call before the first micro-step of every
   * optimizer step). Re-attaches any `.grad` someone replaced or dropped (e.g. `p.zeroGrad()`).
   */
  zeroGrads(): void {
    this.assertLive();
    for (const [name, p] of this.views) {
      let g = this.gradViews.get(name)!;
      if (p.grad !== g || g.disposed) {
        if (p.grad !== g) p.grad?.dispose();
        if (g.disposed) {
          g = keep(this.grad.view(p.shape, g.offset));
          g.name = `grad(${name})`;
          this.gradViews.set(name, g);
        }
        p.grad = g;
      }
    }
    zeroFlat(this.rt, this.grad, this.total);
  }

  /** Replaces all parameters with host values in the flat layout (length n). */
  upload(flat: Float32Array): void {
    this.assertLive();
    if (flat.length !== this.total) {
      throw new Error(`${this.names.upload} upload: ${flat.length} values for a flat buffer of ${this.total}`);
    }
    this.rt.write(this.data.buffer, 0, flat);
  }

  /** Copies the flat parameters to the host (exactly n floats). */
  async download(): Promise<Float32Array> {
    this.assertLive();
    return new Float32Array(await this.rt.read(this.data.buffer, 0, this.total * 4));
  }

  /** Copies the flat gradients to the host. */
  async downloadGrads(): Promise<Float32Array> {
    this.assertLive();
    return new Float32Array(await this.rt.read(this.grad.buffer, 0, this.total * 4));
  }

  private assertLive(): void {
    if (this.disposed) throw new Error(`${this.names.store} was disposed`);
  }

  /** Frees both flat buffers (after the GPU is done with them: call after a sync or readback). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const p of this.views.values()) {
      p.grad = null;
      p.dispose();
    }
    for (const g of this.gradViews.values()) g.dispose();
    this.data.dispose();
    this.grad.dispose();
  }
}

export class ParamStore extends FlatStore {
  readonly layout: ParamLayout;
  readonly config: GPTConfig;
  /** The parameter views by GPT-2 name as typed properties: `w.h[0].attn.c_attn.weight`, `w.wte.weight`. */
  readonly w: ParamTree<Tensor>;

  private constructor(rt: Runtime, layout: ParamLayout) {
    const maxBind = rt.limits.maxStorageBufferBindingSize;
    for (const e of layout.entries) {
      if (e.size * 4 > maxBind) {
        throw new Error(
          `parameter ${e.name} [${e.shape.join(', ')}] needs ${e.size * 4} bytes in one binding, more than this adapter's ` +
            `maxStorageBufferBindingSize (${maxBind}); use a smaller vocabulary or width on this adapter`,
        );
      }
    }
    super(rt, layout.total, layout.entries, { buffers: '', upload: 'parameter', store: 'the parameter store' });
    this.layout = layout;
    this.config = layout.config;
    this.w = paramTree(layout, (e) => this.views.get(e.name)!);
  }

  /**
   * Allocates the buffers and uploads `initial` (flat, layout order) or else GPT-2 initial
   * weights drawn from `seed`.
   */
  static create(config: GPTConfig, opts: { seed?: number; initial?: Float32Array; rt?: Runtime } = {}): ParamStore {
    const store = new ParamStore(opts.rt ?? runtime(), paramLayout(config));
    store.upload(opts.initial ?? initParams(store.layout, opts.seed ?? 0));
    return store;
  }

  /** A parameter by its GPT-2 name, e.g. `h.0.attn.c_attn.weight` (for names read from files; code uses `w`). */
  get(name: string): Tensor {
    const t = this.views.get(name);
    if (!t) paramSpec(this.layout, name); // throws with the list of names
    return t!;
  }

  /** Every parameter, in buffer order. */
  all(): Tensor[] {
    return [...this.views.values()];
  }
}
