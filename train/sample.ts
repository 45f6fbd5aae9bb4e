// Text from the model for people to read: the prompt ids of a sample, and decoding a growing
// token list as it streams (the evaluation samples and `webgpu-gpt generate`).
import type { Tokenizer } from './tokenizers/index.ts';

/** Streams decoded text of a growing token list (holding back a trailing partial UTF-8 character). */
export class TextStream {
  private ids: number[] = [];
  private emitted = 0;
  constructor(
    private readonly tok: Tokenizer,
    private readonly write: (s: string) => void,
  ) {}
  push(id: number): void {
    this.ids.push(id);
    const text = this.tok.decode(this.ids);
    let end = text.length;
    if (text.endsWith('\uFFFD')) end--; // maybe the first bytes of a character: wait for the rest
    if (end > this.emitted) {
      this.write(text.slice(this.emitted, end));
      this.emitted = end;
    }
  }
  flush(): void {
    const text = this.tok.decode(this.ids);
    if (text.length > this.emitted) this.write(text.slice(this.emitted));
    this.emitted = text.length;
  }
}

/** Prompt ids for a sample: the text, or the end-of-text id alone ("start of a document"). */
export function promptIds(tok: Tokenizer, prompt: string): number[] {
  const ids = prompt ? tok.encode(prompt) : [];
  return ids.length ? ids : [tok.eotId];
}
