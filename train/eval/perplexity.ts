// Language-model metrics from a summed negative log-likelihood. With NLL = Σ −ln p(token | context)
// in nats over N scored tokens of a text of C characters (Unicode code points) and B UTF-8 bytes:
//   loss            = NLL / N                 (mean nats per token, what training prints)
//   perplexity      = exp(NLL / N)
//   bits per token  = NLL / (N · ln 2)
//   bits per char   = NLL / (C · ln 2)
//   bits per byte   = NLL / (B · ln 2)
// Bits per character/byte compare models with different tokenizers (a token count depends on the
// tokenizer, the text's length does not). C and B must describe the same stretch of text the N
// tokens cover; when only part of a text was scored, the caller scales NLL to the whole (see
// train/cli/eval.ts) or passes the covered length.
import { MetricInputError } from './text.ts';

export interface NllTotals {
  /** Summed negative log-likelihood in nats. */
  nll: number;
  /** Tokens scored (targets that contributed to nll). */
  tokens: number;
  /** Characters (code points) of the scored text, when bits per character are wanted. */
  chars?: number;
  /** UTF-8 bytes of the scored text, when bits per byte are wanted. */
  bytes?: number;
}

export interface LmMetrics {
  loss: number;
  perplexity: number;
  bitsPerToken: number;
  /** null when no character count was given. */
  bitsPerChar: number | null;
  /** null when no byte count was given. */
  bitsPerByte: number | null;
}

function checkCount(name: string, v: number): void {
  if (!Number.isFinite(v) || v <= 0) throw new MetricInputError(`${name} must be a positive count, got ${v}`);
}

export function lmMetrics(t: NllTotals): LmMetrics {
  if (!Number.isFinite(t.nll) || t.nll < 0)
    throw new MetricInputError(`the summed negative log-likelihood must be finite and ≥ 0, got ${t.nll}`);
  checkCount('tokens', t.tokens);
  if (t.chars !== undefined) checkCount('chars', t.chars);
  if (t.bytes !== undefined) checkCount('bytes', t.bytes);
  const loss = t.nll / t.tokens;
  return {
    loss,
    perplexity: Math.exp(loss),
    bitsPerToken: loss / Math.LN2,
    bitsPerChar: t.chars === undefined ? null : t.nll / t.chars / Math.LN2,
    bitsPerByte: t.bytes === undefined ? null : t.nll / t.bytes / Math.LN2,
  };
}

/** Characters as Unicode code points (a surrogate pair is one character, unlike String.length). */
export function countChars(text: string): number {
  return text.length - (text.match(/[\uD800-\uDBFF][\uDC00-\uDFFF]/g)?.length ?? 0);
}

export function countBytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}
