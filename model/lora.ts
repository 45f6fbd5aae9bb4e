// LoRA (Hu et al. 2021), the host side: the `--lora` spec, which linear layers it adapts, the
// flat layout of the adapter tensors, their initialisation and the merge into the base weights.
// The GPU store and the forward term are model/lora-store.ts; the float64 reference with its
// backward is model/lora-reference.ts.
//
// An adapted linear layer computes y = x·W + b + scale·(x·A)·B with W [in, out] frozen,
// A [in, rank], B [rank, out], scale = alpha / rank. A starts Kaiming-uniform (PEFT's choice,
// bound 1/sqrt(in)), B at zero, so the adapted model at step 0 IS the base model. Only A and B
// (and a classification head, which the base does not have) train; their flat buffer is the
// optimizer's whole world, so the moments cost 2·4 bytes per adapter parameter only.
import { Rng } from '../engine/random.ts';
import type { GPTConfig } from './config.ts';
import { alignUp, paramLayout } from './layout.ts';

export interface LoraConfig {
  rank: number;
  alpha: number;
  /** Patterns over the linear layers' names (see loraTargets), as given. */
  targets: string[];
  /** Dropout on the adapter's input, train mode only. */
  dropout: number;
}

export const LORA_DEFAULTS: LoraConfig = { rank: 8, alpha: 16, targets: ['c_attn', 'c_proj', 'c_fc'], dropout: 0 };

/** The linear layers of a GPT-2 block (suffixes of `h.{l}.`), with their [in, out] shapes. */
export const LINEAR_LAYERS = {
  'attn.c_attn': (c: GPTConfig) => [c.nEmbd, 3 * c.nEmbd],
  'attn.c_proj': (c: GPTConfig) => [c.nEmbd, c.nEmbd],
  'mlp.c_fc': (c: GPTConfig) => [c.nEmbd, 4 * c.nEmbd],
  'mlp.c_proj': (c: GPTConfig) => [4 * c.nEmbd, c.nEmbd],
} as const satisfies Record<string, (c: GPTConfig) => number[]>;

const KEYS = ['rank', 'alpha', 'targets', 'dropout'] as const;

/**
 * `rank=8,alpha=16,targets=c_attn,c_proj,c_fc,dropout=0.05` → a LoraConfig (missing keys take
 * LORA_DEFAULTS). Commas separate both pairs and targets: a piece without `=` continues the
 * targets list. Throws an Error saying what is wrong with which piece.
 */
export function parseLora(spec: string): LoraConfig {
  const out: LoraConfig = { ...LORA_DEFAULTS, targets: [...LORA_DEFAULTS.targets] };
  let key: string | null = null;
  const seen = new Set<string>();
  for (const raw of spec.split(',')) {
    const piece = raw.trim();
    if (piece === '') throw new Error(`empty item in "${spec}" (expected rank=8,alpha=16,targets=c_attn,...)`);
    const eq = piece.indexOf('=');
    if (eq < 0) {
      if (key !== 'targets')
        throw new Error(`"${piece}" is not key=value (keys: ${KEYS.join(', ')}; targets list with commas last)`);
      out.targets.push(piece);
      continue;
    }
    key = piece.slice(0, eq).trim();
    const value = piece.slice(eq + 1).trim();
    if (!(KEYS as readonly string[]).includes(key)) throw new Error(`unknown key "${key}" (keys: ${KEYS.join(', ')})`);
    if (seen.has(key)) throw new Error(`key "${key}" given twice`);
    seen.add(key);
    if (key === 'targets') out.targets = value === '' ? [] : [value];
    else out[key as 'rank' | 'alpha' | 'dropout'] = number(key, value);
  }
  return checkLora(out);
}

function number(key: string, value: string): number {
  const n = value === '' ? NaN : Number(value);
  if (!Number.isFinite(n)) throw new Error(`${key} must be a number, got "${value}"`);
  return n;
}

/** Checks ranges (also of a config read back from a checkpoint). */
export function checkLora(c: LoraConfig): LoraConfig {
  if (!(Number.isInteger(c.rank) && c.rank >= 1)) throw new Error(`rank must be an integer >= 1, got ${c.rank}`);
  if (!(c.alpha > 0)) throw new Error(`alpha must be > 0, got ${c.alpha}`);
  if (!(c.dropout >= 0 && c.dropout < 1)) throw new Error(`dropout must be in [0, 1), got ${c.dropout}`);
  if (!Array.isArray(c.targets) || c.targets.length === 0)
    throw new Error('targets is empty (e.g. targets=c_attn,c_proj,c_fc)');
  for (const t of c.targets)
    if (!/^[A-Za-z0-9_.]+$/.test(t)) throw new Error(`target "${t}" is not a layer name (e.g. c_attn, attn.c_proj)`);
  return c;
}

export const loraScale = (c: LoraConfig): number => c.alpha / c.rank;

/**
 * The adapted layers' full names (`h.0.attn.c_attn`, ...) in model order. A target matches a
 * layer whose name is it or ends in `.<target>`: `c_proj` picks attn.c_proj and mlp.c_proj,
 * `mlp.c_proj` only the MLP's, `h.1.attn.c_attn` one layer. A target matching nothing is an error.
 */
export function loraTargets(config: GPTConfig, c: LoraConfig): string[] {
  const all: string[] = [];
  for (let l = 0; l < config.nLayer; l++) for (const s of Object.keys(LINEAR_LAYERS)) all.push(`h.${l}.${s}`);
  const picked = new Set<string>();
  for (const t of c.targets) {
    const hits = all.filter((n) => n === t || n.endsWith(`.${t}`));
    if (hits.length === 0)
      throw new Error(
        `target "${t}" matches no linear layer (GPT-2's are ${Object.keys(LINEAR_LAYERS).join(', ')} in h.0-${config.nLayer - 1}; c_attn, c_proj, c_fc match in every block)`,
      );
    for (const h of hits) picked.add(h);
  }
  return all.filter((n) => picked.has(n));
}

export interface LoraSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly offset: number;
  readonly size: number;
  readonly decay: boolean;
}

/** The adapters' flat buffer: what AdamW sees (model/optimizer.ts FlatLayout). */
export interface LoraLayout {
  readonly config: GPTConfig;
  readonly lora: LoraConfig;
  /** Adapted layers, model order. */
  readonly layers: readonly string[];
  readonly entries: readonly LoraSpec[];
  readonly byName: ReadonlyMap<string, LoraSpec>;
  readonly total: number;
  readonly decayEnd: number;
  /** Real parameters (without alignment gaps): the trainable count. */
  readonly count: number;
}

/**
 * `<layer>.lora_A` [in, rank] and `<layer>.lora_B` [rank, out] for each adapted layer, then the
 * classification head (`score.weight`, `score.bias`) when config.nClasses > 0: it is new, so it
 * trains with the adapters. Matrices first (weight-decayed, as in the model's layout).
 */
export function loraLayout(config: GPTConfig, c: LoraConfig): LoraLayout {
  const layers = loraTargets(config, c);
  const named: { name: string; shape: number[] }[] = [];
  for (const n of layers) {
    const [inp, out] = LINEAR_LAYERS[n.replace(/^h\.\d+\./, '') as keyof typeof LINEAR_LAYERS](config);
    named.push({ name: `${n}.lora_A`, shape: [inp!, c.rank] }, { name: `${n}.lora_B`, shape: [c.rank, out!] });
  }
  if ((config.nClasses ?? 0) > 0) {
    const head = paramLayout(config);
    for (const n of ['score.weight', 'score.bias']) named.push({ name: n, shape: [...head.byName.get(n)!.shape] });
  }
  const entries: LoraSpec[] = [];
  let offset = 0;
  let decayEnd = 0;
  let count = 0;
  for (const p of [...named.filter((p) => p.shape.length === 2), ...named.filter((p) => p.shape.length !== 2)]) {
    const size = p.shape.reduce((a, b) => a * b, 1);
    const decay = p.shape.length === 2;
    entries.push({ name: p.name, shape: p.shape, offset, size, decay });
    offset = alignUp(offset + size);
    count += size;
    if (decay) decayEnd = offset;
  }
  return {
    config,
    lora: c,
    layers,
    entries,
    byName: new Map(entries.map((e) => [e.name, e])),
    total: offset,
    decayEnd,
    count,
  };
}

/** FNV-1a of a name: each A its own stream, as layout.ts does for the base. */
function nameHash(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The adapters' first values: A uniform in ±1/sqrt(in) from the seeded Rng (kaiming_uniform with
 * a = sqrt(5), as PEFT), B zero, the head copied from the model's flat parameters.
 */
export function initLora(layout: LoraLayout, seed: number, modelParams: Float32Array): Float32Array {
  const out = new Float32Array(layout.total);
  const model = paramLayout(layout.config);
  for (const e of layout.entries) {
    const view = out.subarray(e.offset, e.offset + e.size);
    if (e.name.endsWith('.lora_A')) {
      const bound = 1 / Math.sqrt(e.shape[0]!);
      const rng = new Rng((seed ^ nameHash(e.name)) >>> 0);
      for (let i = 0; i < e.size; i++) view[i] = bound * (2 * rng.uniform() - 1);
    } else if (e.name.startsWith('score.')) {
      const s = model.byName.get(e.name)!;
      view.set(modelParams.subarray(s.offset, s.offset + s.size));
    }
  }
  return out;
}

/** One tensor of a flat adapter array (a view). */
export function loraView(layout: LoraLayout, flat: Float32Array, name: string): Float32Array {
  const e = layout.byName.get(name);
  if (!e) throw new Error(`no adapter tensor "${name}"`);
  return flat.subarray(e.offset, e.offset + e.size);
}

/**
 * The base weights with the adapters folded in: W += scale·A·B for each adapted layer (the
 * product accumulated in float64), the head replaced by the adapters' one. A new array.
 */
export function mergeLora(layout: LoraLayout, adapters: Float32Array, params: Float32Array): Float32Array {
  const model = paramLayout(layout.config);
  if (params.length !== model.total || adapters.length !== layout.total)
    throw new Error(
      `mergeLora: ${params.length}/${adapters.length} values for layouts of ${model.total}/${layout.total}`,
    );
  const out = params.slice();
  const r = layout.lora.rank;
  const scale = loraScale(layout.lora);
  for (const n of layout.layers) {
    const A = loraView(layout, adapters, `${n}.lora_A`);
    const B = loraView(layout, adapters, `${n}.lora_B`);
    const w = model.byName.get(`${n}.weight`)!;
    const [inp, outN] = w.shape as [number, number];
    const W = out.subarray(w.offset, w.offset + w.size);
    for (let i = 0; i < inp; i++)
      for (let j = 0; j < outN; j++) {
        let s = 0;
        for (let k = 0; k < r; k++) s += A[i * r + k]! * B[k * outN + j]!;
        W[i * outN + j] = W[i * outN + j]! + scale * s;
      }
  }
  for (const n of ['score.weight', 'score.bias']) {
    const e = layout.byName.get(n);
    if (e) out.set(adapters.subarray(e.offset, e.offset + e.size), model.byName.get(n)!.offset);
  }
  return out;
}

/** One line: `rank 8, alpha 16 (scale 2), dropout 0.05 on 6 layers (attn.c_attn, mlp.c_fc)`. */
export function describeLora(layout: LoraLayout): string {
  const c = layout.lora;
  const kinds = [...new Set(layout.layers.map((n) => n.replace(/^h\.\d+\./, '')))];
  return `rank ${c.rank}, alpha ${c.alpha} (scale ${loraScale(c)}), dropout ${c.dropout} on ${layout.layers.length} layers (${kinds.join(', ')})`;
}
