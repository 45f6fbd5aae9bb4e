// What the training loop trains for. The loop (train/loop.ts) owns everything every objective
// shares — schedule, gradient accumulation, non-finite skipping, dropout seeds, time budget,
// checkpoints and exact resume, metrics, progress, stop handling — and asks the objective only:
//   which micro-batch comes next (and where the data stands, for an exact resume),
//   what the loss of a micro-batch is,
//   how the model is evaluated.
// Pre-training (./pretrain.ts) is the first objective: random windows of a token stream, the
// model's mean cross-entropy, the validation loss plus a text sample. Fine-tuning objectives plug
// in the same way: SFT draws padded prompt/target batches whose prompt targets hold the ignore
// index (the default loss then counts only the targets); classification draws (text, label)
// batches, its `loss` runs the transformer and a head, and its `evaluate` reports accuracy/F1 in
// `metrics`; multi-task draws each micro-batch from a task by weight and sums up per-task metrics.
import type { GPT } from '../../model/gpt.ts';
import type { MicroLoss } from '../../model/train-step.ts';

export interface Evaluation {
  /** Mean validation loss: metrics.jsonl's valLoss, the run summary's final and best loss. */
  valLoss: number;
  /** Text to show and append to samples.txt, or null. */
  sample: string | null;
  /** Task metrics beside the loss (accuracy, macro-F1, ...), printed on the evaluation line. */
  metrics?: Record<string, number>;
}

export interface Objective<M = unknown> {
  /** Draws the next micro-batch; deterministic from the seed and `dataState`. */
  next(): M;
  /** Tokens a micro-batch trains on (tokens seen, tokens/s). */
  tokens(mb: M): number;
  /**
   * The scalar loss of one micro-batch, recorded inside the step's tidy (the step runs backward).
   * Language modelling: the model's mean cross-entropy over the non-ignored targets.
   */
  loss: MicroLoss<M>;
  /** Evaluates the model after `step` steps (eval mode, no tape; the caller restores train mode). */
  evaluate(model: GPT, step: number): Promise<Evaluation>;
  /**
   * Seconds one evaluation is expected to take, from a short probe; the first call compiles the
   * evaluation's pipelines. The time budget plans with it.
   */
  probeEvalSec(model: GPT): Promise<number>;
  /** Where the data stands (checkpoint meta `data`), and its restore for an exact resume. */
  dataState(): Record<string, unknown>;
  restoreDataState(s: Record<string, unknown>): void;
  /** The loss of a trivial model (unigram, majority class), shown beside the validation loss. */
  readonly baseline: { loss: number; name: string } | null;
}
