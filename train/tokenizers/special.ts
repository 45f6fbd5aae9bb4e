// Special tokens after end-of-text: a tokenizer grown by a few ids (the fill-in-the-middle
// sentinels) that ordinary text never encodes to, exactly as `<|endoftext|>` is handled: `encode`
// treats their strings as plain text; only a caller that names them (encodeWithSpecials, or pushing
// the id itself) gets the id.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { EOT_TEXT, TOKENIZER_FILE, type Tokenizer, type TokenizerJSON } from './types.ts';

/** The fill-in-the-middle sentinels, named as OpenAI's and StarCoder-family tokenizers name them,
 *  in OpenAI's id order (prefix, middle, suffix). */
export const FIM_PREFIX = '<|fim_prefix|>';
export const FIM_MIDDLE = '<|fim_middle|>';
export const FIM_SUFFIX = '<|fim_suffix|>';
export const FIM_TOKENS: readonly string[] = [FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX];

const SPECIAL_NAME = /^<\|[a-z0-9_]+\|>$/;

/**
 * `base` with `specials.length` more ids after its own: id base.vocabSize + i is `specials[i]`.
 * Encoding is the base's (so a special token's string inside text stays text); decoding maps the
 * extra ids back to their strings. The id gains a suffix so shards made with and without the
 * specials never pass for each other.
 */
export class SpecialTokenizer implements Tokenizer {
  readonly type: Tokenizer['type'];
  readonly id: string;
  readonly vocabSize: number;
  readonly eotId: number;
  readonly specials: readonly string[];

  constructor(
    readonly base: Tokenizer,
    specials: readonly string[],
  ) {
    if (base instanceof SpecialTokenizer) throw new Error('special tokens: the base already has special tokens');
    if (specials.length === 0) throw new Error('special tokens: none given');
    for (const s of specials) {
      if (!SPECIAL_NAME.test(s) || s === EOT_TEXT)
        throw new Error(`special tokens: ${JSON.stringify(s)} is not a <|name|> other than ${EOT_TEXT}`);
    }
    if (new Set(specials).size !== specials.length) throw new Error('special tokens: duplicates');
    this.specials = [...specials];
    this.type = base.type;
    this.eotId = base.eotId;
    this.vocabSize = base.vocabSize + specials.length;
    const same = specials.length === FIM_TOKENS.length && specials.every((s, i) => s === FIM_TOKENS[i]);
    this.id = `${base.id}+${same ? 'fim' : specials.map((s) => s.slice(2, -2)).join(',')}`;
  }

  /** The id of a special token (end-of-text included), or undefined. */
  idOf(name: string): number | undefined {
    if (name === EOT_TEXT) return this.eotId;
    const i = this.specials.indexOf(name);
    return i < 0 ? undefined : this.base.vocabSize + i;
  }

  encode(text: string): number[] {
    return this.base.encode(text);
  }

  decode(ids: ArrayLike<number>): string {
    const V = this.base.vocabSize;
    let out = '';
    let run: number[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i] as number;
      if (id < V) {
        run.push(id);
        continue;
      }
      const name = this.specials[id - V];
      if (name === undefined) throw new RangeError(`${this.id}: id ${id} out of range [0, ${this.vocabSize})`);
      out += this.base.decode(run) + name;
      run = [];
    }
    return out + this.base.decode(run);
  }

  toJSON(): TokenizerJSON {
    const json = this.base.toJSON();
    // The file's vocabSize counts every id, the specials included.
    if ('vocabSize' in json) return { ...json, vocabSize: this.vocabSize, specials: [...this.specials] };
    return { ...json, specials: [...this.specials] };
  }

  save(dir: string): void {
    writeFileSync(join(dir, TOKENIZER_FILE), JSON.stringify(this.toJSON()) + '\n');
  }
}

/** The id of a special token in `tok` (end-of-text for every tokenizer), or undefined. */
export function specialId(tok: Tokenizer, name: string): number | undefined {
  if (tok instanceof SpecialTokenizer) return tok.idOf(name);
  return name === EOT_TEXT ? tok.eotId : undefined;
}

export interface FimIds {
  prefix: number;
  middle: number;
  suffix: number;
}

/** The three sentinel ids, or null for a tokenizer made without them. */
export function fimIds(tok: Tokenizer): FimIds | null {
  const prefix = specialId(tok, FIM_PREFIX);
  const middle = specialId(tok, FIM_MIDDLE);
  const suffix = specialId(tok, FIM_SUFFIX);
  if (prefix === undefined || middle === undefined || suffix === undefined) return null;
  return { prefix, middle, suffix };
}

/** `tok` with the FIM sentinels added (the vocabulary grows by three). */
export function withFimSentinels(tok: Tokenizer): SpecialTokenizer {
  return new SpecialTokenizer(tok, FIM_TOKENS);
}

/**
 * Encodes text in which the special tokens named in `allowed` (end-of-text and the tokenizer's own
 * specials) stand for their ids; everything else, including the strings of specials not allowed, is
 * ordinary text. `tok.encode` is this with nothing allowed.
 */
export function encodeWithSpecials(tok: Tokenizer, text: string, allowed: readonly string[]): number[] {
  const names = allowed.filter((n) => specialId(tok, n) !== undefined);
  if (names.length === 0) return tok.encode(text);
  const escaped = names.map((n) => n.replace(/[|]/g, '\\|'));
  const out: number[] = [];
  let last = 0;
  for (const m of text.matchAll(new RegExp(escaped.join('|'), 'g'))) {
    out.push(...tok.encode(text.slice(last, m.index)), specialId(tok, m[0]) as number);
    last = m.index + m[0].length;
  }
  out.push(...tok.encode(text.slice(last)));
  return out;
}
