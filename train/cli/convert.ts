// `webgpu-gpt convert`: GPT-2 checkpoints between this project and the Hugging Face layout.
//   --from hf:<dir> --out <run dir>          a run folder that generate / eval / pretrain --resume read
//   --from <run dir> --to hf --out <dir>     config.json + model.safetensors + tokenizer files that
//                                            transformers' GPT2LMHeadModel / AutoTokenizer load
//   --from <LoRA run dir> --merge --out <run dir>   the adapters folded into the weights
//                                            (W += scale·A·B): a normal run folder (or, with
//                                            --to hf, a Hugging Face folder)
// The output is built in a temporary sibling folder and renamed into place at the end, so a bad
// input (one `error:` line) never leaves a partial folder behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CheckpointError, resolveCheckpoint, writeCheckpoint, type LoadedCheckpoint } from '../../model/checkpoint.ts';
import { HF_OWN_TOKENIZER_FILE, hfAsCheckpoint, hfDirOf, writeHfModel } from '../../model/hf.ts';
import { describeLora, loraLayout, mergeLora } from '../../model/lora.ts';
import { CliError } from '../cli-error.ts';
import { formatHelp, parseConfig, type Schema } from '../config.ts';
import { hfTokenizerFiles } from '../tokenizers/hf-export.ts';
import { tokenizerFromJSON, type Tokenizer, type TokenizerJSON } from '../tokenizers/index.ts';
import { checkpointTokenizer } from './eval.ts';

export interface ConvertConfig {
  from: string | null;
  to: string;
  out: string | null;
  merge: boolean;
}

export const CONVERT_SCHEMA: Schema<ConvertConfig> = {
  from: {
    type: 'string',
    default: null,
    required: true,
    help: 'hf:<dir> (a Hugging Face GPT-2 folder: config.json + model.safetensors), or a run folder / checkpoint',
  },
  to: {
    type: 'string',
    default: 'webgpu-gpt',
    choices: ['webgpu-gpt', 'hf'],
    help: "webgpu-gpt: a run folder of this project; hf: Hugging Face's GPT2LMHeadModel layout",
  },
  out: {
    type: 'string',
    default: null,
    required: true,
    short: 'o',
    help: 'folder to create (must not exist, or be empty)',
  },
  merge: {
    type: 'boolean',
    default: false,
    help: "a LoRA run's checkpoint: fold the adapters into the weights (W += alpha/rank·A·B) and write plain weights",
  },
};

export const CONVERT_HELP = formatHelp(CONVERT_SCHEMA, {
  usage:
    'usage: webgpu-gpt convert --from hf:<dir> --out <run dir>\n' +
    '       webgpu-gpt convert --from <run dir|checkpoint> --to hf --out <dir>\n' +
    '       webgpu-gpt convert --from <LoRA run dir|checkpoint> --merge [--to hf] --out <dir>',
  description:
    'Imports GPT-2 weights in the Hugging Face layout (F32, F16 or BF16 safetensors) into a run folder,\n' +
    'or exports a checkpoint as config.json + model.safetensors (F32) + the tokenizer files\n' +
    '(tokenizer.json; for gpt2 also vocab.json and merges.txt) for transformers.',
});

/** Builds `out` through `fill(tmp)` in a temporary sibling folder, then renames it into place. */
export function writeFolderAtomically(out: string, fill: (tmp: string) => void): void {
  if (fs.existsSync(out) && (!fs.statSync(out).isDirectory() || fs.readdirSync(out).length > 0))
    throw new CliError(`--out ${out} already exists and is not an empty folder`);
  fs.mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
  const tmp = `${path.resolve(out)}.tmp-${process.pid}-${Date.now()}`;
  fs.mkdirSync(tmp);
  try {
    fill(tmp);
    if (fs.existsSync(out)) fs.rmdirSync(out);
    fs.renameSync(tmp, out);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

function fromOrFail<T>(flag: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof CheckpointError) throw new CliError(`${flag}: ${e.message}`);
    throw e;
  }
}

/** A Hugging Face folder → `<out>/checkpoints/ckpt-00000000` (+ the tokenizer.json of the run). */
export function importHf(hfDir: string, out: string): { checkpoint: LoadedCheckpoint; tokenizer: Tokenizer | null } {
  const checkpoint = fromOrFail(`--from hf:${hfDir}`, () => hfAsCheckpoint(hfDir));
  const tokJson = (checkpoint.meta.tokenizer as { json?: TokenizerJSON } | undefined)?.json;
  const tokenizer = tokJson ? tokenizerFromJSON(tokJson) : null;
  writeFolderAtomically(out, (tmp) => {
    const meta = {
      ...checkpoint.meta,
      tokenizer: tokenizer ? { id: tokenizer.id, json: tokenizer.toJSON() } : undefined,
      extra: { importedFrom: path.resolve(hfDir) },
    };
    writeCheckpoint(path.join(tmp, 'checkpoints'), { meta, params: checkpoint.params });
    tokenizer?.save(tmp);
  });
  return { checkpoint, tokenizer };
}

/**
 * A checkpoint's weights; a LoRA checkpoint's only with `merge` (its adapters folded in), so that
 * no export silently drops them.
 */
function weightsOf(ckpt: LoadedCheckpoint, from: string, merge: boolean): Float32Array {
  if (!ckpt.lora) {
    if (merge) throw new CliError(`--from ${from}: not a LoRA checkpoint (it has no adapters to merge)`);
    return ckpt.params;
  }
  if (!merge)
    throw new CliError(
      `--from ${from}: a LoRA checkpoint (adapters apart from their base); add --merge to fold them in`,
    );
  return mergeLora(loraLayout(ckpt.meta.config, ckpt.lora.config), ckpt.lora.params, ckpt.params);
}

/** A checkpoint (or a run folder's latest) → a Hugging Face folder; returns the files written. */
export function exportHf(from: string, out: string, tokenizerFile: string | null = null, merge = false): string[] {
  const ckpt = fromOrFail(`--from ${from}`, () => resolveCheckpoint(from));
  const params = weightsOf(ckpt, from, merge);
  const tok = checkpointTokenizer(ckpt, { override: tokenizerFile });
  const tokFiles = hfTokenizerFiles(tok, ckpt.meta.config.blockSize) ?? {};
  writeFolderAtomically(out, (tmp) => {
    writeHfModel(tmp, ckpt.meta.config, params, tok.eotId);
    for (const [name, text] of Object.entries(tokFiles)) fs.writeFileSync(path.join(tmp, name), text);
    // This project's own description, so that importing the folder back gets the same tokenizer.
    fs.writeFileSync(path.join(tmp, HF_OWN_TOKENIZER_FILE), JSON.stringify(tok.toJSON()) + '\n');
  });
  return fs.readdirSync(out).sort();
}

/**
 * A LoRA run's latest checkpoint (or the one given) with its adapters merged → a run folder whose
 * checkpoint generate / eval / classify / finetune --from read like any other.
 */
export function mergeRun(from: string, out: string): LoadedCheckpoint {
  const ckpt = fromOrFail(`--from ${from}`, () => resolveCheckpoint(from));
  const params = weightsOf(ckpt, from, true);
  const tokJson = (ckpt.meta.tokenizer as { json?: TokenizerJSON } | undefined)?.json;
  writeFolderAtomically(out, (tmp) => {
    const extra = {
      ...((ckpt.meta.extra as object | null) ?? {}),
      mergedFrom: path.resolve(ckpt.path),
      lora: ckpt.lora!.config,
    };
    writeCheckpoint(path.join(tmp, 'checkpoints'), { meta: { ...ckpt.meta, extra }, params });
    if (tokJson) tokenizerFromJSON(tokJson).save(tmp);
  });
  return ckpt;
}

export async function convertMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(CONVERT_SCHEMA, argv, 'convert');
  if (parsed.help) {
    process.stdout.write(CONVERT_HELP + '\n');
    return 0;
  }
  if (parsed.positional.length) throw new CliError(`unexpected argument "${parsed.positional[0]}"`);
  const { from, to, out, merge } = parsed.values as { from: string; to: string; out: string; merge: boolean };
  const hfDir = hfDirOf(from);
  const fromHf = hfDir !== null;
  if (merge && !fromHf && to !== 'hf') {
    const ckpt = mergeRun(from, out);
    const layout = loraLayout(ckpt.meta.config, ckpt.lora!.config);
    process.stdout.write(`merged the adapters of ${ckpt.path} (${describeLora(layout)}) into ${out}\n`);
    return 0;
  }
  if (fromHf === (to === 'hf'))
    throw new CliError(
      fromHf
        ? '--from hf:<dir> with --to hf: nothing to convert (import with --to webgpu-gpt, the default)'
        : `--from ${from}: already a webgpu-gpt checkpoint (export with --to hf, or import with --from hf:<dir>)`,
    );
  if (fromHf) {
    const { checkpoint, tokenizer } = importHf(hfDir!, out);
    const c = checkpoint.meta.config;
    process.stdout.write(
      `imported ${from} (${c.nLayer} layers, ${c.nHead} heads, ${c.nEmbd} wide, context ${c.blockSize}, vocabulary ${c.vocabSize}) into ${out}\n`,
    );
    if (!tokenizer)
      process.stdout.write('note: no known tokenizer for this vocabulary; pass --tokenizer to generate/eval\n');
    return 0;
  }
  const files = exportHf(from, out, null, merge);
  process.stdout.write(`exported ${from} to ${out}: ${files.join(', ')}\n`);
  if (!files.includes('tokenizer.json'))
    process.stdout.write(
      'note: this tokenizer (char) has no Hugging Face equivalent; only the weights were exported\n',
    );
  return 0;
}
