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

interface Proto {
  shape: (c: GPTConfig) => number[];
  init: InitKind;
}

/**
 * The tensors before the blocks, of one block (names after `h.{i}.`) and after the blocks, in
 * model order. Every name, the typed views (ParamTree) and the layout come from these tables.
 */
const EMBED = {
  'wte.weight': { shape: (c) => [c.paddedVocabSize, c.nEmbd], init: 'embedding' },
  'wpe.weight': { shape: (c) => [c.blockSize, c.nEmbd], init: 'normal' },
} as const satisfies Record<string, Proto>;
const FINAL = {
  'ln_f.weight': { shape: (c) => [c.nEmbd], init: 'ones' },
  'ln_f.bias': { shape: (c) => [c.nEmbd], init: 'zeros' },
} as const satisfies Record<string, Proto>;
const LAYER = {
  'ln_1.weight': { shape: (c) => [c.nEmbd], init: 'ones' },
  'ln_1.bias': { shape: (c) => [c.nEmbd], init: 'zeros' },
  'attn.c_attn.weight': { shape: (c) => [c.nEmbd, 3 * c.nEmbd], init: 'normal' },
  'attn.c_attn.bias': { shape: (c) => [3 * c.nEmbd], init: 'zeros' },
  'attn.c_proj.weight': { shape: (c) => [c.nEmbd, c.nEmbd], init: 'residual' },
  'attn.c_proj.bias': { shape: (c) => [c.nEmbd], init: 'zeros' },
  'ln_2.weight': { shape: (c) => [c.nEmbd], init: 'ones' },
  'ln_2.bias': { shape: (c) => [c.nEmbd], init: 'zeros' },
  'mlp.c_fc.weight': { shape: (c) => [c.nEmbd, 4 * c.nEmbd], init: 'normal' },
  'mlp.c_fc.bias': { shape: (c) => [4 * c.nEmbd], init: 'zeros' },
  'mlp.c_proj.weight': { shape: (c) => [4 * c.nEmbd, c.nEmbd], init: 'residual' },
  'mlp.c_proj.bias': { shape: (c) => [c.nEmbd], init: 'zeros' },
} as const satisfies Record<string, Proto>;

/** The classification head, only when config.nClasses > 0 (model order: after ln_f). */
const HEAD = {
  'score.weight': { shape: (c) => [c.nClasses ?? 0, c.nEmbd], init: 'normal' },
  'score.bias': { shape: (c) => [c.nClasses ?? 0], init: 'zeros' },
} as const satisfies Record<string, Proto>;

export type GlobalTensor = keyof typeof EMBED | keyof typeof FINAL;
export type LayerTensor = keyof typeof LAYER;
/** Per-layer tensor names (suffixes of `h.{i}.`) in model order. */
export const LAYER_TENSORS = Object.keys(LAYER) as LayerTensor[];

// Dotted names → nested objects, at the type level: Tree<'ln_1.weight' | 'ln_1.bias', T> is
// { ln_1: { weight: T; bias: T } }, so a misspelled name is a compile error.
type Head<P extends string> = P extends `${infer H}.${string}` ? H : P;
type Rest<P extends string, H extends string> = P extends `${H}.${infer R}` ? R : never;
type Tree<P extends string, T> = {
  readonly [H in Head<P>]: [Rest<P, H>] extends [never] ? T : Tree<Rest<P, H>, T>;
};

/** One block's tensors by their GPT-2 names: `ln_1.weight`, `attn.c_attn.bias`, ... */
export type LayerParams<T> = Tree<LayerTensor, T>;
/** Every tensor by its GPT-2 name: `wte.weight`, `h[3].mlp.c_fc.weight`, `ln_f.bias`. */
export type ParamTree<T> = Tree<GlobalTensor, T> & {
  readonly h: readonly LayerParams<T>[];
  /** The classification head (config.nClasses > 0), else absent. */
  readonly score?: Tree<'weight' | 'bias', T>;
};

export function paramLayout(config: GPTConfig): ParamLayout {
  type Named = { name: string; shape: number[]; init: InitKind };
  const named = (table: Record<string, Proto>, prefix = ''): Named[] =>
    Object.entries(table).map(([n, p]) => ({ name: prefix + n, shape: p.shape(config), init: p.init }));
  const protos = named(EMBED);
  for (let i = 0; i < config.nLayer; i++) protos.push(...named(LAYER, `h.${i}.`));
  protos.push(...named(FINAL));
  if ((config.nClasses ?? 0) > 0) protos.push(...named(HEAD));
  // The 2-D matrices (wte and wpe included) are weight-decayed and go first, each group in model order.
  const isDecayed = (p: Named) => p.shape.length === 2;
  const entries: ParamSpec[] = [];
  let offset = 0;
  let decayEnd = 0;
  let count = 0;
  for (const p of [...protos.filter(isDecayed), ...protos.filter((p) => !isDecayed(p))]) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    entries.push({ name: p.name, shape: p.shape, decay: isDecayed(p), init: p.init, offset, size });
    offset = alignUp(offset + size);
    count += size;
    if (isDecayed(p)) decayEnd = offset;
  }
  const byName = new Map(entries.map((e) => [e.name, e]));
  return { config, entries, byName, total: offset, decayEnd, count };
}

/**
 * The layout's tensors as nested objects named like GPT-2's (`tree.h[l].attn.c_attn.weight`),
 * each leaf made by `leaf` once: typed views for code, where a string name is checked only at run
 * time.
 */
export function paramTree<T>(layout: ParamLayout, leaf: (spec: ParamSpec) => T): ParamTree<T> {
  const root: Record<string, unknown> = { h: Array.from({ length: layout.config.nLayer }, () => ({})) };
  for (const e of layout.entries) {
    const m = /^h\.(\d+)\.(.*)$/.exec(e.name);
    let node = (m ? (root.h as Record<string, unknown>[])[Number(m[1])]! : root) as Record<string, unknown>;
    const path = (m ? m[2]! : e.name).split('.');
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = leaf(e);
  }
  return root as unknown as ParamTree<T>;
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
