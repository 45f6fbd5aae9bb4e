// The Tokenizer interface, the tokenizer.json formats, and what the tokenizers share: UTF-8
// codecs, a byte sink, the piece cache and the pre-tokenized encode loop.
/** The tokenizers that `prepare` can build and that `loadTokenizer` can read back. */
export type TokenizerKind = 'gpt2' | 'bpe' | 'char';

export const TOKENIZER_KINDS: readonly TokenizerKind[] = ['gpt2', 'bpe', 'char'];

/** File that every tokenizer writes into a prepared-data folder. */
export const TOKENIZER_FILE = 'tokenizer.json';

/** Text that every tokenizer decodes the end-of-text id to. */
export const EOT_TEXT = '<|endoftext|>';

/**
 * One interface for all tokenizers. Every tokenizer is lossless: `decode(encode(s)) === s` for any
 * well-formed string (emoji, CJK, combining marks, the empty string). `encode` never produces the
 * end-of-text id; `<|endoftext|>` inside text is encoded as ordinary text. The same holds for the
 * special tokens a tokenizer may add after it (special.ts: the fill-in-the-middle sentinels).
 */
export interface Tokenizer {
  readonly type: TokenizerKind;
  /** Short stable identifier, e.g. `gpt2` or `bpe-2048-1a2b3c4d` (stored in shard headers). */
  readonly id: string;
  /** Number of ids; every id is in [0, vocabSize). */
  readonly vocabSize: number;
  /** The end-of-text id used to separate documents. */
  readonly eotId: number;
  encode(text: string): number[];
  /** Decodes ids to text; the end-of-text id decodes to `<|endoftext|>`. Invalid UTF-8 sequences
   *  (possible only for partial sequences of byte-level tokens) decode to U+FFFD. */
  decode(ids: ArrayLike<number>): string;
  /** JSON-serialisable description that `tokenizerFromJSON` reads back. */
  toJSON(): TokenizerJSON;
  /** Writes `tokenizer.json` into `dir` (which must exist). */
  save(dir: string): void;
}

/** Ids after the base vocabulary (special.ts): id base + i is `specials[i]`. Absent: none. */
interface WithSpecials {
  specials?: string[];
}

export interface Gpt2TokenizerJSON extends WithSpecials {
  type: 'gpt2';
  version: 1;
}

export interface BpeTokenizerJSON extends WithSpecials {
  type: 'bpe';
  version: 1;
  /** Every id, the specials included. */
  vocabSize: number;
  eotId: number;
  /** Pre-tokenization regex source (flags `gu`). */
  pattern: string;
  /** Longest pre-token in UTF-16 units; longer ones are cut into pieces of this length. */
  maxPieceLength: number;
  /** Merge i creates id 256 + i from the pair of ids [a, b]. */
  merges: [number, number][];
}

export interface CharTokenizerJSON extends WithSpecials {
  type: 'char';
  version: 1;
  vocabSize: number;
  eotId: number;
  /** Character (code point) for id 256 + i. Ids 0..255 are raw UTF-8 bytes (fallback). */
  chars: string[];
}

export type TokenizerJSON = Gpt2TokenizerJSON | BpeTokenizerJSON | CharTokenizerJSON;

/** 32-bit FNV-1a over a string's UTF-16 code units, as 8 hex digits (for tokenizer ids). */
export function fnv1aHex(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h >>> 0).toString(16).padStart(8, '0');
}

/** Growable byte buffer used by the byte-level decoders. */
export class ByteSink {
  private buf = new Uint8Array(256);
  length = 0;

  push(byte: number): void {
    if (this.length === this.buf.length) this.grow(this.length + 1);
    this.buf[this.length++] = byte;
  }

  pushAll(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.buf.length) this.grow(this.length + bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }

  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }

  private grow(min: number): void {
    let cap = this.buf.length * 2;
    while (cap < min) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }
}

export const utf8Encoder = new TextEncoder();
export const utf8Decoder = new TextDecoder('utf-8');

/**
 * Bounded memo of piece -> ids with two generations: when the young map is full it becomes the old
 * one (the previous old one is dropped) and hits in the old map are promoted. Frequent pieces
 * therefore stay cached however large the corpus's vocabulary is, at a bounded memory cost.
 */
export class PieceCache {
  private young = new Map<string, number[]>();
  private old = new Map<string, number[]>();

  constructor(private readonly limit = 250_000) {}

  get(piece: string): number[] | undefined {
    const hit = this.young.get(piece);
    if (hit !== undefined) return hit;
    const old = this.old.get(piece);
    if (old !== undefined) this.set(piece, old);
    return old;
  }

  set(piece: string, ids: number[]): void {
    if (this.young.size >= this.limit) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(piece, ids);
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

/**
 * The encode loop of the byte-level BPEs (bpe.ts, gpt2.ts): split `text` with the pre-tokenizer
 * regex (global), cut pieces longer than `maxPiece`, and encode each distinct piece once: natural
 * text repeats its pieces, so the cache makes encoding a corpus several times faster.
 */
export function encodePieces(
  text: string,
  pattern: RegExp,
  cache: PieceCache,
  encodePiece: (piece: string) => number[],
  maxPiece = Infinity,
): number[] {
  const out: number[] = [];
  const add = (piece: string): void => {
    let ids = cache.get(piece);
    if (ids === undefined) {
      ids = encodePiece(piece);
      cache.set(piece, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i] as number);
  };
  pattern.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = pattern.exec(text)) !== null) {
    const piece = m[0];
    if (piece.length > maxPiece) for (const part of cutPiece(piece, maxPiece)) add(part);
    else add(piece);
  }
  return out;
}
