// `webgpu-gpt eval --checkpoint <run dir|checkpoint> --input <text file> [--json]`: the loss and
// perplexity of a trained model on a text, tokenized with the checkpoint's own tokenizer.
//
// Also home of the helpers train/cli/generate.ts shares: loading a checkpoint with clear errors and
// finding its tokenizer (stored in the checkpoint itself; else the run folder's tokenizer.json;
// else the data folder the run recorded).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { initEngine, type Runtime } from '../../engine/index.ts';
import { CheckpointError, loadModel, type LoadedCheckpoint } from '../../model/checkpoint.ts';
import type { GPT } from '../../model/gpt.ts';
import { loadHfModel } from '../../model/hf.ts';
import { CliError } from '../cli-error.ts';
import { EVAL_SCHEMA, formatHelp, parseConfig } from '../config.ts';
import { evalBatches } from '../data/shards.ts';
import {
  loadTokenizer,
  tokenizerFromJSON,
  TOKENIZER_FILE,
  type Tokenizer,
  type TokenizerJSON,
} from '../tokenizers/index.ts';
import { evaluateBatches } from '../pretrain.ts';
import { countChars, lmMetrics } from '../eval/perplexity.ts';

export const EVAL_HELP = formatHelp(EVAL_SCHEMA, {
  usage: 'usage: webgpu-gpt eval --checkpoint <run dir|checkpoint dir> --input <text file> [--json]',
  description:
    'Prints the mean loss (nats per token) and the perplexity of the model on a text file: the text is\n' +
    "tokenized with the checkpoint's tokenizer and cut into non-overlapping windows of the model's context.",
});

/** Loads a model from a run folder, a checkpoint folder or a file in one, on the GPU. */
export async function openCheckpoint(path: string): Promise<{ rt: Runtime; model: GPT; checkpoint: LoadedCheckpoint }> {
  // `hf:<dir>`: a Hugging Face GPT-2 folder, imported on the fly (model/hf.ts).
  const hfDir = path.startsWith('hf:') ? path.slice(3) : null;
  if (!existsSync(hfDir ?? path))
    throw new CliError(
      `--checkpoint ${path}: no such file or folder (pass a run folder of \`webgpu-gpt pretrain\` or one of its checkpoints/ckpt-* folders)`,
    );
  const rt = await initEngine();
  try {
    const { model, checkpoint } = hfDir !== null ? await loadHfModel(resolve(hfDir)) : await loadModel(resolve(path));
    return { rt, model, checkpoint };
  } catch (e) {
    if (e instanceof CheckpointError) throw new CliError(`--checkpoint ${path}: ${e.message}`);
    throw e;
  }
}

/** The tokenizer a checkpoint was trained with. */
export function checkpointTokenizer(ckpt: LoadedCheckpoint, override: string | null): Tokenizer {
  if (override !== null) {
    try {
      return loadTokenizer(resolve(override));
    } catch (e) {
      throw new CliError(`--tokenizer ${override}: ${(e as Error).message}`);
    }
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
  for (const c of candidates) if (existsSync(c)) return loadTokenizer(c);
  throw new CliError(
    `checkpoint ${ckpt.path} records no tokenizer and none was found beside it; pass --tokenizer <tokenizer.json>`,
  );
}

export interface EvalResult {
  loss: number;
  perplexity: number;
  tokens: number;
  /** Targets scored (every token that has a predecessor in its window). */
  scored: number;
  /** Bits per character (code point) of the text: loss × (tokens − 1) / chars / ln 2. */
  bitsPerChar: number;
  checkpoint: string;
  step: number;
  input: string;
}

export async function evalMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(EVAL_SCHEMA, argv, 'eval');
  if (parsed.help) {
    process.stdout.write(EVAL_HELP + '\n');
    return 0;
  }
  const o = parsed.values;
  const input = o.input!;
  if (!existsSync(input) || !statSync(input).isFile()) throw new CliError(`--input ${input}: no such file`);
  const text = readFileSync(input, 'utf8');
  const { rt, model, checkpoint } = await openCheckpoint(o.checkpoint!);
  if (!o.json) process.stderr.write(`adapter: ${rt.describe()}\n`);
  const tok = checkpointTokenizer(checkpoint, o.tokenizer);
  const ids = tok.encode(text);
  const T = model.config.blockSize;
  // Short texts: one window of whatever length there is.
  const win = Math.min(T, ids.length - 1);
  if (win < 1) throw new CliError(`--input ${input}: the text has ${ids.length} token(s); at least 2 are needed`);
  const B = o.batchSize;
  const batches = [...evalBatches(ids, B, win, o.maxBatches > 0 ? o.maxBatches : Infinity)];
  const loss = await evaluateBatches(model, batches, B, win);
  const scored = batches.reduce((s, b) => s + b.rows * win, 0);
  if (!Number.isFinite(loss))
    throw new CliError(`--input ${input}: the model's loss is ${loss} (the checkpoint may have diverged)`);
  // The mean loss of the scored windows stands for every one of the text's ids.length − 1 targets.
  const lm = lmMetrics({ nll: loss * (ids.length - 1), tokens: ids.length - 1, chars: countChars(text) });
  const res: EvalResult = {
    loss,
    perplexity: lm.perplexity,
    tokens: ids.length,
    scored,
    bitsPerChar: lm.bitsPerChar!,
    checkpoint: checkpoint.path,
    step: checkpoint.meta.step,
    input: resolve(input),
  };
  model.dispose();
  if (o.json) process.stdout.write(JSON.stringify(res) + '\n');
  else {
    process.stdout.write(`checkpoint ${res.checkpoint} (step ${res.step})\n`);
    process.stdout.write(
      `${res.input}: ${res.tokens.toLocaleString('en-US')} tokens (${res.scored.toLocaleString('en-US')} scored)\n`,
    );
    process.stdout.write(
      `loss ${res.loss.toFixed(4)} nats/token, perplexity ${res.perplexity.toFixed(3)}, ${res.bitsPerChar.toFixed(3)} bits/char\n`,
    );
  }
  return 0;
}
