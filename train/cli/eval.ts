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
import { decodeUtf8, looksBinary } from '../data/inputs.ts';
import { evalBatches } from '../data/shards.ts';
import {
  loadTokenizer,
  tokenizerFromJSON,
  TOKENIZER_FILE,
  type Tokenizer,
  type TokenizerJSON,
} from '../tokenizers/index.ts';
import { evaluateBatches } from '../evaluate.ts';
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

/** The text of --input, refusing what `prepare` refuses: binary files and invalid UTF-8. */
function readInputText(input: string): string {
  const bytes = readFileSync(input);
  if (looksBinary(bytes))
    throw new CliError(`--input ${input}: looks like a binary file (NUL or control bytes), not text`);
  const dec = decodeUtf8(bytes);
  if (!dec.ok)
    throw new CliError(`--input ${input}: invalid UTF-8 at line ${dec.line} (byte ${dec.offset}); save it as UTF-8`);
  return dec.text;
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
  const text = readInputText(input);
  const { rt, model, checkpoint } = await openCheckpoint(o.checkpoint!);
  if (!o.json) process.stderr.write(`adapter: ${rt.describe()}\n`);
  const tok = checkpointTokenizer(checkpoint, {
    override: o.tokenizer,
    allowMismatch: o.allowTokenizerMismatch,
    warn: (line) => process.stderr.write(line + '\n'),
  });
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
