import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ByteSink,
  EOT_TEXT,
  PieceCache,
  TOKENIZER_FILE,
  fnv1aHex,
  utf8Decoder,
  utf8Encoder,
  type BpeTokenizerJSON,
  type Tokenizer,
} from './types.ts';

/** GPT-2's pre-tokenization regex (contractions, letter runs, number runs, symbol runs, spaces). */
export const BPE_PATTERN = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/** Pre-tokens longer than this (UTF-16 units) are cut, which bounds the per-piece merge cost. */
export const BPE_MAX_PIECE = 128;

/**
 * Splits text into pre-tokens. The pieces concatenate back to `text` exactly (the regex's last
 * alternatives cover every character). Long pieces are cut at code-point boundaries.
 */
export function* pretokenize(text: string, pattern: RegExp, maxPiece: number): Generator<string> {
  for (const m of text.matchAll(pattern)) {
    const piece = m[0];
    if (piece.length <= maxPiece) yield piece;
    else yield* cutPiece(piece, maxPiece);
  }
}

/** Cuts a long pre-token into pieces of at most `maxPiece` UTF-16 units, never inside a surrogate pair. */
export function cutPiece(piece: string, maxPiece: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < piece.length) {
    let end = Math.min(start + maxPiece, piece.length);
    const prev = piece.charCodeAt(end - 1);
    if (end < piece.length && prev >= 0xd800 && prev <= 0xdbff) end -= 1;
    out.push(piece.slice(start, end));
    start = end;
  }
  return out;
}

/** Byte-level BPE: ids 0..255 are bytes, 256 + i is merge i, the last id is end-of-text. */
export class BpeTokenizer implements Tokenizer {
  readonly type = 'bpe' as const;
  readonly id: string;
  readonly vocabSize: number;
  readonly eotId: number;
  readonly merges: readonly (readonly [number, number])[];
  private readonly pattern: RegExp;
  private readonly patternSource: string;
  private readonly maxPiece: number;
  /** pair key (a * keyBase + b) -> merge rank. */
  private readonly ranks = new Map<number, number>();
  private readonly keyBase: number;
  /** Bytes of every id except end-of-text. */
  private readonly tokenBytes: Uint8Array[];
  private readonly cache = new PieceCache();

  constructor(merges: readonly (readonly [number, number])[], pattern = BPE_PATTERN, maxPiece = BPE_MAX_PIECE) {
    this.merges = merges.map(([a, b]) => [a, b] as const);
    this.vocabSize = 256 + merges.length + 1;
    this.eotId = this.vocabSize - 1;
    this.keyBase = this.vocabSize;
    this.patternSource = pattern;
    this.pattern = new RegExp(pattern, 'gu');
    this.maxPiece = maxPiece;
    this.tokenBytes = [];
    for (let b = 0; b < 256; b++) this.tokenBytes.push(Uint8Array.of(b));
    merges.forEach(([a, b], i) => {
      const newId = 256 + i;
      if (!(a >= 0 && a < newId && b >= 0 && b < newId && Number.isInteger(a) && Number.isInteger(b))) {
        throw new Error(`bpe: merge ${i} [${a}, ${b}] refers to an id that does not exist yet`);
      }
      this.ranks.set(a * this.keyBase + b, i);
      const left = this.tokenBytes[a] as Uint8Array;
      const right = this.tokenBytes[b] as Uint8Array;
      const joined = new Uint8Array(left.length + right.length);
      joined.set(left, 0);
      joined.set(right, left.length);
      this.tokenBytes.push(joined);
    });
    this.id = `bpe-${this.vocabSize}-${fnv1aHex(pattern + '|' + maxPiece + '|' + merges.map(([a, b]) => `${a},${b}`).join(';'))}`;
  }

  /** The bytes that an id stands for (`<|endoftext|>` for the end-of-text id). */
  bytesOf(id: number): Uint8Array {
    if (id === this.eotId) return utf8Encoder.encode(EOT_TEXT);
    const bytes = this.tokenBytes[id];
    if (bytes === undefined) throw new RangeError(`bpe: id ${id} out of range [0, ${this.vocabSize})`);
    return bytes;
  }

  encode(text: string): number[] {
    const out: number[] = [];
    const re = this.pattern;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const piece = m[0];
      if (piece.length > this.maxPiece) {
        for (const part of cutPiece(piece, this.maxPiece)) this.encodeCached(part, out);
      } else {
        this.encodeCached(piece, out);
      }
    }
    return out;
  }

  private encodeCached(piece: string, out: number[]): void {
    let ids = this.cache.get(piece);
    if (ids === undefined) {
      ids = this.encodePiece(piece);
      this.cache.set(piece, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i] as number);
  }

  private encodePiece(piece: string): number[] {
    let syms: number[] = [];
    for (let i = 0; i < piece.length; i++) {
      const c = piece.charCodeAt(i);
      if (c >= 0x80) {
        syms = Array.from(utf8Encoder.encode(piece));
        break;
      }
      syms.push(c);
    }
    const base = this.keyBase;
    while (syms.length > 1) {
      let bestRank = Infinity;
      let bestA = -1;
      let bestB = -1;
      for (let i = 0; i + 1 < syms.length; i++) {
        const a = syms[i] as number;
        const b = syms[i + 1] as number;
        const r = this.ranks.get(a * base + b);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          bestA = a;
          bestB = b;
        }
      }
      if (bestRank === Infinity) break;
      const newId = 256 + bestRank;
      let w = 0;
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === bestA && syms[i + 1] === bestB) {
          syms[w++] = newId;
          i++;
        } else {
          syms[w++] = syms[i] as number;
        }
      }
      syms.length = w;
    }
    return syms;
  }

  decode(ids: ArrayLike<number>): string {
    const sink = new ByteSink();
    for (let i = 0; i < ids.length; i++) sink.pushAll(this.bytesOf(ids[i] as number));
    return utf8Decoder.decode(sink.bytes());
  }

  toJSON(): BpeTokenizerJSON {
    return {
      type: 'bpe',
      version: 1,
      vocabSize: this.vocabSize,
      eotId: this.eotId,
      pattern: this.patternSource,
      maxPieceLength: this.maxPiece,
      merges: this.merges.map(([a, b]) => [a, b]),
    };
  }

  save(dir: string): void {
    writeFileSync(join(dir, TOKENIZER_FILE), JSON.stringify(this.toJSON()) + '\n');
  }

  static fromJSON(json: BpeTokenizerJSON): BpeTokenizer {
    const tok = new BpeTokenizer(json.merges, json.pattern, json.maxPieceLength);
    if (tok.vocabSize !== json.vocabSize || tok.eotId !== json.eotId) {
      throw new Error(
        `bpe tokenizer file is inconsistent: vocabSize ${json.vocabSize} but ${json.merges.length} merges`,
      );
    }
    return tok;
  }
}

export interface BpeTrainOptions {
  /** Target vocabulary size including the 256 byte ids and end-of-text (>= 257). */
  vocabSize: number;
  /** Pairs seen fewer times than this are never merged (the vocabulary may end up smaller). */
  minPairCount?: number;
  /** Called now and then with (merges done, merges wanted). */
  onProgress?: (done: number, total: number) => void;
}

/**
 * Max-heap of (count, key) with ties broken by the smaller key, so training is deterministic.
 * Entries go stale when a pair's count drops; the trainer re-checks popped entries (lazy deletion).
 */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }

  private above(i: number, j: number): boolean {
    const ci = this.counts[i] as number;
    const cj = this.counts[j] as number;
    return ci > cj || (ci === cj && (this.keys[i] as number) < (this.keys[j] as number));
  }

  private swap(i: number, j: number): void {
    const c = this.counts[i] as number;
    this.counts[i] = this.counts[j] as number;
    this.counts[j] = c;
    const k = this.keys[i] as number;
    this.keys[i] = this.keys[j] as number;
    this.keys[j] = k;
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Removes the top entry and returns it as [count, key]. */
  pop(): [number, number] | undefined {
    const n = this.keys.length;
    if (n === 0) return undefined;
    const top: [number, number] = [this.counts[0] as number, this.keys[0] as number];
    const lastC = this.counts.pop() as number;
    const lastK = this.keys.pop() as number;
    if (n > 1) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const m = n - 1;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < m && this.above(l, best)) best = l;
        if (r < m && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

/**
 * Trains a byte-level BPE on `texts`. Pre-tokens are counted once (word frequencies); then each merge
 * only revisits the words that contain the merged pair (an index pair -> words), updating the pair
 * counts incrementally, and the next pair comes from a lazy max-heap. Deterministic: equal counts are
 * broken by the smaller (left id, right id).
 */
export function trainBpe(texts: Iterable<string>, opts: BpeTrainOptions): BpeTokenizer {
  const target = opts.vocabSize;
  if (!Number.isInteger(target) || target < 257) {
    throw new RangeError(`bpe: vocabSize must be an integer >= 257 (256 bytes + end-of-text), got ${target}`);
  }
  const wantMerges = target - 257;
  const minCount = opts.minPairCount ?? 2;
  const pattern = new RegExp(BPE_PATTERN, 'gu');

  // 1. Word frequencies.
  const freq = new Map<string, number>();
  for (const text of texts) {
    for (const piece of pretokenize(text, pattern, BPE_MAX_PIECE)) freq.set(piece, (freq.get(piece) ?? 0) + 1);
  }

  const words: Int32Array[] = [];
  const counts: number[] = [];
  for (const [piece, n] of freq) {
    const bytes = utf8Encoder.encode(piece);
    if (bytes.length < 2) continue; // no pairs: never affected by merges
    words.push(Int32Array.from(bytes));
    counts.push(n);
  }
  freq.clear();

  // 2. Pair counts and the pair -> words index.
  const base = target; // ids < target, so key = a * base + b is unique
  const pairCount = new Map<number, number>();
  const where = new Map<number, number[]>();
  for (let w = 0; w < words.length; w++) {
    const word = words[w] as Int32Array;
    const n = counts[w] as number;
    for (let i = 0; i + 1 < word.length; i++) {
      const key = (word[i] as number) * base + (word[i + 1] as number);
      const prev = pairCount.get(key);
      pairCount.set(key, (prev ?? 0) + n);
      let list = where.get(key);
      if (list === undefined) {
        list = [];
        where.set(key, list);
      }
      if (list[list.length - 1] !== w) list.push(w);
    }
  }
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);

  // 3. Merges.
  const merges: [number, number][] = [];
  const seenAt = new Int32Array(words.length).fill(-1);
  const delta = new Map<number, number>();
  const progressEvery = Math.max(1, Math.floor(wantMerges / 100));
  while (merges.length < wantMerges) {
    const top = heap.pop();
    if (top === undefined) break;
    const [stored, key] = top;
    const current = pairCount.get(key) ?? 0;
    if (stored !== current) {
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (current < minCount) break;
    const a = Math.floor(key / base);
    const b = key - a * base;
    const newId = 256 + merges.length;
    const mergeIdx = merges.length;
    merges.push([a, b]);
    delta.clear();
    const affected = where.get(key) ?? [];
    where.delete(key);
    for (const w of affected) {
      if (seenAt[w] === mergeIdx) continue;
      seenAt[w] = mergeIdx;
      const word = words[w] as Int32Array;
      let has = false;
      for (let i = 0; i + 1 < word.length; i++) {
        if (word[i] === a && word[i + 1] === b) {
          has = true;
          break;
        }
      }
      if (!has) continue; // stale index entry
      const n = counts[w] as number;
      for (let i = 0; i + 1 < word.length; i++) {
        const k = (word[i] as number) * base + (word[i + 1] as number);
        delta.set(k, (delta.get(k) ?? 0) - n);
      }
      const next = new Int32Array(word.length);
      let len = 0;
      for (let i = 0; i < word.length; i++) {
        if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
          next[len++] = newId;
          i++;
        } else {
          next[len++] = word[i] as number;
        }
      }
      const merged = next.slice(0, len);
      words[w] = merged;
      for (let i = 0; i + 1 < merged.length; i++) {
        const l = merged[i] as number;
        const r = merged[i + 1] as number;
        const k = l * base + r;
        delta.set(k, (delta.get(k) ?? 0) + n);
        if (l === newId || r === newId) {
          let list = where.get(k);
          if (list === undefined) {
            list = [];
            where.set(k, list);
          }
          if (list[list.length - 1] !== w) list.push(w);
        }
      }
    }
    for (const [k, d] of delta) {
      if (d === 0) continue;
      const c = (pairCount.get(k) ?? 0) + d;
      if (c <= 0) {
        pairCount.delete(k);
        where.delete(k);
      } else {
        pairCount.set(k, c);
        if (d > 0) heap.push(c, k);
      }
    }
    pairCount.delete(key);
    if (opts.onProgress && merges.length % progressEvery === 0) opts.onProgress(merges.length, wantMerges);
  }
  opts.onProgress?.(merges.length, wantMerges);
  return new BpeTokenizer(merges);
}
