// `webgpu-gpt eval --checkpoint <run dir|checkpoint> [--checkpoint ...] --input <file> [--task
// lm|sft|classify|infill] [--json] [--report <dir>]`: the command-line wiring of train/eval-task/
// (the loss and perplexity of a text; generation scored by BLEU, ROUGE, exact match and F1; a
// classifier's accuracy, per-class P/R/F1 and confusion matrix; masked words filled in; several
// checkpoints compared).
//
// Also home of the helpers train/cli/generate.ts shares: loading a checkpoint with clear errors and
// finding its tokenizer (stored in the checkpoint itself; else the run folder's tokenizer.json;
// else the data folder the run recorded).
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { initEngine, type Runtime } from '../../engine/index.ts';
import { CheckpointError, loadModel, type LoadedCheckpoint } from '../../model/checkpoint.ts';
import type { GPT } from '../../model/gpt.ts';
import { hfDirOf, loadHfModel } from '../../model/hf.ts';
import { CliError } from '../cli-error.ts';
import { EVAL_SCHEMA, formatHelp, parseConfig, type EvalConfig } from '../config.ts';
import type { InfillMode } from '../infill.ts';
import { formatInfillRun, runInfillEval } from '../eval-task/infill.ts';
import { writeReport, runJson } from '../eval-task/report.ts';
import { runEval, type EvalOptions, type OpenedModel } from '../eval-task/run.ts';
import { formatRun } from '../eval-task/table.ts';
import {
  loadTokenizer,
  tokenizerFromJSON,
  TOKENIZER_FILE,
  type Tokenizer,
  type TokenizerJSON,
} from '../tokenizers/index.ts';

export const EVAL_HELP = formatHelp(EVAL_SCHEMA, {
  usage:
    'usage: webgpu-gpt eval --checkpoint <run dir|checkpoint dir> [--checkpoint ...] --input <file> [--task lm|sft|classify|infill] [--json] [--report <dir>]',
  description:
    'lm: the mean loss (nats per token), perplexity and bits per character of a text file (tokenized with the\n' +
    "checkpoint's tokenizer, cut into non-overlapping windows of the model's context) or a prepared folder.\n" +
    'sft: greedy (or sampled) continuations of JSONL prompts scored by BLEU, ROUGE-1/2/L, exact match and F1.\n' +
    'classify: accuracy, per-class precision/recall/F1, macro and weighted averages, the confusion matrix.\n' +
    'infill: one to three seeded words masked in each document, filled greedily by a FIM model (or, with\n' +
    '--infillMode l2r, any model continuing the prefix): exact match of the filled words, loss on the middle.\n' +
    'Several --checkpoint are evaluated on the same examples and compared with the first.',
});

/** Loads a model from a run folder, a checkpoint folder or a file in one, on the GPU. */
export async function openCheckpoint(path: string): Promise<{ rt: Runtime; model: GPT; checkpoint: LoadedCheckpoint }> {
  // `hf:<dir>`: a Hugging Face GPT-2 folder, imported on the fly (model/hf.ts).
  const hfDir = hfDirOf(path);
  if (!existsSync(hfDir ?? path))
    throw new CliError(
      `--checkpoint ${path}: no such file or folder (pass a run folder of \`webgpu-gpt pretrain\` or one of its checkpoints/ckpt-* folders)`,
    );
  const rt = await initEngine();
  try {
    const { model, checkpoint } = hfDir !== null ? await loadHfModel(resolve(hfDir)) : await loadModel(resolve(path));
    // A run folder falls back past broken newer checkpoints: say so, as `pretrain --resume` does.
    const skipped = (checkpoint as { skipped?: { error: string }[] }).skipped ?? [];
    for (const s of skipped) process.stderr.write(`warning: skipped a broken checkpoint: ${s.error}\n`);
    return { rt, model, checkpoint };
  } catch (e) {
    if (e instanceof CheckpointError) throw new CliError(`--checkpoint ${path}: ${e.message}`);
    throw e;
  }
}

/** The id of the tokenizer a checkpoint records, if it records one. */
function recordedTokenizerId(ckpt: LoadedCheckpoint): string | null {
  const meta = ckpt.meta.tokenizer as { id?: string } | string | undefined;
  if (typeof meta === 'string') return meta;
  return typeof meta?.id === 'string' ? meta.id : null;
}

export interface TokenizerChoice {
  /** --tokenizer: a tokenizer.json (or prepared folder) to use instead of the checkpoint's. */
  override: string | null;
  /** --allowTokenizerMismatch: a different id is a warning instead of an error. */
  allowMismatch?: boolean;
  warn?: (line: string) => void;
}

/**
 * Refuses a tokenizer that is not the one the model was trained with: its ids would mean other
 * text, and the loss or the samples would look plausible while being meaningless. A vocabulary
 * larger than the model's can never run; a different id may, with `allowMismatch`.
 */
function checkTokenizer(ckpt: LoadedCheckpoint, tok: Tokenizer, source: string, o: TokenizerChoice): void {
  const V = ckpt.meta.config.vocabSize;
  const id = recordedTokenizerId(ckpt);
  const what = `${source} is tokenizer ${tok.id} (vocabulary ${tok.vocabSize})`;
  const theirs = `checkpoint ${ckpt.path} was trained with ${id ?? 'a tokenizer'} (vocabulary ${V})`;
  if (tok.vocabSize > V) throw new CliError(`${what} but ${theirs}: its ids do not fit the model`);
  const mismatch = id !== null ? tok.id !== id : tok.vocabSize !== V;
  if (!mismatch) return;
  if (!o.allowMismatch) throw new CliError(`${what} but ${theirs} (pass --allowTokenizerMismatch to use it anyway)`);
  o.warn?.(`warning: ${what} but ${theirs}; results are not comparable to the checkpoint's`);
}

/** The tokenizer a checkpoint was trained with (or the --tokenizer override, checked against it). */
export function checkpointTokenizer(ckpt: LoadedCheckpoint, o: TokenizerChoice): Tokenizer {
  if (o.override !== null) {
    let tok: Tokenizer;
    try {
      tok = loadTokenizer(resolve(o.override));
    } catch (e) {
      throw new CliError(`--tokenizer ${o.override}: ${(e as Error).message}`);
    }
    checkTokenizer(ckpt, tok, `--tokenizer ${o.override}`, o);
    return tok;
  }
  const meta = ckpt.meta.tokenizer as { id?: string; json?: TokenizerJSON } | string | undefined;
  if (meta && typeof meta === 'object' && meta.json) return tokenizerFromJSON(meta.json);
  // Older checkpoints: the run folder's copy (<run>/checkpoints/ckpt-N → <run>/tokenizer.json), or the data folder.
  const candidates = [
    join(ckpt.path, TOKENIZER_FILE),
    join(dirname(dirname(ckpt.path)), TOKENIZER_FILE),
    join(dirname(ckpt.path), TOKENIZER_FILE),
  ];
  const dataDir = (ckpt.meta.data as { dataDir?: string } | undefined)?.dataDir;
  if (dataDir) candidates.push(join(dataDir, TOKENIZER_FILE));
  for (const c of candidates) {
    if (!existsSync(c)) continue;
    const tok = loadTokenizer(c);
    checkTokenizer(ckpt, tok, c, o);
    return tok;
  }
  throw new CliError(
    `checkpoint ${ckpt.path} records no tokenizer and none was found beside it; pass --tokenizer <tokenizer.json>`,
  );
}

/** Opens one checkpoint for runEval, with its tokenizer (the adapter is reported once). */
function opener(o: EvalConfig, warn: (line: string) => void): (path: string) => Promise<OpenedModel> {
  let shown = false;
  return async (path) => {
    const { rt, model, checkpoint } = await openCheckpoint(path);
    if (!shown && !o.json) warn(`adapter: ${rt.describe()}`);
    shown = true;
    try {
      const tokenizer = checkpointTokenizer(checkpoint, {
        override: o.tokenizer,
        allowMismatch: o.allowTokenizerMismatch,
        warn,
      });
      return { model, checkpoint, tokenizer };
    } catch (e) {
      model.dispose();
      throw e;
    }
  };
}

/** Generation progress, at most one line every 2 seconds (and the last). */
function progressLine(warn: (line: string) => void): (done: number, total: number, sec: number) => void {
  let last = -Infinity;
  return (done, total, sec) => {
    if (done < total && sec - last < 2) return;
    last = sec;
    warn(
      `generated ${done}/${total} examples in ${sec.toFixed(1)} s, ${(done / Math.max(sec, 1e-9)).toFixed(2)} examples/s`,
    );
  };
}

function evalOptions(o: EvalConfig, batchSizeGiven: boolean, warn: (line: string) => void): EvalOptions {
  return {
    task: o.task,
    input: o.input!,
    prompt: o.prompt,
    target: o.target,
    textField: o.textField,
    labelField: o.labelField,
    references: o.references,
    batchSize: o.batchSize,
    maxBatches: o.maxBatches,
    maxExamples: o.maxExamples,
    generation: {
      maxNewTokens: o.maxNewTokens,
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      seed: o.seed,
      // Unset, batched generation picks its own batch (as many rows as the KV cache budget allows).
      ...(batchSizeGiven ? { batchSize: o.batchSize } : {}),
      onProgress: progressLine(warn),
    },
    log: warn,
  };
}

export async function evalMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(EVAL_SCHEMA, argv, 'eval');
  if (parsed.help) {
    process.stdout.write(EVAL_HELP + '\n');
    return 0;
  }
  const o = parsed.values;
  const input = o.input!;
  if (!existsSync(input)) throw new CliError(`--input ${input}: no such file`);
  const warn = (line: string): void => void process.stderr.write(line + '\n');
  if (o.task === 'infill') return infillMain(o, warn);
  const run = await runEval(
    o.checkpoint!,
    opener(o, warn),
    evalOptions(o, parsed.sources.batchSize !== 'default', warn),
  );
  run.input = resolve(input);
  if (o.report !== null) {
    const files = writeReport(o.report, run, o.seed);
    warn(`report: ${resolve(o.report)} (${files.join(', ')})`);
  }
  process.stdout.write(o.json ? JSON.stringify(runJson(run)) + '\n' : formatRun(run));
  return 0;
}

/** `--task infill`: its own table and JSON (it has no per-example report). */
async function infillMain(o: EvalConfig, warn: (line: string) => void): Promise<number> {
  if (o.report !== null) throw new CliError('--report is not available for --task infill (use --json)');
  const run = await runInfillEval(o.checkpoint!, opener(o, warn), {
    input: o.input!,
    mode: o.infillMode as InfillMode,
    seed: o.seed,
    maxExamples: o.maxExamples,
    maxNewTokens: o.maxNewTokens,
    contextChars: o.infillContextChars,
    log: warn,
  });
  run.input = resolve(o.input!);
  process.stdout.write(o.json ? JSON.stringify(run) + '\n' : formatInfillRun(run));
  return 0;
}
