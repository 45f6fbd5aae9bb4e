// Token shards: writing and reading the binary files `prepare` writes, and the two ways training
// reads batches from a token stream (random windows; fixed evaluation windows).
//
// Token shard format (little-endian), version 1:
//
//   offset size  field
//   0      8     magic "WGPTTOK\0"
//   8      4     format version (1)
//   12     4     bytes per token: 2 (uint16) or 4 (uint32)
//   16     4     vocabulary size
//   20     4     end-of-text id
//   24     8     token count (uint64)
//   32     4     document count
//   36     4     reserved (0)
//   40     64    tokenizer id, ASCII, NUL-padded (e.g. "gpt2", "bpe-2048-1a2b3c4d")
//   104    152   reserved (0)
//   256    ...   tokens (uint16 when vocabSize <= 65536, else uint32); each document is followed
//                by the end-of-text id
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { Rng } from '../../kernels/random.ts';

export const SHARD_MAGIC = 'WGPTTOK\0';
export const SHARD_VERSION = 1;
export const SHARD_HEADER_BYTES = 256;
const TOKENIZER_ID_BYTES = 64;

export type TokenArray = Uint16Array | Uint32Array;

export interface ShardHeader {
  version: number;
  /** Bytes per token: 2 or 4. */
  tokenBytes: 2 | 4;
  vocabSize: number;
  eotId: number;
  tokenCount: number;
  docCount: number;
  tokenizerId: string;
}

export interface ShardMeta {
  vocabSize: number;
  eotId: number;
  tokenizerId: string;
  docCount: number;
}

/** The narrowest token type for a vocabulary. */
export function tokenBytesFor(vocabSize: number): 2 | 4 {
  return vocabSize <= 65536 ? 2 : 4;
}

export function encodeShardHeader(h: Omit<ShardHeader, 'version'>): Uint8Array {
  if (h.tokenizerId.length > TOKENIZER_ID_BYTES || !/^[\x20-\x7e]*$/.test(h.tokenizerId)) {
    throw new Error(
      `shard: tokenizer id must be printable ASCII of at most ${TOKENIZER_ID_BYTES} chars: ${h.tokenizerId}`,
    );
  }
  const buf = new Uint8Array(SHARD_HEADER_BYTES);
  const dv = new DataView(buf.buffer);
  for (let i = 0; i < 8; i++) buf[i] = SHARD_MAGIC.charCodeAt(i);
  dv.setUint32(8, SHARD_VERSION, true);
  dv.setUint32(12, h.tokenBytes, true);
  dv.setUint32(16, h.vocabSize, true);
  dv.setUint32(20, h.eotId, true);
  dv.setBigUint64(24, BigInt(h.tokenCount), true);
  dv.setUint32(32, h.docCount, true);
  for (let i = 0; i < h.tokenizerId.length; i++) buf[40 + i] = h.tokenizerId.charCodeAt(i);
  return buf;
}

export function decodeShardHeader(buf: Uint8Array, what = 'shard'): ShardHeader {
  if (buf.length < SHARD_HEADER_BYTES)
    throw new Error(`${what}: too short for a token shard header (${buf.length} bytes)`);
  for (let i = 0; i < 8; i++) {
    if (buf[i] !== SHARD_MAGIC.charCodeAt(i)) throw new Error(`${what}: not a token shard (bad magic)`);
  }
  const dv = new DataView(buf.buffer, buf.byteOffset, SHARD_HEADER_BYTES);
  const version = dv.getUint32(8, true);
  if (version !== SHARD_VERSION) throw new Error(`${what}: unsupported shard format version ${version}`);
  const tokenBytes = dv.getUint32(12, true);
  if (tokenBytes !== 2 && tokenBytes !== 4) throw new Error(`${what}: bad token width ${tokenBytes}`);
  let tokenizerId = '';
  for (let i = 40; i < 40 + TOKENIZER_ID_BYTES; i++) {
    const c = buf[i] as number;
    if (c === 0) break;
    tokenizerId += String.fromCharCode(c);
  }
  return {
    version,
    tokenBytes,
    vocabSize: dv.getUint32(16, true),
    eotId: dv.getUint32(20, true),
    tokenCount: Number(dv.getBigUint64(24, true)),
    docCount: dv.getUint32(32, true),
    tokenizerId,
  };
}

/** Writes a shard; `tokens` may be any integer array (narrowed to the header's token type). */
export function writeShard(path: string, tokens: ArrayLike<number>, meta: ShardMeta): ShardHeader {
  const tokenBytes = tokenBytesFor(meta.vocabSize);
  const header: ShardHeader = { version: SHARD_VERSION, tokenBytes, tokenCount: tokens.length, ...meta };
  let body: TokenArray;
  if (tokenBytes === 2) body = tokens instanceof Uint16Array ? tokens : Uint16Array.from(tokens);
  else body = tokens instanceof Uint32Array ? tokens : Uint32Array.from(tokens);
  for (let i = 0; i < body.length; i++) {
    if ((body[i] as number) >= meta.vocabSize)
      throw new Error(`shard: token ${body[i]} at ${i} is outside the vocabulary (${meta.vocabSize})`);
  }
  const fd = openSync(path, 'w');
  try {
    writeSync(fd, encodeShardHeader(header));
    const bytes = new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, Math.min(bytes.length - off, 1 << 26));
  } finally {
    closeSync(fd);
  }
  return header;
}

/** Reads a whole shard into memory (a typed-array view on the file's bytes, no copy when aligned). */
export function readShard(path: string): { header: ShardHeader; tokens: TokenArray } {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new Error(`cannot read shard ${path}: ${(err as Error).message}`);
  }
  const header = decodeShardHeader(buf, path);
  const expected = SHARD_HEADER_BYTES + header.tokenCount * header.tokenBytes;
  if (buf.length !== expected) {
    throw new Error(`${path}: truncated or corrupt shard: ${buf.length} bytes, header says ${expected}`);
  }
  const start = buf.byteOffset + SHARD_HEADER_BYTES;
  let tokens: TokenArray;
  if (start % header.tokenBytes === 0) {
    tokens =
      header.tokenBytes === 2
        ? new Uint16Array(buf.buffer, start, header.tokenCount)
        : new Uint32Array(buf.buffer, start, header.tokenCount);
  } else {
    const copy = buf.subarray(SHARD_HEADER_BYTES).slice();
    tokens =
      header.tokenBytes === 2
        ? new Uint16Array(copy.buffer, copy.byteOffset, header.tokenCount)
        : new Uint32Array(copy.buffer, copy.byteOffset, header.tokenCount);
  }
  return { header, tokens };
}

export interface Batch {
  /** Row-major (B, T) inputs. */
  inp: Int32Array;
  /** Row-major (B, T) targets: the inputs shifted by one token. */
  tgt: Int32Array;
}

export interface SamplerState {
  seed: number;
  step: number;
  /** The sfc32 generator's four state words. */
  rng: number[];
}

/**
 * Random (B, T+1) windows of a token stream: each row is tokens[s .. s+T] for a uniformly drawn
 * start s, split into inputs tokens[s .. s+T-1] and targets tokens[s+1 .. s+T]. Seeded and
 * resumable: `setState(state())` continues the exact same sequence.
 */
export class BatchSampler {
  readonly B: number;
  readonly T: number;
  private readonly rng: Rng;
  private readonly seed: number;
  private step = 0;

  constructor(
    private readonly tokens: ArrayLike<number>,
    B: number,
    T: number,
    seed: number,
  ) {
    if (!(Number.isInteger(B) && B >= 1 && Number.isInteger(T) && T >= 1))
      throw new RangeError(`BatchSampler: bad B=${B} T=${T}`);
    if (tokens.length < T + 1) {
      throw new RangeError(`BatchSampler: ${tokens.length} tokens are too few for windows of T+1 = ${T + 1}`);
    }
    this.B = B;
    this.T = T;
    this.seed = seed;
    this.rng = new Rng(seed, 'sfc32');
  }

  /** Number of batches drawn so far. */
  get steps(): number {
    return this.step;
  }

  next(): Batch {
    const { B, T, tokens } = this;
    const inp = new Int32Array(B * T);
    const tgt = new Int32Array(B * T);
    const starts = tokens.length - T; // s in [0, N - T - 1]
    for (let b = 0; b < B; b++) {
      const s = this.rng.unbiasedInt(starts);
      const row = b * T;
      for (let t = 0; t < T; t++) {
        inp[row + t] = tokens[s + t] as number;
        tgt[row + t] = tokens[s + t + 1] as number;
      }
    }
    this.step++;
    return { inp, tgt };
  }

  state(): SamplerState {
    return { seed: this.seed, step: this.step, rng: this.rng.getState().words };
  }

  setState(state: SamplerState): void {
    if (state.seed !== this.seed)
      throw new Error(`BatchSampler: state is for seed ${state.seed}, this sampler has seed ${this.seed}`);
    this.rng.setState({ algorithm: 'sfc32', words: state.rng, spare: null });
    this.step = state.step;
  }
}

/** Number of batches `evalBatches` yields. */
export function evalBatchCount(tokenCount: number, B: number, T: number, maxBatches = Infinity): number {
  const windows = Math.floor((tokenCount - 1) / T);
  return windows <= 0 ? 0 : Math.min(Math.ceil(windows / B), maxBatches);
}

/**
 * Deterministic evaluation batches: non-overlapping windows starting at 0, T, 2T, ... (every token
 * that has a successor is a target exactly once), B windows per batch, at most `maxBatches`
 * batches. The last batch is filled up by wrapping around to the first windows; `rows` says how many
 * rows of a batch are new, so a mean over rows [0, rows) covers each window once.
 */
export function* evalBatches(
  tokens: ArrayLike<number>,
  B: number,
  T: number,
  maxBatches = Infinity,
): Generator<Batch & { rows: number }> {
  const windows = Math.floor((tokens.length - 1) / T);
  if (windows <= 0)
    throw new RangeError(`evalBatches: ${tokens.length} tokens are too few for one window of T+1 = ${T + 1}`);
  const n = evalBatchCount(tokens.length, B, T, maxBatches);
  for (let i = 0; i < n; i++) {
    const inp = new Int32Array(B * T);
    const tgt = new Int32Array(B * T);
    const first = i * B;
    const rows = Math.min(B, windows - first);
    for (let b = 0; b < B; b++) {
      const s = ((first + b) % windows) * T;
      const row = b * T;
      for (let t = 0; t < T; t++) {
        inp[row + t] = tokens[s + t] as number;
        tgt[row + t] = tokens[s + t + 1] as number;
      }
    }
    yield { inp, tgt, rows };
  }
}
