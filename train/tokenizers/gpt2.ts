// GPT-2's tokenizer (ids identical to OpenAI's `gpt2` encoding) through js-tiktoken.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tiktoken } from 'js-tiktoken/lite';
import gpt2Ranks from 'js-tiktoken/ranks/gpt2';
import { PieceCache, TOKENIZER_FILE, encodePieces, type Gpt2TokenizerJSON, type Tokenizer } from './types.ts';

/** GPT-2 vocabulary size: 50,000 merges + 256 bytes + `<|endoftext|>`. */
export const GPT2_VOCAB_SIZE = 50257;
export const GPT2_EOT_ID = 50256;

let shared: Tiktoken | undefined;

/** The parsed GPT-2 ranks (parsing the table takes a noticeable fraction of a second: done once). */
function tiktoken(): Tiktoken {
  shared ??= new Tiktoken(gpt2Ranks);
  return shared;
}

/**
 * GPT-2's byte-level BPE (ids identical to OpenAI's `gpt2` encoding) through js-tiktoken, which ships
 * the ranks in the package and works offline. Pre-tokenization uses GPT-2's regex; encoded pieces are
 * cached, which makes encoding a large corpus several times faster than calling js-tiktoken directly.
 */
export class Gpt2Tokenizer implements Tokenizer {
  readonly type = 'gpt2' as const;
  readonly id = 'gpt2';
  readonly vocabSize = GPT2_VOCAB_SIZE;
  readonly eotId = GPT2_EOT_ID;
  private readonly enc = tiktoken();
  private readonly pattern = new RegExp(gpt2Ranks.pat_str, 'gu');
  private readonly cache = new PieceCache();

  encode(text: string): number[] {
    // [] / []: special-token strings inside text are plain text, never an error.
    return encodePieces(text, this.pattern, this.cache, (piece) => this.enc.encode(piece, [], []));
  }

  decode(ids: ArrayLike<number>): string {
    return this.enc.decode(Array.from(ids));
  }

  toJSON(): Gpt2TokenizerJSON {
    return { type: 'gpt2', version: 1 };
  }

  save(dir: string): void {
    writeFileSync(join(dir, TOKENIZER_FILE), JSON.stringify(this.toJSON()) + '\n');
  }
}
