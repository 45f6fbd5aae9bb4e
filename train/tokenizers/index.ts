// The tokenizers behind one interface: build one by kind on the train split, or load the one a
// prepared folder (or checkpoint) names.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BpeTokenizer, trainBpe } from './bpe.ts';
import { CharTokenizer } from './char.ts';
import { Gpt2Tokenizer, GPT2_VOCAB_SIZE } from './gpt2.ts';
import { SpecialTokenizer } from './special.ts';
import { TOKENIZER_FILE, TOKENIZER_KINDS, type Tokenizer, type TokenizerJSON, type TokenizerKind } from './types.ts';

export * from './types.ts';
export { BpeTokenizer, trainBpe, pretokenize, BPE_PATTERN } from './bpe.ts';
export { CharTokenizer } from './char.ts';
export { Gpt2Tokenizer, GPT2_VOCAB_SIZE, GPT2_EOT_ID } from './gpt2.ts';
export * from './special.ts';

export function isTokenizerKind(x: string): x is TokenizerKind {
  return (TOKENIZER_KINDS as readonly string[]).includes(x);
}

export interface BuildTokenizerOptions {
  /** bpe: target vocabulary (default 2048); char: cap on the vocabulary (default: every character
   *  seen); gpt2: must be 50257 if given. */
  vocabSize?: number;
  onProgress?: (done: number, total: number) => void;
}

export const DEFAULT_BPE_VOCAB = 2048;

/** Builds (trains, for bpe and char) a tokenizer of `kind` on `texts`. */
export function buildTokenizer(
  kind: TokenizerKind,
  texts: Iterable<string>,
  opts: BuildTokenizerOptions = {},
): Tokenizer {
  switch (kind) {
    case 'gpt2':
      if (opts.vocabSize !== undefined && opts.vocabSize !== GPT2_VOCAB_SIZE) {
        throw new RangeError(
          `the gpt2 tokenizer has a fixed vocabulary of ${GPT2_VOCAB_SIZE}; --vocabSize ${opts.vocabSize} does not apply`,
        );
      }
      return new Gpt2Tokenizer();
    case 'bpe':
      return trainBpe(texts, { vocabSize: opts.vocabSize ?? DEFAULT_BPE_VOCAB, onProgress: opts.onProgress });
    case 'char': {
      if (opts.vocabSize !== undefined && (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 257)) {
        throw new RangeError(
          `char: vocabSize must be an integer >= 257 (256 fallback bytes + end-of-text), got ${opts.vocabSize}`,
        );
      }
      return CharTokenizer.fromTexts(texts, opts.vocabSize === undefined ? undefined : opts.vocabSize - 257);
    }
  }
}

/** Rebuilds a tokenizer from its JSON description (what `tokenizer.toJSON()` returned). */
export function tokenizerFromJSON(json: TokenizerJSON): Tokenizer {
  const specials = json.specials ?? [];
  if (specials.length === 0) return baseFromJSON(json);
  if (!Array.isArray(specials) || !specials.every((s) => typeof s === 'string'))
    throw new Error('tokenizer file: "specials" must be a list of strings');
  // The file's vocabSize counts the specials; the base's own does not.
  const base = 'vocabSize' in json ? { ...json, vocabSize: json.vocabSize - specials.length } : json;
  return new SpecialTokenizer(baseFromJSON({ ...base, specials: undefined }), specials);
}

function baseFromJSON(json: TokenizerJSON): Tokenizer {
  switch (json.type) {
    case 'gpt2':
      return new Gpt2Tokenizer();
    case 'bpe':
      return BpeTokenizer.fromJSON(json);
    case 'char':
      return CharTokenizer.fromJSON(json);
    default: {
      const t: unknown = (json as { type?: unknown }).type;
      throw new Error(`unknown tokenizer type ${JSON.stringify(t)}`);
    }
  }
}

/**
 * Loads the tokenizer that `prepare` wrote: `dir` is a prepared-data folder (containing
 * `tokenizer.json`) or the path of a tokenizer JSON file itself.
 */
export function loadTokenizer(dir: string): Tokenizer {
  const file = existsSync(dir) && statSync(dir).isDirectory() ? join(dir, TOKENIZER_FILE) : dir;
  if (!existsSync(file)) throw new Error(`no tokenizer found: ${file} does not exist`);
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(`${file}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof json !== 'object' || json === null || !('type' in json)) {
    throw new Error(`${file}: not a tokenizer file (no "type" field)`);
  }
  return tokenizerFromJSON(json as TokenizerJSON);
}
