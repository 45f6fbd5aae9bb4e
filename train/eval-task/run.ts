// `eval` for every task: the examples are read once (with the first checkpoint's tokenizer, which
// every compared checkpoint must share), then each checkpoint is loaded, evaluated on them and
// released in turn, and the later ones are compared with the first. Loading a checkpoint is the
// caller's (train/cli/eval.ts: run folders, hf: folders, tokenizer checks); this file is the task
// logic, so it can be driven without the command line.
import type { LoadedCheckpoint } from '../../model/checkpoint.ts';
import type { GPT } from '../../model/gpt.ts';
import { CliError } from '../cli-error.ts';
import type { Label } from '../eval/classification.ts';
import { MetricInputError } from '../eval/text.ts';
import {
  formatReport,
  readClassify,
  readSft,
  type ClassifyRecord,
  type RecordReport,
  type SftRecord,
} from '../finetune/records.ts';
import type { Tokenizer } from '../tokenizers/types.ts';
import { evaluateClassify } from './classify.ts';
import { pairedDiffs, type CheckpointResult, type EvalRun, type TaskResult } from './compare.ts';
import { evaluateLm, readLmData, type LmData } from './lm.ts';
import { checkSupports, chooseTask, recordedTask, type EvalTask, type RecordedTask } from './recorded.ts';
import { readReferences } from './references.ts';
import { evaluateSft, type GenerationOptions } from './sft.ts';

/** A checkpoint on the GPU with its tokenizer, as the caller loaded it. */
export interface OpenedModel {
  model: GPT;
  checkpoint: LoadedCheckpoint;
  tokenizer: Tokenizer;
}

export interface EvalOptions {
  /** null: chosen from the input and the first checkpoint (see chooseTask). */
  task: string | null;
  input: string;
  /** sft templates and classify fields; null: what the first checkpoint recorded, else the defaults. */
  prompt: string | null;
  target: string | null;
  textField: string | null;
  labelField: string | null;
  /** sft: a field with the reference (or a list of references) to score against, instead of the target. */
  references: string | null;
  /** Windows (lm) or examples per batch. */
  batchSize: number;
  /** lm: at most this many batches (0 = all). */
  maxBatches: number;
  /** sft, classify: the first this many records (0 = all). */
  maxExamples: number;
  /** sft: batchSize there is the prompts generated at once (unset: the generator's default). */
  generation: GenerationOptions;
  log?: (line: string) => void;
}

type TaskData =
  | { task: 'lm'; lm: LmData }
  | { task: 'sft'; records: SftRecord[]; references?: string[][] }
  | { task: 'classify'; records: ClassifyRecord[] };

function usable<R>(records: R[], report: RecordReport, max: number, input: string): R[] {
  if (records.length === 0)
    throw new CliError(`--input ${input}: no usable records (${formatReport(report).replace(/^[^:]*: /, '')})`);
  return max > 0 ? records.slice(0, max) : records;
}

/** The examples of the task, read once; `lines` describe what was read and skipped. */
function readTaskData(task: EvalTask, o: EvalOptions, rec: RecordedTask, tok: Tokenizer) {
  if (task === 'lm') {
    const lm = readLmData(o.input, tok);
    return {
      data: { task, lm } as TaskData,
      lines: [`${o.input}: ${lm.source}, ${lm.ids.length.toLocaleString('en-US')} tokens`],
      skipped: 0,
    };
  }
  if (task === 'sft') {
    const templates = { prompt: o.prompt ?? rec.prompt ?? undefined, target: o.target ?? rec.target ?? undefined };
    const { records, report } = readSft(o.input, templates);
    const used = usable(records, report, o.maxExamples, o.input);
    const lines = [
      formatReport(report),
      `templates: prompt ${JSON.stringify(templates.prompt ?? '{prompt}')}, target ${JSON.stringify(templates.target ?? '{completion}')}`,
    ];
    if (used.length < records.length) lines.push(`evaluated the first ${used.length} (--maxExamples)`);
    if (o.references === null) return { data: { task, records: used } as TaskData, lines, skipped: report.skipped };
    const references = readReferences(
      o.input,
      o.references,
      used.map((r) => r.line),
    );
    lines.push(`references: field ${JSON.stringify(o.references)}`);
    return { data: { task, records: used, references } as TaskData, lines, skipped: report.skipped };
  }
  const fields = {
    textField: o.textField ?? rec.textField ?? 'text',
    labelField: o.labelField ?? rec.labelField ?? 'label',
  };
  const { records, report } = readClassify(o.input, fields);
  const used = usable(records, report, o.maxExamples, o.input);
  const lines = [formatReport(report)];
  if (used.length < records.length) lines.push(`evaluated the first ${used.length} (--maxExamples)`);
  return { data: { task, records: used } as TaskData, lines, skipped: report.skipped };
}

async function evaluateOne(m: OpenedModel, data: TaskData, o: EvalOptions): Promise<TaskResult> {
  try {
    if (data.task === 'lm') return await evaluateLm(m.model, data.lm, o.batchSize, o.maxBatches, o.input);
    if (data.task === 'sft')
      return await evaluateSft(m.model, data.records, m.tokenizer, o.generation, data.references);
    const labels = recordedTask(m.checkpoint).labels as Label[];
    return await evaluateClassify(m.model, data.records, labels, m.tokenizer, o.batchSize, o.input);
  } catch (e) {
    // The metrics refuse empty or mismatched inputs; for a user that is a fact about the data.
    if (e instanceof MetricInputError) throw new CliError(`--input ${o.input}: ${e.message}`);
    throw e;
  }
}

/** Checks that a later checkpoint can be compared with the first: same tokenizer, same label set. */
function checkComparable(first: OpenedModel, m: OpenedModel, task: EvalTask, where: string): void {
  if (m.tokenizer.id !== first.tokenizer.id)
    throw new CliError(
      `${where} uses tokenizer ${m.tokenizer.id} but ${first.checkpoint.path} uses ${first.tokenizer.id}: compared checkpoints must share the tokenizer`,
    );
  if (task !== 'classify') return;
  const a = recordedTask(first.checkpoint).labels!;
  const b = recordedTask(m.checkpoint).labels!;
  const same = a.length === b.length && a.every((l) => b.includes(l));
  if (!same)
    throw new CliError(
      `${where} has labels ${JSON.stringify(b)} but ${first.checkpoint.path} has ${JSON.stringify(a)}: compared classifiers must share the label set`,
    );
}

/** Evaluates every checkpoint (opened one at a time by `open`) on the same examples. */
export async function runEval(
  paths: readonly string[],
  open: (path: string) => Promise<OpenedModel>,
  o: EvalOptions,
): Promise<EvalRun> {
  if (paths.length === 0) throw new CliError('--checkpoint is required');
  const first = await open(paths[0]!);
  const rec = recordedTask(first.checkpoint);
  const task = chooseTask(o.task, o.input, rec, `--checkpoint ${paths[0]}`);
  checkSupports(task, rec, `--checkpoint ${paths[0]}`);
  const { data, lines, skipped } = readTaskData(task, o, rec, first.tokenizer);
  const checkpoints: CheckpointResult[] = [];
  for (let i = 0; i < paths.length; i++) {
    const where = `--checkpoint ${paths[i]}`;
    const m = i === 0 ? first : await open(paths[i]!);
    try {
      checkSupports(task, recordedTask(m.checkpoint), where);
      if (i > 0) checkComparable(first, m, task, where);
      o.log?.(`[${i + 1}] ${m.checkpoint.path} (step ${m.checkpoint.meta.step}): ${task}`);
      const result = await evaluateOne(m, data, o);
      checkpoints.push({ checkpoint: m.checkpoint.path, step: m.checkpoint.meta.step, result });
    } finally {
      m.model.dispose();
    }
  }
  const run: EvalRun = { task, input: o.input, data: lines, skipped, checkpoints, paired: [] };
  run.paired = pairedDiffs(checkpoints.map((c) => c.result));
  return run;
}
