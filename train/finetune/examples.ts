// Records → token ids for the model, with the checkpoint's tokenizer. Every example starts with
// the end-of-text id, as every document of the pre-training stream does (prepare writes an
// end-of-text after each document), so even an empty prompt has a position to predict from.
//   sft:      inputs  [eot] prompt target        targets -1 … -1 target eot
//             (prompt positions get the ignore index: the loss counts the target and its closing
//             end-of-text only); too long → tokens are cut from the LEFT of the prompt, counted.
//   classify: inputs  [eot] text eot             the head reads the hidden state at the closing
//             end-of-text (GPT-1's extract token), `last`; too long → cut from the left, counted.
//   a pair:   inputs  [eot] text eot text2 eot   (GPT-1's delimiter, here the end-of-text id, so a
//             pre-trained vocabulary needs no new token); too long → the longer segment loses a
//             token until it fits, `text` from its left and `text2` from its right, so the junction
//             of the two (what next-sentence prediction judges) is kept; counted.
import type { Tokenizer } from '../tokenizers/types.ts';
import {
  countSkip,
  emptyReport,
  formatReport,
  FinetuneDataError,
  type ClassifyRecord,
  type Label,
  type RecordReport,
  type SftRecord,
} from './records.ts';

/** Targets equal to this do not count in the loss: the model's default `ForwardOptions.ignoreIndex`. */
export const IGNORE_INDEX = -1;

/** A record report plus what tokenizing did to the records that were used. */
export interface ExampleReport extends RecordReport {
  /** Examples that lost tokens to fit the context. */
  truncated: number;
  truncatedTokens: number;
}

export interface SftExample {
  /** Model inputs, 1 ≤ length ≤ the context length. */
  ids: Int32Array;
  /** Same length: the id to predict after ids[0..i], or IGNORE_INDEX at prompt positions. */
  targets: Int32Array;
  line: number;
}

export interface ClassifyExample {
  ids: Int32Array;
  /** Index of the record's label in the label set. */
  label: number;
  /** Position of the last real token (the closing end-of-text), where the head reads. */
  last: number;
  line: number;
}

/** `formatReport`'s line plus the truncations, e.g. `…; 5 truncated to fit (37 tokens cut)`. */
export function formatExampleReport(r: ExampleReport): string {
  const line = formatReport(r).replace(' records used', ' examples made');
  return r.truncated === 0 ? line : `${line}; ${r.truncated} truncated to fit (${r.truncatedTokens} tokens cut)`;
}

function exampleReport(file: string): ExampleReport {
  return { ...emptyReport(file), truncated: 0, truncatedTokens: 0 };
}

function checkContext(T: number): void {
  if (!Number.isInteger(T) || T < 2) throw new FinetuneDataError(`context length must be an integer ≥ 2, got ${T}`);
}

/** Tokenizes `sft` records for a model with context length T. */
export function sftExamples(
  records: readonly SftRecord[],
  tok: Tokenizer,
  T: number,
  file = 'sft data',
): { examples: SftExample[]; report: ExampleReport } {
  checkContext(T);
  const report = exampleReport(file);
  const examples: SftExample[] = [];
  for (const r of records) {
    report.records++;
    const prefix = [tok.eotId, ...tok.encode(r.prompt)];
    const answer = [...tok.encode(r.target), tok.eotId];
    // Inputs are every token but the last, so prefix + answer may hold T + 1 tokens.
    const excess = prefix.length + answer.length - (T + 1);
    if (excess >= prefix.length) {
      countSkip(report, r.line, 'target longer than the context');
      continue;
    }
    if (excess > 0) {
      report.truncated++;
      report.truncatedTokens += excess;
    }
    const seq = [...prefix.slice(Math.max(0, excess)), ...answer];
    const P = prefix.length - Math.max(0, excess);
    const L = seq.length - 1;
    const ids = Int32Array.from(seq.slice(0, L));
    const targets = new Int32Array(L).fill(IGNORE_INDEX);
    for (let i = P - 1; i < L; i++) targets[i] = seq[i + 1] as number;
    examples.push({ ids, targets, line: r.line });
  }
  report.used = examples.length;
  return { examples, report };
}

/** One record's ids (a text or a pair, see the top of this file) and how many tokens were cut. */
export function classifySequence(r: ClassifyRecord, tok: Tokenizer, T: number): { seq: number[]; cut: number } {
  const E = tok.eotId;
  if (r.text2 === undefined) {
    const seq = [E, ...tok.encode(r.text), E];
    const cut = Math.max(0, seq.length - T);
    return { seq: seq.slice(cut), cut };
  }
  const a = tok.encode(r.text);
  const b = tok.encode(r.text2);
  let aKeep = a.length;
  let bKeep = b.length;
  for (let over = aKeep + bKeep + 3 - T; over > 0 && aKeep + bKeep > 0; over--) {
    if (aKeep >= bKeep) aKeep--;
    else bKeep--;
  }
  // Below T = 3 not even the three end-of-text ids fit: they are cut from the left like a text.
  const seq = [E, ...a.slice(a.length - aKeep), E, ...b.slice(0, bKeep), E];
  const extra = Math.max(0, seq.length - T);
  return { seq: seq.slice(extra), cut: a.length - aKeep + b.length - bKeep + extra };
}

/** Tokenizes `classify` records; a label outside `labels` is an error naming the line. */
export function classifyExamples(
  records: readonly ClassifyRecord[],
  labels: readonly Label[],
  tok: Tokenizer,
  T: number,
  file = 'classify data',
): { examples: ClassifyExample[]; report: ExampleReport } {
  checkContext(T);
  const index = new Map<Label, number>(labels.map((l, i) => [l, i]));
  const report = exampleReport(file);
  const examples: ClassifyExample[] = [];
  for (const r of records) {
    report.records++;
    const label = index.get(r.label);
    if (label === undefined) {
      const known = labels.map((l) => JSON.stringify(l)).join(', ');
      throw new FinetuneDataError(
        `${file}:${r.line}: label ${JSON.stringify(r.label)} is not in the label set (${known})`,
      );
    }
    const { seq, cut } = classifySequence(r, tok, T);
    if (cut > 0) {
      report.truncated++;
      report.truncatedTokens += cut;
    }
    examples.push({ ids: Int32Array.from(seq), label, last: seq.length - 1, line: r.line });
  }
  report.used = examples.length;
  return { examples, report };
}
