// GPT-2 checkpoints in the Hugging Face layout (`config.json` of GPT2LMHeadModel +
// `model.safetensors`), in and out.
//
// The flat layout (layout.ts) already uses Hugging Face's names without the `transformer.` prefix
// and Conv1D's [in, out] orientation, so no tensor is transposed either way: import maps names,
// converts F16/BF16 to f32, and pads the vocabulary rows; export drops the padding and adds the
// prefix. What this model cannot compute (another activation, layer-norm epsilon, attention
// variant, untied head) is refused with one line rather than silently giving other outputs.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError, type CheckpointSidecar, type LoadedCheckpoint, type NamedTensor } from './checkpoint.ts';
import { padVocab, validateConfig, type GPTConfig } from './config.ts';
import { paramLayout, type ParamLayout } from './layout.ts';
import { readSafetensorsHeader, readTensorInto, writeSafetensors, type TensorEntry } from './safetensors.ts';
import type { GPT } from './gpt.ts';

/** How a path names a Hugging Face folder where a checkpoint is expected: `hf:<dir>`. */
export const HF_PREFIX = 'hf:';

/** The folder an `hf:<dir>` path names, or null for any other path. */
export function hfDirOf(path: string): string | null {
  return path.startsWith(HF_PREFIX) ? path.slice(HF_PREFIX.length) : null;
}
export const HF_CONFIG_FILE = 'config.json';
export const HF_WEIGHTS_FILE = 'model.safetensors';
/** This project's own tokenizer description, written beside an export so that import gets it back. */
export const HF_OWN_TOKENIZER_FILE = 'webgpu-gpt-tokenizer.json';
/** The layer-norm epsilon of the kernels (kernels/reference.ts layernormForward). */
export const LAYER_NORM_EPS = 1e-5;
/** GPT-2's vocabulary size: a folder with it gets the gpt2 tokenizer (train/tokenizers/gpt2.ts). */
const GPT2_VOCAB = 50257;
/** Activations that are GELU's tanh approximation, which is what the kernels compute. */
const TANH_GELUS = ['gelu_new', 'gelu_pytorch_tanh'];

/** The subset of GPT2Config this project reads and writes. */
export interface HfGpt2Config {
  model_type?: string;
  vocab_size?: number;
  n_positions?: number;
  n_ctx?: number;
  n_embd?: number;
  n_layer?: number;
  n_head?: number;
  n_inner?: number | null;
  activation_function?: string;
  layer_norm_epsilon?: number;
  tie_word_embeddings?: boolean;
  scale_attn_weights?: boolean;
  scale_attn_by_inverse_layer_idx?: boolean;
  add_cross_attention?: boolean;
  [key: string]: unknown;
}

function refuse(what: string, msg: string): never {
  throw new CheckpointError(`${what}: ${msg}`);
}

/** The model config of a GPT2Config, or a one-line refusal naming the field this model cannot run. */
export function hfConfigToGpt(hf: HfGpt2Config, what = HF_CONFIG_FILE): GPTConfig {
  if (hf.model_type !== 'gpt2')
    refuse(what, `model_type is ${JSON.stringify(hf.model_type)}; only GPT-2 ("gpt2") checkpoints can be imported`);
  const act = hf.activation_function ?? 'gelu_new';
  if (!TANH_GELUS.includes(act))
    refuse(
      what,
      `activation_function ${JSON.stringify(act)} is not supported (this model computes gelu_new, GELU's tanh form)`,
    );
  const eps = hf.layer_norm_epsilon ?? LAYER_NORM_EPS;
  if (eps !== LAYER_NORM_EPS)
    refuse(what, `layer_norm_epsilon ${eps} is not supported (this model uses ${LAYER_NORM_EPS})`);
  const C = hf.n_embd;
  if (hf.n_inner != null && hf.n_inner !== 4 * (C ?? 0))
    refuse(what, `n_inner ${hf.n_inner} is not supported (only 4 * n_embd)`);
  if (hf.tie_word_embeddings === false) refuse(what, 'tie_word_embeddings false is not supported (the LM head is wte)');
  if (hf.scale_attn_weights === false) refuse(what, 'scale_attn_weights false is not supported');
  if (hf.scale_attn_by_inverse_layer_idx) refuse(what, 'scale_attn_by_inverse_layer_idx is not supported');
  if (hf.add_cross_attention) refuse(what, 'add_cross_attention is not supported');
  const vocabSize = hf.vocab_size as number;
  try {
    return validateConfig({
      vocabSize,
      paddedVocabSize: Number.isInteger(vocabSize) ? padVocab(vocabSize) : vocabSize,
      blockSize: (hf.n_positions ?? hf.n_ctx) as number,
      nLayer: hf.n_layer as number,
      nHead: hf.n_head as number,
      nEmbd: C as number,
      // Inference by default; fine-tuning sets its own dropout.
      dropout: 0,
    });
  } catch (e) {
    refuse(what, (e as Error).message);
  }
}

/** A GPT2Config for `config` that transformers' GPT2LMHeadModel loads. */
export function gptConfigToHf(config: GPTConfig, eotId?: number): HfGpt2Config {
  const eot = eotId ?? config.vocabSize - 1;
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    vocab_size: config.vocabSize,
    n_positions: config.blockSize,
    n_ctx: config.blockSize,
    n_embd: config.nEmbd,
    n_layer: config.nLayer,
    n_head: config.nHead,
    n_inner: null,
    activation_function: 'gelu_new',
    layer_norm_epsilon: LAYER_NORM_EPS,
    resid_pdrop: config.dropout,
    embd_pdrop: config.dropout,
    attn_pdrop: 0,
    initializer_range: 0.02,
    scale_attn_weights: true,
    tie_word_embeddings: true,
    use_cache: true,
    bos_token_id: eot,
    eos_token_id: eot,
    torch_dtype: 'float32',
  };
}

/** Tensors that GPT2LMHeadModel files carry but that are not parameters (causal-mask buffers). */
const BUFFERS = /(^|\.)attn\.(bias|masked_bias)$/;

/** Our name for a file's tensor name, null for an ignored buffer; throws for anything unknown. */
function ourName(layout: ParamLayout, name: string, what: string): string | null {
  if (BUFFERS.test(name)) return null;
  if (name === 'lm_head.weight') return name;
  const n = name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
  if (!layout.byName.has(n)) refuse(what, `unexpected tensor "${name}" (not a GPT-2 parameter of this config)`);
  return n;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The file's entry for each of our parameter names (+ lm_head.weight), checked against the layout. */
function matchTensors(layout: ParamLayout, tensors: Map<string, TensorEntry>, what: string): Map<string, TensorEntry> {
  const byOurs = new Map<string, TensorEntry>();
  for (const [name, t] of tensors) {
    const n = ourName(layout, name, what);
    if (n === null) continue;
    if (byOurs.has(n)) refuse(what, `tensor "${n}" appears twice (with and without the transformer. prefix)`);
    byOurs.set(n, t);
  }
  const { vocabSize: V, nEmbd: C } = layout.config;
  for (const e of layout.entries) {
    const t = byOurs.get(e.name);
    if (!t) refuse(what, `tensor "${e.name}" is missing`);
    const want = e.name === 'wte.weight' ? [V, C] : e.shape;
    if (!sameShape(t.shape, want))
      refuse(what, `tensor "${e.name}" has shape [${t.shape.join(', ')}], config.json implies [${want.join(', ')}]`);
  }
  const head = byOurs.get('lm_head.weight');
  if (head && !sameShape(head.shape, [V, C]))
    refuse(what, `lm_head.weight has shape [${head.shape.join(', ')}], expected [${V}, ${C}]`);
  return byOurs;
}

/** Refuses an lm_head that is not wte (this model ties them); compares in chunks of rows. */
function checkTiedHead(fd: number, head: TensorEntry, wte: Float32Array, C: number, what: string): void {
  const rows = Math.max(1, Math.floor((1 << 20) / C));
  const V = head.shape[0]!;
  const bytes = head.end - head.begin;
  for (let r = 0; r < V; r += rows) {
    const n = Math.min(rows, V - r);
    const per = bytes / V;
    const part = { ...head, shape: [n, C], begin: head.begin + r * per, end: head.begin + (r + n) * per };
    const buf = new Float32Array(n * C);
    readTensorInto(fd, part, buf, what);
    for (let i = 0; i < buf.length; i++)
      if (buf[i] !== wte[r * C + i] && !(Number.isNaN(buf[i]) && Number.isNaN(wte[r * C + i])))
        refuse(what, 'lm_head.weight differs from transformer.wte.weight (an untied head is not supported)');
  }
}

export interface HfCheckpoint {
  config: GPTConfig;
  layout: ParamLayout;
  params: Float32Array;
  hfConfig: HfGpt2Config;
  /** Dtypes found in the file (e.g. ['F16']). */
  dtypes: string[];
}

function readHfConfig(dir: string): HfGpt2Config {
  const file = path.join(dir, HF_CONFIG_FILE);
  if (!fs.existsSync(dir)) throw new CheckpointError(`${dir}: no such folder`);
  if (!fs.existsSync(file)) throw new CheckpointError(`${dir}: no ${HF_CONFIG_FILE} (not a Hugging Face model folder)`);
  try {
    const json = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
    if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new Error('not a JSON object');
    return json as HfGpt2Config;
  } catch (e) {
    throw new CheckpointError(`${file}: ${(e as Error).message}`);
  }
}

/**
 * Reads a Hugging Face GPT-2 folder into this project's flat parameters. Streaming: the header is
 * parsed alone, then each tensor is read from its byte range into its slot of the flat array.
 */
export function readHfCheckpoint(dir: string): HfCheckpoint {
  const hfConfig = readHfConfig(dir);
  const config = hfConfigToGpt(hfConfig, path.join(dir, HF_CONFIG_FILE));
  const layout = paramLayout(config);
  const file = path.join(dir, HF_WEIGHTS_FILE);
  if (!fs.existsSync(file))
    throw new CheckpointError(`${dir}: no ${HF_WEIGHTS_FILE} (only safetensors weights can be imported)`);
  const fd = fs.openSync(file, 'r');
  try {
    const header = readSafetensorsHeader(fd, file);
    const byOurs = matchTensors(layout, header.tensors, file);
    const params = new Float32Array(layout.total);
    for (const e of layout.entries) {
      const t = byOurs.get(e.name)!;
      const n = t.shape.reduce((a, b) => a * b, 1); // wte: the un-padded rows; the rest stay zero
      readTensorInto(fd, t, params.subarray(e.offset, e.offset + n), file);
    }
    const head = byOurs.get('lm_head.weight');
    const wte = layout.byName.get('wte.weight')!;
    if (head) checkTiedHead(fd, head, params.subarray(wte.offset, wte.offset + wte.size), config.nEmbd, file);
    const dtypes = [...new Set([...byOurs.values()].map((t) => t.dtype))];
    return { config, layout, params, hfConfig, dtypes };
  } finally {
    fs.closeSync(fd);
  }
}

/** The parameters as GPT2LMHeadModel's named tensors: `transformer.` names, un-padded wte, no lm_head. */
export function hfTensors(layout: ParamLayout, params: Float32Array): NamedTensor[] {
  if (params.length !== layout.total)
    throw new Error(`hf: ${params.length} parameters for a layout of ${layout.total}`);
  const { vocabSize: V, nEmbd: C } = layout.config;
  return layout.entries.map((e) => {
    const shape = e.name === 'wte.weight' ? [V, C] : e.shape;
    const n = shape.reduce((a, b) => a * b, 1);
    return { name: `transformer.${e.name}`, shape, data: params.subarray(e.offset, e.offset + n) };
  });
}

/** Writes config.json and model.safetensors into an existing folder. */
export function writeHfModel(dir: string, config: GPTConfig, params: Float32Array, eotId?: number): void {
  const layout = paramLayout(validateConfig({ ...config }));
  fs.writeFileSync(path.join(dir, HF_CONFIG_FILE), JSON.stringify(gptConfigToHf(config, eotId), null, 2) + '\n');
  writeSafetensors(path.join(dir, HF_WEIGHTS_FILE), hfTensors(layout, params), { format: 'pt' });
}

/** The size and sha256 of a folder's model.safetensors, read in chunks (a 124M file is ~500 MB). */
export function hfWeightsInfo(dir: string): { bytes: number; sha256: string } {
  const file = path.join(dir, HF_WEIGHTS_FILE);
  const hash = createHash('sha256');
  const buf = Buffer.alloc(1 << 24);
  const fd = fs.openSync(file, 'r');
  let bytes = 0;
  try {
    for (let n; (n = fs.readSync(fd, buf, 0, buf.length, null)) > 0; bytes += n) hash.update(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/**
 * A Hugging Face folder as a LoadedCheckpoint (step 0, the gpt2 tokenizer when the vocabulary is
 * GPT-2's), so that code taking checkpoints (generate, eval) takes it unchanged. `checksum` also
 * lists model.safetensors with its sha256 in the sidecar, as a checkpoint of this project does, for
 * whoever must name this base (fine-tuning's origin, LoRA adapters); it costs one more read.
 */
export function hfAsCheckpoint(dir: string, opts: { checksum?: boolean } = {}): LoadedCheckpoint {
  const hf = readHfCheckpoint(dir);
  const own = path.join(dir, HF_OWN_TOKENIZER_FILE);
  let tokenizer: unknown;
  if (fs.existsSync(own)) {
    try {
      tokenizer = { json: JSON.parse(fs.readFileSync(own, 'utf8')) as unknown };
    } catch (e) {
      throw new CheckpointError(`${own}: ${(e as Error).message}`);
    }
  } else if (hf.config.vocabSize === GPT2_VOCAB) tokenizer = { id: 'gpt2', json: { type: 'gpt2', version: 1 } };
  const meta = { step: 0, config: hf.config, tokenizer };
  const sidecar = {
    ...meta,
    format: 'webgpu-gpt-checkpoint',
    version: 1,
    createdAt: new Date().toISOString(),
    optimizer: null,
    files: (opts.checksum ? { [HF_WEIGHTS_FILE]: hfWeightsInfo(dir) } : {}) as CheckpointSidecar['files'],
  } satisfies CheckpointSidecar;
  return { path: path.resolve(dir), sidecar, layout: hf.layout, meta, params: hf.params, optimizer: null };
}

/** A model on the GPU from a Hugging Face folder, in eval mode (as checkpoint.ts loadModel). */
export async function loadHfModel(dir: string): Promise<{ model: GPT; checkpoint: LoadedCheckpoint }> {
  const checkpoint = hfAsCheckpoint(dir);
  const { GPT } = await import('./gpt.ts');
  const model = GPT.fromParams(checkpoint.meta.config, checkpoint.params).eval();
  return { model, checkpoint };
}
