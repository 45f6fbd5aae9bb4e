// A random small GPT-2 written in the Hugging Face layout by the tests themselves (independently of
// model/hf.ts): GPT2LMHeadModel's names, Conv1D [in, out] weights, the mask buffers older files
// carry, an optional lm_head, F32/F16/BF16 data. Values are multiples of 2^-7 below 2 in magnitude,
// exactly representable in all three dtypes, so every variant must import to the same f32 weights.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Rng } from '../../engine/random.ts';

export interface HfFixtureConfig {
  vocab: number;
  ctx: number;
  layers: number;
  heads: number;
  embd: number;
}

export const FIXTURE: HfFixtureConfig = { vocab: 37, ctx: 8, layers: 2, heads: 2, embd: 16 };

export interface HfFixtureOptions {
  dtype?: 'F32' | 'F16' | 'BF16' | 'I8';
  /** Write names with the `transformer.` prefix (default true). */
  prefix?: boolean;
  /** Write a (tied) lm_head.weight (default true); 'untied' writes a different one. */
  lmHead?: boolean | 'untied';
  /** Change the tensor list before writing (drop, rename, reshape). */
  edit?: (tensors: FixtureTensor[]) => void;
  config?: Record<string, unknown>;
  /** Model shape (default FIXTURE). */
  shape?: Partial<HfFixtureConfig>;
}

export interface FixtureTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** GPT2LMHeadModel's tensors (names without prefix), in the order transformers saves them. */
export function fixtureTensors(c: HfFixtureConfig = FIXTURE, seed = 1): FixtureTensor[] {
  const rng = new Rng(seed);
  const C = c.embd;
  const t = (name: string, shape: number[], base = 0): FixtureTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = Float32Array.from({ length: n }, () => base + Math.round(rng.normal() * 20) / 128);
    return { name, shape, data };
  };
  const out = [t('wte.weight', [c.vocab, C]), t('wpe.weight', [c.ctx, C])];
  for (let i = 0; i < c.layers; i++) {
    const h = `h.${i}.`;
    out.push(
      t(`${h}ln_1.weight`, [C], 1),
      t(`${h}ln_1.bias`, [C]),
      t(`${h}attn.c_attn.weight`, [C, 3 * C]),
      t(`${h}attn.c_attn.bias`, [3 * C]),
      t(`${h}attn.c_proj.weight`, [C, C]),
      t(`${h}attn.c_proj.bias`, [C]),
      t(`${h}ln_2.weight`, [C], 1),
      t(`${h}ln_2.bias`, [C]),
      t(`${h}mlp.c_fc.weight`, [C, 4 * C]),
      t(`${h}mlp.c_fc.bias`, [4 * C]),
      t(`${h}mlp.c_proj.weight`, [4 * C, C]),
      t(`${h}mlp.c_proj.bias`, [C]),
    );
  }
  out.push(t('ln_f.weight', [C], 1), t('ln_f.bias', [C]));
  return out;
}

/** f32 → f16 bits for values exactly representable as normal f16 numbers (or zero). */
function f16Bits(x: number): number {
  if (x === 0) return Object.is(x, -0) ? 0x8000 : 0;
  const s = x < 0 ? 0x8000 : 0;
  const a = Math.abs(x);
  const e = Math.floor(Math.log2(a));
  const m = Math.round((a / 2 ** e - 1) * 1024);
  return s | ((e + 15) << 10) | m;
}

function encode(data: Float32Array, dtype: string): Buffer {
  if (dtype === 'F32') return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  if (dtype === 'I8') return Buffer.from(Int8Array.from(data, (v) => Math.round(v)).buffer);
  const out = Buffer.alloc(data.length * 2);
  const bits = new Uint32Array(data.buffer, data.byteOffset, data.length);
  for (let i = 0; i < data.length; i++) out.writeUInt16LE(dtype === 'F16' ? f16Bits(data[i]!) : bits[i]! >>> 16, 2 * i);
  return out;
}

/** A safetensors file of the given tensors (all of one dtype). */
export function safetensorsBytes(tensors: FixtureTensor[], dtype: string, withMeta = true): Buffer {
  const header: Record<string, unknown> = withMeta ? { __metadata__: { format: 'pt' } } : {};
  const bodies: Buffer[] = [];
  let off = 0;
  for (const t of tensors) {
    const b = encode(t.data, dtype);
    header[t.name] = { dtype, shape: t.shape, data_offsets: [off, off + b.length] };
    bodies.push(b);
    off += b.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([len, json, ...bodies]);
}

export function hfConfigJson(c: HfFixtureConfig = FIXTURE): Record<string, unknown> {
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: c.vocab,
    n_positions: c.ctx,
    n_embd: c.embd,
    n_layer: c.layers,
    n_head: c.heads,
    activation_function: 'gelu_new',
    layer_norm_epsilon: 1e-5,
    n_inner: null,
  };
}

/** Writes config.json + model.safetensors into `dir`; returns the tensors (without prefix). */
export function writeHfFixture(dir: string, opts: HfFixtureOptions = {}): FixtureTensor[] {
  const c = { ...FIXTURE, ...opts.shape };
  const base = fixtureTensors(c);
  const tensors = base.map((t) => ({ ...t, name: (opts.prefix === false ? '' : 'transformer.') + t.name }));
  // Older files carry the causal mask as buffers.
  for (let i = 0; i < c.layers; i++) {
    const p = opts.prefix === false ? '' : 'transformer.';
    tensors.push({
      name: `${p}h.${i}.attn.bias`,
      shape: [1, 1, c.ctx, c.ctx],
      data: new Float32Array(c.ctx * c.ctx).fill(1),
    });
  }
  const head = opts.lmHead ?? true;
  if (head) {
    const data = Float32Array.from(base[0]!.data);
    if (head === 'untied') data[5]! += 1;
    tensors.push({ name: 'lm_head.weight', shape: base[0]!.shape, data });
  }
  opts.edit?.(tensors);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ ...hfConfigJson(c), ...opts.config }));
  fs.writeFileSync(path.join(dir, 'model.safetensors'), safetensorsBytes(tensors, opts.dtype ?? 'F32'));
  return base;
}
