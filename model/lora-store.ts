// LoRA on the GPU: the adapters' own flat parameter and gradient buffers (model/lora.ts layout),
// a view per tensor marked as a parameter, and the term each adapted linear layer adds to its
// output, composed from engine ops that have a backward (linear, mulScalar, add; dropout):
//   y = x·W + b + (scale · drop(x)·A)·B
// Attached to a GPT (`model.attachAdapters`), it makes the base weights stop requiring grad, so
// backward computes no weight gradient of a frozen matrix (only the input gradients it passes on).
// It has the `rt, n, data, grad, layout` an AdamW needs: the optimizer is built over this store.
import { add, linear, mulScalar, runtime, type Runtime, type Tensor } from '../engine/index.ts';
import type { Dropper, GPT, LinearAdapters } from './gpt.ts';
import { initLora, loraLayout, loraScale, type LoraConfig, type LoraLayout } from './lora.ts';
import { FlatStore } from './params.ts';

/** The base checkpoint adapters belong to: its path and the sha256 of its weights file. */
export interface LoraBase {
  path: string;
  sha256: string;
}

export class LoraAdapters extends FlatStore implements LinearAdapters {
  readonly layout: LoraLayout;
  readonly scale: number;
  readonly dropout: number;
  readonly score?: { weight: Tensor; bias: Tensor };

  private constructor(
    rt: Runtime,
    layout: LoraLayout,
    readonly base: LoraBase | null,
  ) {
    super(rt, layout.total, layout.entries, { buffers: 'lora-', upload: 'adapter', store: 'the LoRA adapters' });
    this.layout = layout;
    this.scale = loraScale(layout.lora);
    this.dropout = layout.lora.dropout;
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
