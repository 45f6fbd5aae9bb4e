// Byte-level BPE trained here: GPT-2's pre-tokenizer regex, merges learnt from the train split
// (trainBpe, incremental pair counts and a lazy heap), lowest-rank-first encoding of each piece.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ByteSink,
  EOT_TEXT,
  PieceCache,
  TOKENIZER_FILE,
  cutPiece,
  encodePieces,
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
    return encodePieces(text, this.pattern, this.cache, (piece) => this.encodePiece(piece), this.maxPiece);
  }

  /** One pre-token: the lowest-rank merge first, until none applies. */
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

/** Pre-token frequencies as byte sequences; pieces of one byte have no pairs and are left out. */
function countWords(texts: Iterable<string>): { words: Int32Array[]; counts: number[] } {
  const pattern = new RegExp(BPE_PATTERN, 'gu');
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
  return { words, counts };
}

/** `word` with every non-overlapping (a, b), left to right, replaced by `id`. */
function mergePair(word: Int32Array, a: number, b: number, id: number): Int32Array {
  const next = new Int32Array(word.length);
  let len = 0;
  for (let i = 0; i < word.length; i++) {
    if (i + 1 < word.length && word[i] === a && word[i + 1] === b) {
      next[len++] = id;
      i++;
    } else {
      next[len++] = word[i] as number;
    }
  }
  return next.slice(0, len);
}

function hasPair(word: Int32Array, a: number, b: number): boolean {
  for (let i = 0; i + 1 < word.length; i++) if (word[i] === a && word[i + 1] === b) return true;
  return false;
}

/**
 * The training state: the words, the count of every adjacent pair (key = left * base + right, unique
 * since ids < base), which words hold each pair, and a lazy max-heap of pair counts (stale entries
 * are skipped when popped).
 */
class PairCounts {
  readonly count = new Map<number, number>();
  private readonly where = new Map<number, number[]>();
  private readonly heap = new PairHeap();
  private readonly seenAt: Int32Array;
  private readonly delta = new Map<number, number>();

  constructor(
    private readonly words: Int32Array[],
    private readonly counts: number[],
    readonly base: number,
  ) {
    this.seenAt = new Int32Array(words.length).fill(-1);
    for (let w = 0; w < words.length; w++) {
      const word = words[w] as Int32Array;
      const n = counts[w] as number;
      for (let i = 0; i + 1 < word.length; i++) {
        const key = (word[i] as number) * base + (word[i + 1] as number);
        this.count.set(key, (this.count.get(key) ?? 0) + n);
        this.index(key, w);
      }
    }
    for (const [key, c] of this.count) this.heap.push(c, key);
  }

  private index(key: number, w: number): void {
    let list = this.where.get(key);
    if (list === undefined) {
      list = [];
      this.where.set(key, list);
    }
    if (list[list.length - 1] !== w) list.push(w);
  }

  /** The most frequent pair and its count (ties: the smaller key), or undefined when none is left. */
  top(): [number, number] | undefined {
    for (;;) {
      const top = this.heap.pop();
      if (top === undefined) return undefined;
      const [stored, key] = top;
      const current = this.count.get(key) ?? 0;
      if (stored === current) return [key, current];
      if (current > 0) this.heap.push(current, key);
    }
  }

  /** Merges pair `key` into `newId` in every word that holds it and updates the counts. */
  merge(key: number, newId: number, mergeIdx: number): void {
    const { base, delta } = this;
    const a = Math.floor(key / base);
    const b = key - a * base;
    delta.clear();
    const affected = this.where.get(key) ?? [];
    this.where.delete(key);
    for (const w of affected) {
      if (this.seenAt[w] === mergeIdx) continue;
      this.seenAt[w] = mergeIdx;
      const word = this.words[w] as Int32Array;
      if (!hasPair(word, a, b)) continue; // stale index entry
      const n = this.counts[w] as number;
      for (let i = 0; i + 1 < word.length; i++) {
        const k = (word[i] as number) * base + (word[i + 1] as number);
        delta.set(k, (delta.get(k) ?? 0) - n);
      }
      const merged = mergePair(word, a, b, newId);
      this.words[w] = merged;
      for (let i = 0; i + 1 < merged.length; i++) {
        const l = merged[i] as number;
        const r = merged[i + 1] as number;
        const k = l * base + r;
        delta.set(k, (delta.get(k) ?? 0) + n);
        if (l === newId || r === newId) this.index(k, w);
      }
    }
    this.applyDelta();
    this.count.delete(key);
  }

  private applyDelta(): void {
    for (const [k, d] of this.delta) {
      if (d === 0) continue;
      const c = (this.count.get(k) ?? 0) + d;
      if (c <= 0) {
        this.count.delete(k);
        this.where.delete(k);
      } else {
        this.count.set(k, c);
        if (d > 0) this.heap.push(c, k);
      }
    }
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
  const { words, counts } = countWords(texts);
  const pairs = new PairCounts(words, counts, target);
  const merges: [number, number][] = [];
  const progressEvery = Math.max(1, Math.floor(wantMerges / 100));
  while (merges.length < wantMerges) {
    const top = pairs.top();
    if (top === undefined || top[1] < minCount) break;
    const [key] = top;
    const a = Math.floor(key / pairs.base);
    merges.push([a, key - a * pairs.base]);
    pairs.merge(key, 256 + merges.length - 1, merges.length - 1);
    if (opts.onProgress && merges.length % progressEvery === 0) opts.onProgress(merges.length, wantMerges);
  }
  opts.onProgress?.(merges.length, wantMerges);
  return new BpeTokenizer(merges);
}
