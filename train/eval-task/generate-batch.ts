// Generation for evaluation: continuations of many prompts. A stand-in with the signature of the
// batched `generateBatch` that model/generate.ts is getting (B prompts at once through the KV
// cache); until it lands this one loops over the single-sequence `generate`, so the import can be
// swapped without touching its callers. Each prompt samples with its own seed (seed + index), so a
// prompt's output does not depend on the batch it falls in.
import { generate } from '../../model/generate.ts';
import type { GPT } from '../../model/gpt.ts';

export interface GenerateBatchOptions {
  /** New tokens per prompt (at most). */
  maxTokens: number;
  /** 0 (default here) is greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  /** Ends a prompt's generation; not returned. */
  stopToken?: number;
  /** Prompts per batch (the progress callback fires after each). */
  batchSize?: number;
  onBatch?: (done: number, total: number) => void;
}

/** The new tokens of each prompt (the stop token excluded), in the order of `prompts`. */
export async function generateBatch(model: GPT, prompts: number[][], opts: GenerateBatchOptions): Promise<number[][]> {
  const B = Math.max(1, opts.batchSize ?? 8);
  const out: number[][] = [];
  const stop = opts.stopToken === undefined ? [] : [opts.stopToken];
  for (let i = 0; i < prompts.length; i++) {
    const g = await generate(model, prompts[i]!, {
      maxTokens: opts.maxTokens,
      temperature: opts.temperature ?? 0,
      topK: opts.topK,
      topP: opts.topP,
      seed: (opts.seed ?? 0) + i,
      stop,
    });
    out.push(g.tokens);
    if ((i + 1) % B === 0 || i === prompts.length - 1) opts.onBatch?.(i + 1, prompts.length);
  }
  return out;
}
