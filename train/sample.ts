// Text from the model for people to read: the prompt ids of a sample (the evaluation samples and
// `webgpu-gpt generate`; streaming decode is model/generate.ts TextStream).
import type { Tokenizer } from './tokenizers/index.ts';

/** Prompt ids for a sample: the text, or the end-of-text id alone ("start of a document"). */
export function promptIds(tok: Tokenizer, prompt: string): number[] {
  const ids = prompt ? tok.encode(prompt) : [];
  return ids.length ? ids : [tok.eotId];
}
