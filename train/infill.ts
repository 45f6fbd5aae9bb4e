// Infilling with a model pre-trained on fill-in-the-middle data (data/fim.ts): the prompt
// `<PRE> prefix <SUF> suffix <MID>` (or SPM's order), a generated middle up to end-of-text, and the
// scoring of held-out documents with a masked span (eval/infill.ts holds the pure part).
// `webgpu-gpt generate --infill` and `eval --task infill` run these. The `l2r` mode is the baseline
// any model can run, with or without FIM: it only sees the prefix and continues it.
import { fromArray, noGrad, tidy } from '../engine/index.ts';
import { Rng } from '../kernels/random.ts';
import { generate } from '../model/generate.ts';
import type { GPT } from '../model/gpt.ts';
import { CliError } from './cli-error.ts';
import { loadPrepared } from './data/dataset.ts';
import type { FimMode, FimParts } from './data/fim.ts';
import {
  infillExactMatch,
  maskWords,
  normalizeWords,
  summarizeInfill,
  type InfillItem,
  type InfillScore,
} from './eval/infill.ts';
import { fimIds, type FimIds, type Tokenizer } from './tokenizers/index.ts';

export const GAP_MARKER = '[MASK]';

/** PSM or SPM prompts for a FIM model; `l2r`: end-of-text and the prefix alone (the baseline). */
export type InfillMode = FimMode | 'l2r';

export const NOT_TRAINED_FOR_INFILL =
  'this model was not trained for infilling (no FIM sentinels in its tokenizer): pre-train it on data prepared with --fimRate';

/** The text before and after the one gap marker; a CliError for none or several. */
export function splitAtGap(text: string, marker = GAP_MARKER): { prefix: string; suffix: string } {
  const parts = text.split(marker);
  if (parts.length === 1) throw new CliError(`--infill: the text has no gap: mark the missing part with ${marker}`);
  if (parts.length > 2)
    throw new CliError(`--infill: the text has ${parts.length - 1} gaps; mark exactly one with ${marker}`);
  return { prefix: parts[0]!, suffix: parts[1]! };
}

/** The sentinels of `tok`, or the CliError that says the model cannot infill. */
export function requireFim(tok: Tokenizer): FimIds {
  const s = fimIds(tok);
  if (s === null) throw new CliError(NOT_TRAINED_FOR_INFILL);
  return s;
}

/**
 * The infilling prompt, at most `maxTokens` long: the prefix's last tokens and the suffix's first
 * ones (each part may use what the other leaves of half the room), as training saw them — each
 * part encoded on its own. `l2r`: end-of-text and the prefix's last tokens.
 */
export function infillPrompt(
  tok: Tokenizer,
  prefix: string,
  suffix: string,
  maxTokens: number,
  mode: InfillMode = 'psm',
): number[] {
  if (mode === 'l2r') {
    const p = tok.encode(prefix);
    return [tok.eotId, ...p.slice(Math.max(0, p.length - Math.max(0, maxTokens - 1)))];
  }
  const s = requireFim(tok);
  const room = Math.max(0, maxTokens - 4);
  let p = tok.encode(prefix);
  let q = tok.encode(suffix);
  const keepQ = Math.min(q.length, Math.max(Math.floor(room / 2), room - p.length));
  p = p.slice(Math.max(0, p.length - (room - keepQ)));
  q = q.slice(0, keepQ);
  // End-of-text first: in training a FIM example always follows one (the document before it).
  const e = tok.eotId;
  return mode === 'psm' ? [e, s.prefix, ...p, s.suffix, ...q, s.middle] : [e, s.prefix, s.suffix, ...q, s.middle, ...p];
}

export interface InfillOptions {
  maxTokens: number;
  /** Default 0: greedy. */
  temperature?: number;
  topK?: number;
  topP?: number;
  seed?: number;
  mode?: InfillMode;
  onToken?: (id: number) => void;
}

/** Generates the middle between `prefix` and `suffix` until end-of-text (or a sentinel, or
 *  maxTokens). Half the context at most is kept for the middle; the prompt gets the rest. */
export async function infill(
  model: GPT,
  tok: Tokenizer,
  prefix: string,
  suffix: string,
  o: InfillOptions,
): Promise<{ middle: string; tokens: number[]; reason: string; ms: number }> {
  const s = o.mode === 'l2r' ? null : requireFim(tok);
  const T = model.config.blockSize;
  const prompt = infillPrompt(tok, prefix, suffix, T - Math.min(o.maxTokens, Math.floor(T / 2)), o.mode);
  const res = await generate(model, prompt, {
    maxTokens: o.maxTokens,
    temperature: o.temperature ?? 0,
    topK: o.topK,
    topP: o.topP,
    seed: o.seed,
    stop: s ? [tok.eotId, s.prefix, s.middle, s.suffix] : [tok.eotId],
    onToken: o.onToken ? (id) => o.onToken!(id) : undefined,
  });
  return { middle: tok.decode(res.tokens), tokens: res.tokens, reason: res.reason, ms: res.ms };
}

/** Summed loss (nats) of `middle`'s tokens after the infilling prompt, and how many were scored
 *  (those that fit the context with a prompt of at least end-of-text and the three sentinels). */
export async function middleLoss(
  model: GPT,
  tok: Tokenizer,
  parts: { prefix: string; middle: string; suffix: string },
  mode: InfillMode = 'psm',
): Promise<{ nll: number; tokens: number }> {
  const T = model.config.blockSize;
  const mid = tok.encode(parts.middle).slice(0, Math.max(0, T - 3));
  if (mid.length === 0) return { nll: 0, tokens: 0 };
  const prompt = infillPrompt(tok, parts.prefix, parts.suffix, T + 1 - mid.length, mode);
  const seq = [...prompt, ...mid];
  const inp = new Int32Array(T).fill(tok.eotId);
  const tgt = new Int32Array(T).fill(-1);
  inp.set(seq.slice(0, -1));
  for (let i = prompt.length - 1; i < seq.length - 1; i++) tgt[i] = seq[i + 1]!;
  const wasTraining = model.training;
  model.eval();
  try {
    const loss = tidy(() =>
      noGrad(() => model.forward(fromArray(inp, [1, T], 'i32'), fromArray(tgt, [1, T], 'i32'), { train: false }).loss!),
    );
    const v = ((await loss.data()) as Float32Array)[0]!;
    loss.dispose();
    return { nll: v * mid.length, tokens: mid.length };
  } finally {
    model.training = wasTraining;
  }
}

export interface ScoreInfillOptions {
  /** Seed of the masked spans. */
  seed: number;
  /** Words masked per document: 1 to this many (default 3). */
  maxWords?: number;
  /** Tokens generated per filling at most (default 16). */
  maxTokens?: number;
  /** `l2r` scores the left-to-right baseline: the continuation of the prefix, cut to as many words
   *  as were masked (the model need not know where the gap ends), and the middle's loss given the
   *  prefix alone. */
  mode?: InfillMode;
  /** > 0: the prefix and suffix keep only about this many characters next to the gap (whole words),
   *  so the pieces look like the short FIM fragments of `prepare --fimChars`; 0 (default): all. */
  contextChars?: number;
  /** Called after each document. */
  onItem?: (item: InfillItem, index: number) => void;
}

/**
 * Infilling on held-out documents: in each, a seeded span of words is masked, the model fills it
 * greedily, and the filling is compared with the masked words (exact match); the loss over the
 * masked tokens is measured too. Documents without a word are skipped.
 */
export async function scoreInfill(
  model: GPT,
  tok: Tokenizer,
  docs: readonly string[],
  o: ScoreInfillOptions,
): Promise<InfillScore & { items: InfillItem[] }> {
  if (o.mode !== 'l2r') requireFim(tok);
  const rng = new Rng(o.seed, 'sfc32');
  const items: InfillItem[] = [];
  for (const doc of docs) {
    const masked = maskWords(doc, rng, o.maxWords ?? 3);
    if (masked === null) continue;
    const parts = o.contextChars ? nearGap(masked, o.contextChars) : masked;
    const filled = await infill(model, tok, parts.prefix, parts.suffix, { maxTokens: o.maxTokens ?? 16, mode: o.mode });
    const { nll, tokens } = await middleLoss(model, tok, parts, o.mode);
    const predicted = o.mode === 'l2r' ? firstWords(filled.middle, parts.middle) : filled.middle;
    const item = { ...parts, predicted, exact: infillExactMatch(predicted, parts.middle), nll, tokens };
    items.push(item);
    o.onItem?.(item, items.length - 1);
  }
  return { ...summarizeInfill(items), items };
}

/** The parts with the prefix's last and the suffix's first `n` characters or so: a word cut by the
 *  limit is dropped whole. */
export function nearGap(p: FimParts, n: number): FimParts {
  let prefix = p.prefix.slice(Math.max(0, p.prefix.length - n));
  if (prefix.length < p.prefix.length && !/\s/u.test(p.prefix[p.prefix.length - n - 1] ?? ' '))
    prefix = prefix.replace(/^\S+/u, '');
  let suffix = p.suffix.slice(0, n);
  if (suffix.length < p.suffix.length && !/\s/u.test(p.suffix[n] ?? ' ')) suffix = suffix.replace(/\S+$/u, '');
  return { prefix, middle: p.middle, suffix };
}

/** The first words of `text`, as many as `like` has. */
function firstWords(text: string, like: string): string {
  const n = normalizeWords(like).split(' ').length;
  return normalizeWords(text).split(' ').slice(0, n).join(' ');
}

/** The validation documents of a prepared folder, as text (validation is never rearranged), at
 *  most `max` of them. */
export function heldOutDocuments(dataDir: string, max = Infinity): string[] {
  const data = loadPrepared(dataDir);
  const docs: string[] = [];
  let start = 0;
  for (let i = 0; i < data.val.length && docs.length < max; i++) {
    if (data.val[i] !== data.tokenizer.eotId) continue;
    const text = data.tokenizer.decode(data.val.subarray(start, i));
    if (text.trim()) docs.push(text);
    start = i + 1;
  }
  return docs;
}
