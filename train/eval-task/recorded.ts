// What a checkpoint records about the task it was fine-tuned for (train/finetune/run.ts writes
// meta.extra.finetune = { task, from, labels } and meta.extra.trainConfig = the run's keys, with
// the sft templates and the classify fields), and the choice of evaluation task from it.
import type { LoadedCheckpoint } from '../../model/checkpoint.ts';
import { CliError } from '../cli-error.ts';
import type { Label } from '../eval/classification.ts';

export const EVAL_TASKS = ['lm', 'sft', 'classify'] as const;
export type EvalTask = (typeof EVAL_TASKS)[number];

export interface RecordedTask {
  /** finetune's --task (lm, sft, classify, multi), or null for a pre-trained checkpoint. */
  task: string | null;
  /** classify: the label set in class-index order (null without a head). */
  labels: Label[] | null;
  prompt: string | null;
  target: string | null;
  textField: string | null;
  labelField: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export function recordedTask(ckpt: LoadedCheckpoint): RecordedTask {
  const extra = (ckpt.meta.extra ?? {}) as { finetune?: { task?: unknown; labels?: unknown }; trainConfig?: unknown };
  const cfg = (extra.trainConfig ?? {}) as Record<string, unknown>;
  const K = ckpt.meta.config.nClasses ?? 0;
  const labels = Array.isArray(extra.finetune?.labels) && K >= 2 ? (extra.finetune.labels as Label[]) : null;
  return {
    task: str(extra.finetune?.task),
    labels: labels && labels.length === K ? labels : null,
    prompt: str(cfg.prompt),
    target: str(cfg.target),
    textField: str(cfg.textField),
    labelField: str(cfg.labelField),
  };
}

/**
 * The task to evaluate: --task when given; else, for a JSONL input, the task the first checkpoint
 * was fine-tuned for (sft or classify); else lm (a text file or a prepared folder), as before.
 */
export function chooseTask(asked: string | null, input: string, first: RecordedTask, where: string): EvalTask {
  if (asked !== null) {
    if (!(EVAL_TASKS as readonly string[]).includes(asked))
      throw new CliError(`--task must be one of ${EVAL_TASKS.join(', ')}, got ${JSON.stringify(asked)}`);
    return asked as EvalTask;
  }
  if (!input.toLowerCase().endsWith('.jsonl')) return 'lm';
  if (first.task === 'sft' || first.task === 'classify') return first.task;
  if (first.task === 'multi')
    throw new CliError(`${where} was fine-tuned on several tasks (multi): pass --task sft or --task classify`);
  throw new CliError(
    `--input ${input} is JSONL but ${where} records no sft or classify task: pass --task sft|classify (or a text file for lm)`,
  );
}

/** Refuses a checkpoint that cannot do the task (classify needs the head and label set). */
export function checkSupports(task: EvalTask, rec: RecordedTask, where: string): void {
  if (task !== 'classify' || rec.labels !== null) return;
  const what = rec.task ? `a ${rec.task} checkpoint` : 'a checkpoint without a fine-tuning task';
  throw new CliError(
    `--task classify: ${where} is ${what}, with no classification head or label set (fine-tune one with webgpu-gpt finetune --task classify)`,
  );
}
