// Checkpoints: weights as safetensors (GPT-2 tensor names), optimizer moments as a second
// safetensors file, and a JSON sidecar with the resolved config, tokenizer, step, RNG state, data
// position and the sha256 of both files.
//
// On disk, one directory per checkpoint:
//   <dir>/ckpt-00001000/model.safetensors       every parameter by its GPT-2 name, F32
//   <dir>/ckpt-00001000/optimizer.safetensors   `optimizer.m`, `optimizer.v` (flat, layout order)
//   <dir>/ckpt-00001000/checkpoint.json         the sidecar, written last
// A checkpoint is written into a temporary directory (every file fsynced), which is then renamed
// into place: a crash leaves either the whole new checkpoint or none. The last `keep` are kept.
// Loading verifies sizes and checksums; a corrupt or truncated checkpoint is a CheckpointError
// that says which file and why, and loadLatestCheckpoint falls back to the previous one.
//
// A LoRA run's checkpoint stores its adapters apart from the base it adapts:
//   <dir>/ckpt-00001000/adapters.safetensors    `h.0.attn.c_attn.lora_A`, ..., the head if any
//   <dir>/ckpt-00001000/optimizer.safetensors   the adapters' moments only
//   <dir>/ckpt-00001000/checkpoint.json         + `lora`: the LoRA config and the base checkpoint's
//                                               path and the sha256 of its model.safetensors
// Reading one reads the base, checks that checksum ("adapters belong to base X (sha256 ...), got
// ..."), and returns the base weights as `params` with the adapters beside them (`lora`). The base
// may also be a Hugging Face folder, recorded as `hf:<abs dir>` (model/hf.ts).
//
// The safetensors format (written by hand): an 8-byte little-endian header length N, N bytes of
// JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}
// (padded with spaces to a multiple of 8), then the raw little-endian tensor bytes.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { validateConfig, type GPTConfig } from './config.ts';
import { paramLayout, type ParamLayout } from './layout.ts';
import { hfAsCheckpoint, hfDirOf } from './hf.ts';
import { checkLora, loraLayout, type LoraConfig, type LoraLayout } from './lora.ts';
import type { LoraAdapters, LoraBase } from './lora-store.ts';
import type { AdamW, AdamWConfig, OptimizerState } from './optimizer.ts';
import type { GPT } from './gpt.ts';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
}

/**
 * A LoRA checkpoint whose base is gone or is not the one its adapters were trained on. Every
 * checkpoint of the run shares the base, so loading does not fall back to an older one.
 */
export class LoraBaseError extends CheckpointError {
  override name = 'LoraBaseError';
}

// ---- safetensors ---------------------------------------------------------------------------

export interface NamedTensor {
  name: string;
  shape: readonly number[];
  data: Float32Array;
}

export interface SafetensorsContents {
  tensors: Map<string, { dtype: string; shape: number[]; data: Float32Array }>;
  metadata: Record<string, string>;
}

function headerBytes(tensors: readonly NamedTensor[], metadata: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length)
      throw new Error(`safetensors: ${t.name} has ${t.data.length} values for shape [${t.shape.join(', ')}]`);
    if (t.name in header) throw new Error(`safetensors: duplicate tensor name ${t.name}`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + n * 4] };
    offset += n * 4;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const body = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(body.length), true);
  out.set(body, 8);
  return out;
}

function bytesOf(a: Float32Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The whole file in memory (small models, tests). */
export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const parts = [headerBytes(tensors, metadata), ...tensors.map((t) => bytesOf(t.data))];
  return Buffer.concat(parts);
}

/** Parses a safetensors file, with a clear error for anything truncated or malformed. */
export function decodeSafetensors(buf: Uint8Array, what = 'safetensors file'): SafetensorsContents {
  if (buf.length < 8)
    throw new CheckpointError(`${what}: truncated (${buf.length} bytes, not even the 8-byte header length)`);
  const n = new DataView(buf.buffer, buf.byteOffset, buf.byteLength).getBigUint64(0, true);
  if (n > BigInt(buf.length - 8))
    throw new CheckpointError(`${what}: truncated or corrupt (header length ${n} > ${buf.length - 8} bytes left)`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, Number(n)).toString('utf8')) as Record<
      string,
      unknown
    >;
  } catch (e) {
    throw new CheckpointError(`${what}: corrupt header (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new CheckpointError(`${what}: header is not a JSON object`);
  const dataStart = 8 + Number(n);
  const dataLen = buf.length - dataStart;
  const tensors: SafetensorsContents['tensors'] = new Map();
  let metadata: Record<string, string> = {};
  let maxEnd = 0;
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = (info ?? {}) as Record<string, string>;
      continue;
    }
    const t = info as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (t.dtype !== 'F32')
      throw new CheckpointError(`${what}: tensor ${name} has dtype ${String(t.dtype)}; only F32 is supported`);
    const shape = t.shape;
    const offs = t.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new CheckpointError(`${what}: tensor ${name} has an invalid shape`);
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0))
      throw new CheckpointError(`${what}: tensor ${name} has invalid data_offsets`);
    const [begin, end] = offs as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end - begin !== count * 4)
      throw new CheckpointError(
        `${what}: tensor ${name} spans ${end - begin} bytes, its shape [${shape.join(', ')}] needs ${count * 4}`,
      );
    if (end > dataLen)
      throw new CheckpointError(
        `${what}: truncated (tensor ${name} ends at byte ${end} of the data, which has only ${dataLen})`,
      );
    // Copy: the file's bytes need not be 4-byte aligned in memory.
    const data = new Float32Array(count);
    bytesOf(data).set(buf.subarray(dataStart + begin, dataStart + end));
    tensors.set(name, { dtype: 'F32', shape: shape as number[], data });
    maxEnd = Math.max(maxEnd, end);
  }
  if (maxEnd !== dataLen)
    throw new CheckpointError(`${what}: ${dataLen - maxEnd} bytes after the last tensor (corrupt file)`);
  return { tensors, metadata };
}

// ---- parameters <-> named tensors ------------------------------------------------------------

/** The flat parameters as named tensors (GPT-2 names, wte with its padded rows). */
export function paramsToTensors(layout: ParamLayout, flat: Float32Array): NamedTensor[] {
  if (flat.length !== layout.total)
    throw new Error(`checkpoint: ${flat.length} parameters for a layout of ${layout.total}`);
  return layout.entries.map((e) => ({
    name: e.name,
    shape: e.shape,
    data: flat.subarray(e.offset, e.offset + e.size),
  }));
}

/** Hugging Face buffers that are not parameters (the causal mask), and the untied head copy. */
const IGNORED = [/\.attn\.bias$/, /\.attn\.masked_bias$/, /^lm_head\.weight$/];

/**
 * Named tensors → the flat layout. Accepts our files and Hugging Face GPT-2 ones (optional
 * `transformer.` prefix, wte of [vocabSize, C] padded with zero rows, the mask buffers ignored).
 */
export function tensorsToParams(
  layout: ParamLayout,
  tensors: SafetensorsContents['tensors'],
  what = 'checkpoint',
): Float32Array {
  const flat = new Float32Array(layout.total);
  const byName = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const [name, t] of tensors) {
    const n = name.startsWith('transformer.') ? name.slice('transformer.'.length) : name;
    if (layout.byName.has(n)) byName.set(n, t);
    else if (!IGNORED.some((re) => re.test(n)))
      throw new CheckpointError(`${what}: unexpected tensor "${name}" (not a parameter of this model config)`);
  }
  for (const e of layout.entries) {
    const t = byName.get(e.name);
    if (!t) throw new CheckpointError(`${what}: tensor "${e.name}" is missing`);
    const same = t.shape.length === e.shape.length && t.shape.every((d, i) => d === e.shape[i]);
    const unpaddedWte =
      e.name === 'wte.weight' &&
      t.shape.length === 2 &&
      t.shape[0] === layout.config.vocabSize &&
      t.shape[1] === e.shape[1];
    if (!same && !unpaddedWte) {
      throw new CheckpointError(
        `${what}: tensor "${e.name}" has shape [${t.shape.join(', ')}], the model expects [${e.shape.join(', ')}]`,
      );
    }
    flat.set(t.data, e.offset); // an unpadded wte leaves the padded rows zero
  }
  return flat;
}

// ---- files, atomically -----------------------------------------------------------------------

interface FileInfo {
  bytes: number;
  sha256: string;
}

/** Writes chunks to a file, fsyncs it, and returns its size and sha256. */
function writeFileSynced(file: string, chunks: readonly Uint8Array[]): FileInfo {
  const hash = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  let bytes = 0;
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += fs.writeSync(fd, c, off, Math.min(c.length - off, 1 << 26));
      hash.update(c);
      bytes += c.length;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

function fsyncDir(dir: string): void {
  try {
    const fd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    // Not every platform can fsync a directory (Windows); the rename is still atomic there.
  }
}

function writeSafetensorsFile(
  file: string,
  tensors: readonly NamedTensor[],
  metadata: Record<string, string>,
): FileInfo {
  return writeFileSynced(file, [headerBytes(tensors, metadata), ...tensors.map((t) => bytesOf(t.data))]);
}

// ---- checkpoints ----------------------------------------------------------------------------

export const CHECKPOINT_FORMAT = 'webgpu-gpt-checkpoint';
export const CHECKPOINT_VERSION = 1;
const MODEL_FILE = 'model.safetensors';
const OPTIMIZER_FILE = 'optimizer.safetensors';
export const ADAPTERS_FILE = 'adapters.safetensors';
const META_FILE = 'checkpoint.json';
const DIR_RE = /^ckpt-(\d+)$/;

/** What the trainer stores besides the tensors; everything but step and config is opaque JSON. */
export interface CheckpointMeta {
  step: number;
  config: GPTConfig;
  /** Tokenizer id or its JSON description. */
  tokenizer?: unknown;
  /** RNG state(s) of the trainer. */
  rng?: unknown;
  /** Data position (e.g. the batch sampler's state). */
  data?: unknown;
  /** Anything else (train config, schedule, counters). */
  extra?: unknown;
}

export interface CheckpointSidecar extends CheckpointMeta {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  createdAt: string;
  optimizer: { step: number; config: AdamWConfig } | null;
  files: Record<string, FileInfo>;
  lora?: { config: LoraConfig; base: LoraBase } | null;
}

/** A LoRA run's adapters: its config, the base they belong to, the values (flat, lora layout). */
export interface LoraCheckpoint {
  config: LoraConfig;
  base: LoraBase;
  params: Float32Array;
}

export interface CheckpointData {
  meta: CheckpointMeta;
  /** Flat parameters in the layout of meta.config (with `lora`: the base's, not written). */
  params: Float32Array;
  /** Moments in the flat layout of what trains: the model's, or with `lora` the adapters'. */
  optimizer?: OptimizerState | null;
  /** A LoRA run's adapters; `params` are then the (verified) base's weights. */
  lora?: LoraCheckpoint | null;
}

export interface LoadedCheckpoint extends CheckpointData {
  /** The checkpoint directory. */
  path: string;
  sidecar: CheckpointSidecar;
  layout: ParamLayout;
}

export function checkpointDirName(step: number): string {
  return `ckpt-${String(step).padStart(8, '0')}`;
}

/**
 * Writes a checkpoint of host arrays into `<dir>/ckpt-<step>/` atomically and deletes all but the
 * newest `keep` checkpoints (default 3). Returns the checkpoint directory.
 */
export function writeCheckpoint(dir: string, ckpt: CheckpointData, opts: { keep?: number } = {}): string {
  const { meta } = ckpt;
  if (!Number.isInteger(meta.step) || meta.step < 0)
    throw new Error(`checkpoint: step must be an integer >= 0, got ${meta.step}`);
  const config = validateConfig({ ...meta.config });
  const layout = paramLayout(config);
  fs.mkdirSync(dir, { recursive: true });
  const final = path.join(dir, checkpointDirName(meta.step));
  const tmp = path.join(dir, `.tmp-${checkpointDirName(meta.step)}-${process.pid}-${Date.now()}`);
  fs.mkdirSync(tmp);
  try {
    const files: Record<string, FileInfo> = {};
    const lora = ckpt.lora ?? null;
    const trained = lora ? loraLayout(config, lora.config) : layout;
    const info = { producer: 'webgpu-gpt', step: String(meta.step) };
    if (lora)
      files[ADAPTERS_FILE] = writeSafetensorsFile(
        path.join(tmp, ADAPTERS_FILE),
        adapterTensors(trained as LoraLayout, lora.params),
        info,
      );
    else
      files[MODEL_FILE] = writeSafetensorsFile(path.join(tmp, MODEL_FILE), paramsToTensors(layout, ckpt.params), {
        format: 'pt',
        ...info,
        vocabSize: String(config.vocabSize),
      });
    const opt = ckpt.optimizer ?? null;
    if (opt) {
      if (opt.m.length !== trained.total || opt.v.length !== trained.total)
        throw new Error(
          `checkpoint: optimizer moments have ${opt.m.length}/${opt.v.length} values for ${trained.total} parameters`,
        );
      files[OPTIMIZER_FILE] = writeSafetensorsFile(
        path.join(tmp, OPTIMIZER_FILE),
        [
          { name: 'optimizer.m', shape: [trained.total], data: opt.m },
          { name: 'optimizer.v', shape: [trained.total], data: opt.v },
        ],
        { step: String(opt.step) },
      );
    }
    const sidecar: CheckpointSidecar = {
      format: CHECKPOINT_FORMAT,
      version: CHECKPOINT_VERSION,
      createdAt: new Date().toISOString(),
      step: meta.step,
      config,
      tokenizer: meta.tokenizer ?? null,
      rng: meta.rng ?? null,
      data: meta.data ?? null,
      extra: meta.extra ?? null,
      optimizer: opt ? { step: opt.step, config: opt.config } : null,
      files,
      ...(lora ? { lora: { config: lora.config, base: lora.base } } : {}),
    };
    writeFileSynced(path.join(tmp, META_FILE), [Buffer.from(JSON.stringify(sidecar, null, 2) + '\n', 'utf8')]);
    fsyncDir(tmp);
    // Replace an existing checkpoint of the same step: move it aside first (rename over a
    // non-empty directory is not allowed), then drop it once the new one is in place.
    let old: string | null = null;
    if (fs.existsSync(final)) {
      old = `${tmp}-old`;
      fs.renameSync(final, old);
    }
    fs.renameSync(tmp, final);
    fsyncDir(dir);
    if (old) fs.rmSync(old, { recursive: true, force: true });
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  pruneCheckpoints(dir, opts.keep ?? 3);
  return final;
}

/** Checkpoint directories under `dir`, newest (highest step) first. */
export function listCheckpoints(dir: string): { step: number; path: string }[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && DIR_RE.test(d.name))
    .map((d) => ({ step: Number(DIR_RE.exec(d.name)![1]), path: path.join(dir, d.name) }))
    .sort((a, b) => b.step - a.step);
}

/**
 * Deletes all but the newest `keep` checkpoints, and leftovers of interrupted writes. Each old
 * checkpoint is renamed to a `.tmp-ckpt-*` name before it is deleted: a kill mid-delete leaves a
 * leftover that the next prune (or the trainer's start) removes, never a half-deleted directory
 * under a checkpoint's name.
 */
export function pruneCheckpoints(dir: string, keep: number): void {
  if (keep >= 1)
    for (const c of listCheckpoints(dir).slice(keep)) {
      const doomed = path.join(dir, `.tmp-${path.basename(c.path)}-${process.pid}-${Date.now()}-pruned`);
      fs.renameSync(c.path, doomed);
      fs.rmSync(doomed, { recursive: true, force: true });
    }
  for (const d of fs.readdirSync(dir)) {
    const m = /^\.tmp-ckpt-\d+-(\d+)-/.exec(d);
    // Only this process's leftovers, or those of processes that no longer exist.
    if (m && (Number(m[1]) === process.pid || !processAlive(Number(m[1]))))
      fs.rmSync(path.join(dir, d), { recursive: true, force: true });
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readVerified(dir: string, name: string, info: FileInfo | undefined): Uint8Array {
  const file = path.join(dir, name);
  if (!info) throw new CheckpointError(`checkpoint ${dir}: the sidecar lists no ${name}`);
  if (!fs.existsSync(file)) throw new CheckpointError(`checkpoint ${dir}: ${name} is missing`);
  const buf = fs.readFileSync(file);
  if (buf.length !== info.bytes) {
    throw new CheckpointError(
      `checkpoint ${dir}: ${name} is ${buf.length < info.bytes ? 'truncated' : 'corrupt'} (${buf.length} bytes, expected ${info.bytes})`,
    );
  }
  const sha = createHash('sha256').update(buf).digest('hex');
  if (sha !== info.sha256)
    throw new CheckpointError(
      `checkpoint ${dir}: ${name} is corrupt (sha256 ${sha.slice(0, 12)}..., expected ${String(info.sha256).slice(0, 12)}...)`,
    );
  return buf;
}

/**
 * Reads and verifies one checkpoint directory (or the `checkpoint.json` / a file inside it).
 * Throws a CheckpointError naming the file and the problem if anything is missing, truncated,
 * corrupt or inconsistent.
 */
export function readCheckpoint(p: string): LoadedCheckpoint {
  const dir = fs.existsSync(p) && fs.statSync(p).isFile() ? path.dirname(p) : p;
  const metaFile = path.join(dir, META_FILE);
  if (!fs.existsSync(metaFile))
    throw new CheckpointError(`checkpoint ${dir}: no ${META_FILE} (not a checkpoint directory, or an incomplete one)`);
  let sidecar: CheckpointSidecar;
  try {
    sidecar = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as CheckpointSidecar;
  } catch (e) {
    throw new CheckpointError(`checkpoint ${dir}: ${META_FILE} is corrupt (${(e as Error).message})`);
  }
  if (sidecar?.format !== CHECKPOINT_FORMAT)
    throw new CheckpointError(`checkpoint ${dir}: ${META_FILE} is not a ${CHECKPOINT_FORMAT} sidecar`);
  if (sidecar.version > CHECKPOINT_VERSION)
    throw new CheckpointError(
      `checkpoint ${dir}: format version ${sidecar.version} is newer than this program's ${CHECKPOINT_VERSION}`,
    );
  let config: GPTConfig;
  try {
    config = validateConfig({ ...sidecar.config });
  } catch (e) {
    throw new CheckpointError(`checkpoint ${dir}: ${(e as Error).message}`);
  }
  const layout = paramLayout(config);
  const files = sidecar.files ?? {};
  const lora = sidecar.lora ? readAdapters(dir, config, sidecar) : null;
  const params = lora ? baseParams(dir, config, lora.base) : readParams(dir, layout, files);
  const trained = lora ? loraLayout(config, lora.config) : layout;
  let optimizer: OptimizerState | null = null;
  if (sidecar.optimizer) {
    const o = decodeSafetensors(readVerified(dir, OPTIMIZER_FILE, files[OPTIMIZER_FILE]), `${dir}/${OPTIMIZER_FILE}`);
    const m = o.tensors.get('optimizer.m')?.data;
    const v = o.tensors.get('optimizer.v')?.data;
    if (!m || !v || m.length !== trained.total || v.length !== trained.total) {
      throw new CheckpointError(
        `checkpoint ${dir}/${OPTIMIZER_FILE}: expected optimizer.m and optimizer.v of ${trained.total} values`,
      );
    }
    optimizer = { step: sidecar.optimizer.step, config: sidecar.optimizer.config, m, v };
  }
  const meta: CheckpointMeta = {
    step: sidecar.step,
    config,
    tokenizer: sidecar.tokenizer ?? undefined,
    rng: sidecar.rng ?? undefined,
    data: sidecar.data ?? undefined,
    extra: sidecar.extra ?? undefined,
  };
  return { path: dir, sidecar, layout, meta, params, optimizer, lora };
}

function readParams(dir: string, layout: ParamLayout, files: Record<string, FileInfo>): Float32Array {
  const model = decodeSafetensors(readVerified(dir, MODEL_FILE, files[MODEL_FILE]), `${dir}/${MODEL_FILE}`);
  return tensorsToParams(layout, model.tensors, `checkpoint ${dir}/${MODEL_FILE}`);
}

/** The adapter tensors by name, in the LoRA layout's order. */
function adapterTensors(layout: LoraLayout, flat: Float32Array): NamedTensor[] {
  if (flat.length !== layout.total)
    throw new Error(`checkpoint: ${flat.length} adapter values for a LoRA layout of ${layout.total}`);
  return layout.entries.map((e) => ({
    name: e.name,
    shape: e.shape,
    data: flat.subarray(e.offset, e.offset + e.size),
  }));
}

/** A LoRA checkpoint's adapters file, checked against its config. */
function readAdapters(dir: string, config: GPTConfig, sidecar: CheckpointSidecar): LoraCheckpoint {
  const what = `checkpoint ${dir}/${ADAPTERS_FILE}`;
  const { config: lc, base } = sidecar.lora!;
  let layout: LoraLayout;
  try {
    layout = loraLayout(config, checkLora({ ...lc }));
  } catch (e) {
    throw new CheckpointError(`checkpoint ${dir}: LoRA config: ${(e as Error).message}`);
  }
  if (typeof base?.path !== 'string' || typeof base.sha256 !== 'string')
    throw new CheckpointError(`checkpoint ${dir}: ${META_FILE} records no base checkpoint for its adapters`);
  const { tensors } = decodeSafetensors(readVerified(dir, ADAPTERS_FILE, sidecar.files?.[ADAPTERS_FILE]), what);
  const flat = new Float32Array(layout.total);
  for (const name of tensors.keys())
    if (!layout.byName.has(name)) throw new CheckpointError(`${what}: unexpected tensor "${name}"`);
  for (const e of layout.entries) {
    const t = tensors.get(e.name);
    if (!t) throw new CheckpointError(`${what}: tensor "${e.name}" is missing`);
    if (t.shape.join() !== e.shape.join())
      throw new CheckpointError(
        `${what}: tensor "${e.name}" has shape [${t.shape.join(', ')}], expected [${e.shape.join(', ')}]`,
      );
    flat.set(t.data, e.offset);
  }
  return { config: layout.lora, base, params: flat };
}

/**
 * The base weights a LoRA checkpoint's adapters belong to, verified by the sha256 of the base's
 * model.safetensors, in the adapted model's layout (a head the base lacks stays zero: the
 * adapters carry it).
 */
function baseParams(dir: string, config: GPTConfig, base: LoraBase): Float32Array {
  let b: LoadedCheckpoint;
  try {
    // A base in the Hugging Face layout (`hf:<dir>`) is named by the sha256 of its model.safetensors too.
    const hf = hfDirOf(base.path);
    b = hf !== null ? hfAsCheckpoint(hf, { checksum: true }) : readCheckpoint(base.path);
  } catch (e) {
    throw new LoraBaseError(`checkpoint ${dir}: its base ${base.path} cannot be read: ${(e as Error).message}`);
  }
  const got = b.sidecar.files?.[MODEL_FILE]?.sha256 ?? '(no weights file)';
  if (b.lora || got !== base.sha256)
    throw new LoraBaseError(
      `checkpoint ${dir}: adapters belong to base ${base.path} (sha256 ${base.sha256.slice(0, 16)}…), got ${b.lora ? 'a LoRA checkpoint' : `sha256 ${got.slice(0, 16)}…`} there`,
    );
  const diff = (['vocabSize', 'paddedVocabSize', 'blockSize', 'nLayer', 'nHead', 'nEmbd'] as const).filter(
    (k) => b.meta.config[k] !== config[k],
  );
  if (diff.length)
    throw new LoraBaseError(`checkpoint ${dir}: its base ${base.path} has another shape (${diff.join(', ')})`);
  const layout = paramLayout(config);
  const flat = new Float32Array(layout.total);
  for (const e of layout.entries) {
    const s = b.layout.byName.get(e.name);
    if (s && s.size === e.size) flat.set(b.params.subarray(s.offset, s.offset + s.size), e.offset);
  }
  return flat;
}

/**
 * The newest checkpoint under `dir` that reads and verifies; broken newer ones are skipped (and
 * listed in `skipped` with the reason, for the trainer to report). Throws if there is none.
 */
export function loadLatestCheckpoint(dir: string): LoadedCheckpoint & { skipped: { path: string; error: string }[] } {
  const all = listCheckpoints(dir);
  if (all.length === 0) throw new CheckpointError(`no checkpoints in ${dir}`);
  const skipped: { path: string; error: string }[] = [];
  for (const c of all) {
    try {
      return { ...readCheckpoint(c.path), skipped };
    } catch (e) {
      if (!(e instanceof CheckpointError) || e instanceof LoraBaseError) throw e;
      skipped.push({ path: c.path, error: e.message });
    }
  }
  throw new CheckpointError(`no valid checkpoint in ${dir}:\n${skipped.map((s) => `  ${s.error}`).join('\n')}`);
}

/**
 * A checkpoint directory, a file in one, or a run/checkpoints directory (its newest valid
 * checkpoint, looking in `<p>` and `<p>/checkpoints`).
 */
export function resolveCheckpoint(p: string): LoadedCheckpoint {
  if (!fs.existsSync(p)) throw new CheckpointError(`checkpoint path ${p} does not exist`);
  const dir = fs.statSync(p).isFile() ? path.dirname(p) : p;
  if (fs.existsSync(path.join(dir, META_FILE))) return readCheckpoint(dir);
  for (const d of [dir, path.join(dir, 'checkpoints')]) if (listCheckpoints(d).length) return loadLatestCheckpoint(d);
  throw new CheckpointError(`${p} is neither a checkpoint nor a directory with checkpoints (ckpt-<step>/)`);
}

// ---- GPU model and optimizer ----------------------------------------------------------------

/**
 * Downloads the model's parameters (and the optimizer's moments) and writes a checkpoint of them
 * (see writeCheckpoint). `meta.step` is the number of optimizer steps taken; the config is the
 * model's. Returns the checkpoint directory.
 */
export async function saveCheckpoint(
  dir: string,
  state: { model: GPT; optimizer?: AdamW | null; meta: Omit<CheckpointMeta, 'config'> },
  opts: { keep?: number } = {},
): Promise<string> {
  const optimizer = state.optimizer ? await state.optimizer.exportState() : null;
  const meta = { ...state.meta, config: state.model.config };
  const a = state.model.adapters as LoraAdapters | null;
  if (a) {
    if (!a.base) throw new Error('checkpoint: LoRA adapters without a base checkpoint cannot be saved apart from it');
    const lora = { config: a.layout.lora, base: a.base, params: await a.download() };
    return writeCheckpoint(dir, { meta, params: new Float32Array(0), optimizer, lora }, opts);
  }
  const params = await state.model.params.download();
  return writeCheckpoint(dir, { meta, params, optimizer }, opts);
}

/** Puts a loaded checkpoint's weights (and moments) into an existing model (and optimizer). */
export function restoreCheckpoint(ckpt: LoadedCheckpoint, model: GPT, optimizer?: AdamW | null): void {
  const a = model.config;
  const b = ckpt.meta.config;
  const diff = (Object.keys(b) as (keyof GPTConfig)[]).filter((k) => a[k] !== b[k] && k !== 'dropout');
  if (diff.length)
    throw new CheckpointError(
      `checkpoint ${ckpt.path}: config differs from the model's in ${diff.map((k) => `${k} (${b[k]} vs ${a[k]})`).join(', ')}`,
    );
  model.params.upload(ckpt.params);
  if (ckpt.lora) {
    const a = model.adapters as LoraAdapters | null;
    if (!a || a.layout.total !== ckpt.lora.params.length || a.layout.lora.rank !== ckpt.lora.config.rank)
      throw new CheckpointError(
        `checkpoint ${ckpt.path}: LoRA adapters do not match the model's (attach the same config first)`,
      );
    a.upload(ckpt.lora.params);
  }
  if (optimizer) {
    if (!ckpt.optimizer) throw new CheckpointError(`checkpoint ${ckpt.path}: has no optimizer state to resume from`);
    optimizer.importState(ckpt.optimizer);
  }
}

/** A model built from a checkpoint (path as for resolveCheckpoint), in eval mode. */
export async function loadModel(
  p: string,
  opts: { seed?: number } = {},
): Promise<{ model: GPT; checkpoint: LoadedCheckpoint }> {
  const checkpoint = resolveCheckpoint(p);
  // Imported here so that the host-only parts of this module load without the GPU engine.
  const { GPT } = await import('./gpt.ts');
  const model = GPT.fromParams(checkpoint.meta.config, checkpoint.params, opts).eval();
  const lora = checkpoint.lora;
  if (lora) {
    const { LoraAdapters } = await import('./lora-store.ts');
    const a = LoraAdapters.create(checkpoint.meta.config, lora.config, { initial: lora.params, base: lora.base });
    model.attachAdapters(a);
  }
  return { model, checkpoint };
}
