// Several checkpoints evaluated on the same examples, and their paired differences against the
// first (the baseline): for each per-example score the mean of (other − first) and how many
// examples got better, worse or stayed; for classification the discordant pairs (first right and
// other wrong, and the reverse: McNemar's counts); for lm the difference of the losses.
import type { ClassifyResult } from './classify.ts';
import type { LmResult } from './lm.ts';
import type { EvalTask } from './recorded.ts';
import type { GenScores, SftResult } from './sft.ts';

export type TaskResult = LmResult | SftResult | ClassifyResult;

export interface CheckpointResult {
  /** The checkpoint folder evaluated. */
  checkpoint: string;
  step: number;
  result: TaskResult;
}

export interface MetricDiff {
  /** Mean over examples of (other − first). */
  meanDiff: number;
  better: number;
  worse: number;
  same: number;
}

export interface PairedDiff {
  /** Indices into the checkpoints: `other` compared with `first`. */
  first: number;
  other: number;
  metrics: Record<string, MetricDiff>;
  /** classify: examples the first got right and the other wrong, and the reverse. */
  firstRightOtherWrong?: number;
  otherRightFirstWrong?: number;
}

/** What was evaluated, on what, and every number. */
export interface EvalRun {
  task: EvalTask;
  input: string;
  /** Records read, used and skipped (with reasons), one line per file. */
  data: string[];
  skipped: number;
  checkpoints: CheckpointResult[];
  paired: PairedDiff[];
}

function diff(a: readonly number[], b: readonly number[]): MetricDiff {
  let sum = 0;
  const d: MetricDiff = { meanDiff: 0, better: 0, worse: 0, same: 0 };
  a.forEach((x, i) => {
    const delta = b[i]! - x;
    sum += delta;
    if (delta > 1e-12) d.better++;
    else if (delta < -1e-12) d.worse++;
    else d.same++;
  });
  d.meanDiff = a.length ? sum / a.length : 0;
  return d;
}

const GEN_KEYS: (keyof GenScores)[] = ['bleu', 'rouge1', 'rouge2', 'rougeL', 'exactMatch', 'f1'];

function pair(a: TaskResult, b: TaskResult): Omit<PairedDiff, 'first' | 'other'> {
  if (a.task === 'sft' && b.task === 'sft') {
    const metrics = Object.fromEntries(
      GEN_KEYS.map((k) => [
        k,
        diff(
          a.perExample.map((e) => e.scores[k]),
          b.perExample.map((e) => e.scores[k]),
        ),
      ]),
    );
    return { metrics };
  }
  if (a.task === 'classify' && b.task === 'classify') {
    const ra = a.perExample.map((e) => (e.correct ? 1 : 0));
    const rb = b.perExample.map((e) => (e.correct ? 1 : 0));
    const pa = a.perExample.map((e) => e.pTrue);
    const pb = b.perExample.map((e) => e.pTrue);
    const c = diff(ra, rb);
    return {
      metrics: { correct: c, pTrue: diff(pa, pb) },
      firstRightOtherWrong: c.worse,
      otherRightFirstWrong: c.better,
    };
  }
  if (a.task === 'lm' && b.task === 'lm') {
    // One number per checkpoint: lower loss is better.
    const d = b.loss - a.loss;
    return { metrics: { loss: { meanDiff: d, better: d < 0 ? 1 : 0, worse: d > 0 ? 1 : 0, same: d === 0 ? 1 : 0 } } };
  }
  throw new Error(`paired: results of different tasks (${a.task}, ${b.task})`);
}

/** Every checkpoint after the first, against the first. */
export function pairedDiffs(results: readonly TaskResult[]): PairedDiff[] {
  return results.slice(1).map((r, i) => ({ first: 0, other: i + 1, ...pair(results[0]!, r) }));
}
