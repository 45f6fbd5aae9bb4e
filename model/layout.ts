// Where every parameter lives in the ONE flat parameter buffer, and how it is initialised.
//
// Pure host code (no GPU): the GPU parameter store (params.ts), the float64 reference model
// (reference.ts) and the checkpoint files (checkpoint.ts) all read the same layout, so an offset
// means the same tensor everywhere.
//
// Layout rules:
//  - names and shapes are Hugging Face GPT-2's (`wte.weight`, `h.0.attn.c_attn.weight`, ...);
//    Conv1D weights are [in, out], so the model computes x · W;
//  - every tensor starts at a multiple of PARAM_ALIGN floats (256 bytes), so a view binds directly
//    as a storage buffer on every adapter (minStorageBufferOffsetAlignment <= 256);
//  - weight-decayed tensors (the 2-D matrices, wte and wpe included) come first: the AdamW decay
//    mask is then the single index `decayEnd`;
//  - the gaps between tensors are zero and stay zero (their gradient is always zero).
import { Rng } from '../engine/random.ts';
import type { GPTConfig } from './config.ts';

/** Alignment of every tensor in the flat buffer, in floats (256 bytes). */
export const PARAM_ALIGN = 64;

export type InitKind = 'normal' | 'residual' | 'zeros' | 'ones' | 'embedding';

export interface ParamSpec {
  /** Hugging Face GPT-2 name, e.g. `h.3.mlp.c_fc.weight`. */
  readonly name: string;
  readonly shape: readonly number[];
  /** First element in the flat buffer (a multiple of PARAM_ALIGN). */
  readonly offset: number;
  readonly size: number;
  /** Gets AdamW weight decay (lies in [0, decayEnd)). */
  readonly decay: boolean;
  readonly init: InitKind;
}

export interface ParamLayout {
  readonly config: GPTConfig;
  /** In buffer order: decayed tensors first. */
  readonly entries: readonly ParamSpec[];
  readonly byName: ReadonlyMap<string, ParamSpec>;
  /** Length of the flat buffer in floats (a multiple of PARAM_ALIGN). */
  readonly total: number;
  /** Elements [0, decayEnd) are weight-decayed. */
  readonly decayEnd: number;
  /** Number of real parameters (without alignment gaps). */
  readonly count: number;
}

export const alignUp = (n: number, a = PARAM_ALIGN): number => Math.ceil(n / a) * a;

/** Per-layer tensor names (suffixes of `h.{i}.`) in model order. */
export const LAYER_TENSORS = [
  'ln_1.weight',
  'ln_1.bias',
  'attn.c_attn.weight',
  'attn.c_attn.bias',
  'attn.c_proj.weight',
  'attn.c_proj.bias',
  'ln_2.weight',
  'ln_2.bias',
  'mlp.c_fc.weight',
  'mlp.c_fc.bias',
  'mlp.c_proj.weight',
  'mlp.c_proj.bias',
] as const;
export type LayerTensor = (typeof LAYER_TENSORS)[number];

export function paramLayout(config: GPTConfig): ParamLayout {
  const C = config.nEmbd;
  const L = config.nLayer;
  type Proto = { name: string; shape: number[]; decay: boolean; init: InitKind };
  const decayed: Proto[] = [
    { name: 'wte.weight', shape: [config.paddedVocabSize, C], decay: true, init: 'embedding' },
    { name: 'wpe.weight', shape: [config.blockSize, C], decay: true, init: 'normal' },
  ];
  const plain: Proto[] = [];
  for (let i = 0; i < L; i++) {
    const h = `h.${i}.`;
    decayed.push(
      { name: `${h}attn.c_attn.weight`, shape: [C, 3 * C], decay: true, init: 'normal' },
      { name: `${h}attn.c_proj.weight`, shape: [C, C], decay: true, init: 'residual' },
      { name: `${h}mlp.c_fc.weight`, shape: [C, 4 * C], decay: true, init: 'normal' },
      { name: `${h}mlp.c_proj.weight`, shape: [4 * C, C], decay: true, init: 'residual' },
    );
    plain.push(
      { name: `${h}ln_1.weight`, shape: [C], decay: false, init: 'ones' },
      { name: `${h}ln_1.bias`, shape: [C], decay: false, init: 'zeros' },
      { name: `${h}attn.c_attn.bias`, shape: [3 * C], decay: false, init: 'zeros' },
      { name: `${h}attn.c_proj.bias`, shape: [C], decay: false, init: 'zeros' },
      { name: `${h}ln_2.weight`, shape: [C], decay: false, init: 'ones' },
      { name: `${h}ln_2.bias`, shape: [C], decay: false, init: 'zeros' },
      { name: `${h}mlp.c_fc.bias`, shape: [4 * C], decay: false, init: 'zeros' },
      { name: `${h}mlp.c_proj.bias`, shape: [C], decay: false, init: 'zeros' },
    );
  }
  plain.push(
    { name: 'ln_f.weight', shape: [C], decay: false, init: 'ones' },
    { name: 'ln_f.bias', shape: [C], decay: false, init: 'zeros' },
  );

  const entries: ParamSpec[] = [];
  let offset = 0;
  let decayEnd = 0;
  let count = 0;
  for (const p of [...decayed, ...plain]) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    entries.push({ ...p, offset, size });
    offset = alignUp(offset + size);
    count += size;
    if (p.decay) decayEnd = offset;
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  return { config, entries, byName, total: offset, decayEnd, count };
}

/** The spec of one tensor, with a clear error for an unknown name. */
export function paramSpec(layout: ParamLayout, name: string): ParamSpec {
  const s = layout.byName.get(name);
  if (!s)
    throw new Error(
      `no parameter named "${name}" in this model (e.g. ${layout.entries
        .slice(0, 3)
        .map((e) => e.name)
        .join(', ')}, ...)`,
    );
  return s;
}

/** 32-bit FNV-1a of a name: each tensor gets its own stream, independent of the layout order. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * GPT-2 initialisation into a new flat Float32Array: normal(0, 0.02) for the matrices and
 * embeddings, 0.02/sqrt(2·nLayer) for the residual projections (attn.c_proj, mlp.c_proj weights),
 * zero biases, unit layernorm weights, zero padded vocabulary rows. Drawn on the host from the
 * seeded Rng (one stream per tensor name), so a seed gives the same weights on every adapter.
 */
export function initParams(layout: ParamLayout, seed: number): Float32Array {
  const out = new Float32Array(layout.total);
  const std = 0.02;
  const residualStd = 0.02 / Math.sqrt(2 * layout.config.nLayer);
  for (const e of layout.entries) {
    const view = out.subarray(e.offset, e.offset + e.size);
    if (e.init === 'ones') view.fill(1);
    if (e.init === 'zeros') continue;
    if (e.init === 'normal' || e.init === 'residual' || e.init === 'embedding') {
      const s = e.init === 'residual' ? residualStd : std;
      const rng = new Rng((seed ^ nameHash(e.name)) >>> 0);
      // Padded vocabulary rows stay zero: they are never looked up and never predicted.
      const n = e.init === 'embedding' ? layout.config.vocabSize * layout.config.nEmbd : e.size;
      for (let i = 0; i < n; i++) view[i] = s * rng.normal();
    }
  }
  return out;
}

/** A tensor's elements of a flat host array (a view, no copy). */
export function hostView<T extends Float32Array | Float64Array>(flat: T, layout: ParamLayout, name: string): T {
  const s = paramSpec(layout, name);
  return flat.subarray(s.offset, s.offset + s.size) as T;
}
