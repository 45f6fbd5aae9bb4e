// `eval --task lm`: the loss, perplexity and bits per character of a model on a text file (read
// and checked as `prepare` reads text) or on a prepared folder's validation shard. The text is cut
// into non-overlapping windows of the model's context; the mean loss of the scored windows stands
// for every target of the text.
import { readFileSync, statSync } from 'node:fs';
import type { GPT } from '../../model/gpt.ts';
import { CliError } from '../cli-error.ts';
import { decodeUtf8, looksBinary } from '../data/inputs.ts';
import { evalBatches } from '../data/shards.ts';
import { countChars, lmMetrics } from '../eval/perplexity.ts';
import { evaluateBatches } from '../evaluate.ts';
import { loadData } from '../objectives/pretrain.ts';
import type { Tokenizer } from '../tokenizers/types.ts';

/** Token ids to score, with the text's length in characters when it is known. */
export interface LmData {
  ids: ArrayLike<number>;
  /** Characters (code points) of the text; null for a prepared folder (its text is not kept). */
  chars: number | null;
  /** What was read, for the report: `text file` or `prepared folder (val.bin)`. */
  source: string;
}

export interface LmResult {
  task: 'lm';
  loss: number;
  perplexity: number;
  /** Tokens of the text (or shard). */
  tokens: number;
  /** Targets scored (every token that has a predecessor in its window). */
  scored: number;
  /** Bits per character of the text: loss × (tokens − 1) / chars / ln 2 (null without the text). */
  bitsPerChar: number | null;
}

/** The text of --input, refusing what `prepare` refuses: binary files and invalid UTF-8. */
export function readInputText(input: string): string {
  const bytes = readFileSync(input);
  if (looksBinary(bytes))
    throw new CliError(`--input ${input}: looks like a binary file (NUL or control bytes), not text`);
  const dec = decodeUtf8(bytes);
  if (!dec.ok)
    throw new CliError(`--input ${input}: invalid UTF-8 at line ${dec.line} (byte ${dec.offset}); save it as UTF-8`);
  return dec.text;
}

/** A text file tokenized with `tok`, or a prepared folder's val.bin (made with the same tokenizer). */
export function readLmData(input: string, tok: Tokenizer): LmData {
  if (statSync(input).isDirectory()) {
    let d;
    try {
      d = loadData(input);
    } catch (e) {
      if (e instanceof CliError) throw new CliError(e.message.replace(/^--data /, '--input '));
      throw e;
    }
    if (d.tokenizer.id !== tok.id)
      throw new CliError(`--input ${input}: prepared with tokenizer ${d.tokenizer.id}, but the model uses ${tok.id}`);
    return { ids: d.val, chars: null, source: 'prepared folder (val.bin)' };
  }
  const text = readInputText(input);
  return { ids: tok.encode(text), chars: countChars(text), source: 'text file' };
}

/** Mean loss over the windows of the data (at most maxBatches batches of B windows; 0 = all). */
export async function evaluateLm(model: GPT, data: LmData, B: number, maxBatches: number, input: string) {
  const n = data.ids.length;
  // Short texts: one window of whatever length there is.
  const win = Math.min(model.config.blockSize, n - 1);
  if (win < 1) throw new CliError(`--input ${input}: the text has ${n} token(s); at least 2 are needed`);
  const batches = [...evalBatches(data.ids, B, win, maxBatches > 0 ? maxBatches : Infinity)];
  const loss = await evaluateBatches(model, batches, B, win);
  if (!Number.isFinite(loss))
    throw new CliError(`--input ${input}: the model's loss is ${loss} (the checkpoint may have diverged)`);
  const scored = batches.reduce((s, b) => s + b.rows * win, 0);
  const lm = lmMetrics({ nll: loss * (n - 1), tokens: n - 1, ...(data.chars ? { chars: data.chars } : {}) });
  const res: LmResult = {
    task: 'lm',
    loss,
    perplexity: lm.perplexity,
    tokens: n,
    scored,
    bitsPerChar: lm.bitsPerChar,
  };
  return res;
}
