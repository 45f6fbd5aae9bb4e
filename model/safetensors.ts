// Streaming safetensors I/O for large files (a 124M GPT-2 is ~500 MB): the header is read alone,
// then each tensor's byte range goes straight from the file into its place in a flat Float32Array
// (F32 read in place, F16/BF16 decoded chunk by chunk), so the weights exist once in memory.
// Writing streams each tensor from its view in the same way. checkpoint.ts keeps the small
// whole-buffer encoder/decoder for its own files; this module is for files from and for other tools.
//
// Format: u64 LE header length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]},
// "__metadata__": {string: string}}, then the tensor bytes (offsets relative to byte 8 + N).
import * as fs from 'node:fs';
import { CheckpointError, type NamedTensor } from './checkpoint.ts';

/** Bytes per element of the dtypes this project converts to f32. */
export const DTYPE_BYTES: Readonly<Record<string, number>> = { F32: 4, F16: 2, BF16: 2 };

export interface TensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

/** Headers larger than this are not plausible (the format's reference reader caps at 100 MB). */
const MAX_HEADER = 100 * 1024 * 1024;

/** The keys of a JSON object's top level, in order, duplicates included (JSON.parse keeps only the last). */
function topLevelKeys(json: string): string[] {
  const keys: string[] = [];
  let depth = 0;
  let expectKey = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i];
    if (c === '"') {
      let j = i + 1;
      while (j < json.length && json[j] !== '"') j += json[j] === '\\' ? 2 : 1;
      if (depth === 1 && expectKey) keys.push(JSON.parse(json.slice(i, j + 1)) as string);
      expectKey = false;
      i = j;
    } else if (c === '{' || c === '[') {
      depth++;
      expectKey = depth === 1 && c === '{';
    } else if (c === '}' || c === ']') depth--;
    else if (c === ',' && depth === 1) expectKey = true;
  }
  return keys;
}

function parseEntry(name: string, info: unknown, dataStart: number, fileSize: number, what: string): TensorEntry {
  const t = (info ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  const bytes = DTYPE_BYTES[String(t.dtype)];
  if (bytes === undefined)
    throw new CheckpointError(
      `${what}: tensor ${name} has dtype ${String(t.dtype)}; this project reads ${Object.keys(DTYPE_BYTES).join(', ')}`,
    );
  const { shape, data_offsets: offs } = t;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0))
    throw new CheckpointError(`${what}: tensor ${name} has an invalid shape`);
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0))
    throw new CheckpointError(`${what}: tensor ${name} has invalid data_offsets`);
  const [b, e] = offs as [number, number];
  const count = (shape as number[]).reduce((x, y) => x * y, 1);
  if (e - b !== count * bytes)
    throw new CheckpointError(
      `${what}: tensor ${name} spans ${e - b} bytes, its shape [${shape.join(', ')}] of ${t.dtype} needs ${count * bytes}`,
    );
  if (dataStart + e > fileSize)
    throw new CheckpointError(`${what}: truncated (tensor ${name} ends at byte ${dataStart + e} of ${fileSize})`);
  return { name, dtype: String(t.dtype), shape: shape as number[], begin: dataStart + b, end: dataStart + e };
}

/** Reads and checks the header of an open safetensors file (no tensor data is read). */
export function readSafetensorsHeader(fd: number, what: string): SafetensorsHeader {
  const fileSize = fs.fstatSync(fd).size;
  const lenBuf = Buffer.alloc(8);
  if (fileSize < 8 || fs.readSync(fd, lenBuf, 0, 8, 0) !== 8)
    throw new CheckpointError(`${what}: truncated (${fileSize} bytes, not even the 8-byte header length)`);
  const n = lenBuf.readBigUInt64LE(0);
  if (n > BigInt(Math.min(fileSize - 8, MAX_HEADER)))
    throw new CheckpointError(`${what}: truncated or corrupt (header length ${n}, file ${fileSize} bytes)`);
  const text = Buffer.alloc(Number(n));
  readFully(fd, text, 8, what);
  let header: unknown;
  const json = text.toString('utf8');
  try {
    header = JSON.parse(json);
  } catch (e) {
    throw new CheckpointError(`${what}: corrupt header (${(e as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header))
    throw new CheckpointError(`${what}: header is not a JSON object`);
  const keys = topLevelKeys(json);
  const dup = keys.find((k, i) => keys.indexOf(k) !== i);
  if (dup !== undefined) throw new CheckpointError(`${what}: tensor ${dup} is named twice in the header`);
  const dataStart = 8 + Number(n);
  const tensors = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, info] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') metadata = (info ?? {}) as Record<string, string>;
    else tensors.set(name, parseEntry(name, info, dataStart, fileSize, what));
  }
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin);
  for (let i = 1; i < sorted.length; i++)
    if (sorted[i]!.begin < sorted[i - 1]!.end)
      throw new CheckpointError(`${what}: tensors ${sorted[i - 1]!.name} and ${sorted[i]!.name} overlap`);
  return { tensors, metadata };
}

const f16Table = ((): Float32Array => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** Chunk of F16/BF16 bytes decoded at a time (bounded extra memory). */
const CHUNK = 1 << 22;

function readFully(fd: number, into: Uint8Array, pos: number, what: string): void {
  let done = 0;
  while (done < into.length) {
    const got = fs.readSync(fd, into, done, into.length - done, pos + done);
    if (got === 0) throw new CheckpointError(`${what}: truncated (end of file at byte ${pos + done})`);
    done += got;
  }
}

/**
 * Reads one tensor into `out` (its length must be the tensor's element count) as f32: F32 bytes
 * land in place; F16 and BF16 are decoded through a small chunk buffer.
 */
export function readTensorInto(fd: number, t: TensorEntry, out: Float32Array, what: string): void {
  if (t.dtype === 'F32') {
    readFully(fd, new Uint8Array(out.buffer, out.byteOffset, out.byteLength), t.begin, what);
    return;
  }
  const chunk = Buffer.alloc(Math.min(CHUNK, t.end - t.begin));
  const u32 = new Uint32Array(1);
  const asF32 = new Float32Array(u32.buffer);
  for (let pos = t.begin, k = 0; pos < t.end;) {
    const len = Math.min(chunk.length, t.end - pos);
    readFully(fd, chunk.subarray(0, len), pos, what);
    for (let i = 0; i < len; i += 2, k++) {
      const h = chunk[i]! | (chunk[i + 1]! << 8);
      if (t.dtype === 'F16') out[k] = f16Table[h]!;
      else {
        u32[0] = h << 16; // bf16 is the top half of an f32
        out[k] = asF32[0]!;
      }
    }
    pos += len;
  }
}

/**
 * Writes F32 tensors to `file` from their views (no concatenated copy), header padded with spaces
 * to a multiple of 8 bytes as the reference writer does; fsyncs before returning.
 */
export function writeSafetensors(
  file: string,
  tensors: readonly NamedTensor[],
  metadata: Record<string, string>,
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of tensors) {
    if (t.name in header) throw new Error(`safetensors: tensor ${t.name} named twice`);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (n !== t.data.length) throw new Error(`safetensors: ${t.name} has ${t.data.length} values for [${t.shape}]`);
    header[t.name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  const fd = fs.openSync(file, 'w');
  try {
    const parts = [
      len,
      Buffer.from(json, 'utf8'),
      ...tensors.map((t) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)),
    ];
    for (const p of parts) for (let o = 0; o < p.length;) o += fs.writeSync(fd, p, o, Math.min(p.length - o, 1 << 26));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
