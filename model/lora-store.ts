// LoRA on the GPU: the adapters' own flat parameter and gradient buffers (model/lora.ts layout),
// a view per tensor marked as a parameter, and the term each adapted linear layer adds to its
// output, composed from engine ops that have a backward (linear, mulScalar, add; dropout):
//   y = x·W + b + (scale · drop(x)·A)·B
// Attached to a GPT (`model.attachAdapters`), it makes the base weights stop requiring grad, so
// backward computes no weight gradient of a frozen matrix (only the input gradients it passes on).
// It has the `rt, n, data, grad, layout` an AdamW needs: the optimizer is built over this store.
import { add, keep, linear, mulScalar, runtime, type Runtime, type Tensor } from '../engine/index.ts';
import type { Dropper, GPT, LinearAdapters } from './gpt.ts';
import { initLora, loraLayout, loraScale, type LoraConfig, type LoraLayout } from './lora.ts';
import { flatBuffer, zeroFlat } from './params.ts';

/** The base checkpoint adapters belong to: its path and the sha256 of its weights file. */
export interface LoraBase {
  path: string;
  sha256: string;
}

export class LoraAdapters implements LinearAdapters {
  readonly layout: LoraLayout;
  readonly data: Tensor;
  readonly grad: Tensor;
  readonly scale: number;
  readonly dropout: number;
  readonly score?: { weight: Tensor; bias: Tensor };
  private readonly views = new Map<string, Tensor>();
  private readonly gradViews = new Map<string, Tensor>();
  private disposed = false;

  private constructor(
    readonly rt: Runtime,
    layout: LoraLayout,
    readonly base: LoraBase | null,
  ) {
    this.layout = layout;
    this.scale = loraScale(layout.lora);
    this.dropout = layout.lora.dropout;
    this.data = flatBuffer(rt, layout.total, 'lora-params');
    this.grad = flatBuffer(rt, layout.total, 'lora-grads');
    for (const e of layout.entries) {
      const p = this.data.view([...e.shape], e.offset).param(e.name);
      const g = keep(this.grad.view([...e.shape], e.offset));
      g.name = `grad(${e.name})`;
      p.grad = g;
      this.views.set(e.name, p);
      this.gradViews.set(e.name, g);
    }
    if (this.views.has('score.weight'))
      this.score = { weight: this.views.get('score.weight')!, bias: this.views.get('score.bias')! };
  }

  /**
   * Adapters for `model` (its config picks the layers and whether there is a head), with `initial`
   * values (flat, lora layout) or fresh ones: A seeded, B zero, the head copied from `modelParams`.
   */
  static create(
    config: Parameters<typeof loraLayout>[0],
    lora: LoraConfig,
    o: { seed?: number; initial?: Float32Array; modelParams?: Float32Array; base?: LoraBase | null; rt?: Runtime },
  ): LoraAdapters {
    const layout = loraLayout(config, lora);
    const store = new LoraAdapters(o.rt ?? runtime(), layout, o.base ?? null);
    if (!o.initial && !o.modelParams)
      throw new Error('LoraAdapters.create: pass initial values or the model parameters');
    store.upload(o.initial ?? initLora(layout, o.seed ?? 0, o.modelParams!));
    return store;
  }

  /** Elements of the flat buffers (the optimizer's n). */
  get n(): number {
    return this.layout.total;
  }

  /** Trainable parameters (without alignment gaps). */
  get count(): number {
    return this.layout.count;
  }

  has(name: string): boolean {
    return this.views.has(`${name}.lora_A`);
  }

  get(name: string): Tensor {
    const t = this.views.get(name);
    if (!t) throw new Error(`no adapter tensor "${name}" (e.g. ${this.layout.entries[0]?.name})`);
    return t;
  }

  /** out + scale·(drop(x)·A)·B for layer `name`; out itself where the layer has no adapter. */
  adapt(name: string, x: Tensor, out: Tensor, drop: Dropper): Tensor {
    const A = this.views.get(`${name}.lora_A`);
    if (!A) return out;
    // The scale on the rank-wide intermediate: an elementwise pass over [..., rank], not [..., out].
    const low = mulScalar(linear(drop(x), A), this.scale); // [..., rank]
    return add(out, linear(low, this.views.get(`${name}.lora_B`)!));
  }

  /** Records a zero fill of the adapters' gradients (re-attaching any `.grad` that was dropped). */
  zeroGrads(): void {
    this.assertLive();
    for (const [name, p] of this.views) {
      let g = this.gradViews.get(name)!;
      if (g.disposed) {
        g = keep(this.grad.view(p.shape, g.offset));
        this.gradViews.set(name, g);
      }
      if (p.grad !== g) {
        p.grad?.dispose();
        p.grad = g;
      }
    }
    zeroFlat(this.rt, this.grad, this.layout.total);
  }

  upload(flat: Float32Array): void {
    this.assertLive();
    if (flat.length !== this.layout.total)
      throw new Error(`adapter upload: ${flat.length} values for a flat buffer of ${this.layout.total}`);
    this.rt.write(this.data.buffer, 0, flat);
  }

  async download(): Promise<Float32Array> {
    this.assertLive();
    return new Float32Array(await this.rt.read(this.data.buffer, 0, this.layout.total * 4));
  }

  async downloadGrads(): Promise<Float32Array> {
    this.assertLive();
    return new Float32Array(await this.rt.read(this.grad.buffer, 0, this.layout.total * 4));
  }

  private assertLive(): void {
    if (this.disposed) throw new Error('the LoRA adapters were disposed');
  }

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

/** Fresh adapters for a model (its current weights give the head), attached to it. */
export async function addLora(
  model: GPT,
  lora: LoraConfig,
  o: { seed?: number; base?: LoraBase | null } = {},
): Promise<LoraAdapters> {
  const modelParams = await model.params.download();
  const a = LoraAdapters.create(model.config, lora, { ...o, modelParams, rt: model.params.rt });
  model.attachAdapters(a);
  return a;
}
