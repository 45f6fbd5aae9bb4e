// The character tokenizer: one id per character seen in the train split, with a byte fallback for
// the rest.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ByteSink,
  EOT_TEXT,
  TOKENIZER_FILE,
  fnv1aHex,
  utf8Decoder,
  utf8Encoder,
  type CharTokenizerJSON,
  type Tokenizer,
} from './types.ts';

/**
 * Character tokenizer: one id per character (Unicode code point) seen in the training text, with a
 * byte fallback so that any text round-trips: ids 0..255 are raw UTF-8 bytes, used for characters
 * that are not in the vocabulary (as sentencepiece's byte fallback does); 256 + i is `chars[i]`;
 * the last id is end-of-text.
 */
export class CharTokenizer implements Tokenizer {
  readonly type = 'char' as const;
  readonly id: string;
  readonly vocabSize: number;
  readonly eotId: number;
  readonly chars: readonly string[];
  private readonly index = new Map<number, number>();
  private readonly charBytes: Uint8Array[];

  constructor(chars: readonly string[]) {
    this.chars = [...chars];
    this.charBytes = [];
    chars.forEach((ch, i) => {
      const cp = ch.codePointAt(0);
      if (cp === undefined || String.fromCodePoint(cp) !== ch) {
        throw new Error(`char tokenizer: entry ${i} is not exactly one code point: ${JSON.stringify(ch)}`);
      }
      if (this.index.has(cp)) throw new Error(`char tokenizer: duplicate character ${JSON.stringify(ch)}`);
      this.index.set(cp, 256 + i);
      this.charBytes.push(utf8Encoder.encode(ch));
    });
    this.vocabSize = 256 + chars.length + 1;
    this.eotId = this.vocabSize - 1;
    this.id = `char-${this.vocabSize}-${fnv1aHex(chars.join(''))}`;
  }

  /** Builds the vocabulary from the characters of `texts`: all of them, or the `maxChars` most frequent
   *  (ties broken by code point); ids are assigned in code point order. */
  static fromTexts(texts: Iterable<string>, maxChars?: number): CharTokenizer {
    const freq = new Map<number, number>();
    for (const text of texts) {
      for (let i = 0; i < text.length; i++) {
        const cp = text.codePointAt(i) as number;
        if (cp > 0xffff) i++;
        freq.set(cp, (freq.get(cp) ?? 0) + 1);
      }
    }
    let cps = [...freq.keys()];
    if (maxChars !== undefined && cps.length > maxChars) {
      cps.sort((x, y) => (freq.get(y) as number) - (freq.get(x) as number) || x - y);
      cps = cps.slice(0, Math.max(0, maxChars));
    }
    cps.sort((x, y) => x - y);
    // Lone surrogates cannot be stored as a string of one code point that survives JSON: leave them to
    // the byte fallback (they encode to U+FFFD there, as in every UTF-8 tokenizer).
    return new CharTokenizer(cps.filter((cp) => cp < 0xd800 || cp > 0xdfff).map((cp) => String.fromCodePoint(cp)));
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (let i = 0; i < text.length; i++) {
      const cp = text.codePointAt(i) as number;
      const wide = cp > 0xffff;
      const id = this.index.get(cp);
      if (id !== undefined) {
        out.push(id);
      } else {
        for (const byte of utf8Encoder.encode(text.slice(i, wide ? i + 2 : i + 1))) out.push(byte);
      }
      if (wide) i++;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    const sink = new ByteSink();
    const eot = utf8Encoder.encode(EOT_TEXT);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id >= 0 && id < 256) sink.push(id);
      else if (id === this.eotId) sink.pushAll(eot);
      else {
        const bytes = this.charBytes[id - 256];
        if (bytes === undefined) throw new RangeError(`char: id ${id} out of range [0, ${this.vocabSize})`);
        sink.pushAll(bytes);
      }
    }
    return utf8Decoder.decode(sink.bytes());
  }

  toJSON(): CharTokenizerJSON {
    return { type: 'char', version: 1, vocabSize: this.vocabSize, eotId: this.eotId, chars: [...this.chars] };
  }

  save(dir: string): void {
    writeFileSync(join(dir, TOKENIZER_FILE), JSON.stringify(this.toJSON()) + '\n');
  }

  static fromJSON(json: CharTokenizerJSON): CharTokenizer {
    const tok = new CharTokenizer(json.chars);
    if (tok.vocabSize !== json.vocabSize || tok.eotId !== json.eotId) {
      throw new Error(
        `char tokenizer file is inconsistent: vocabSize ${json.vocabSize} but ${json.chars.length} characters`,
      );
    }
    return tok;
  }
}
