// `webgpu-gpt pretrain --data <dir from prepare> --out <run dir> [--config f.json] [--key=value ...]`:
// parses the arguments against TRAIN_SCHEMA and runs train/pretrain.ts (Ctrl-C, SIGTERM and
// SIGHUP stop it with a checkpoint).
import { CliError } from '../cli-error.ts';
import { formatHelp, parseConfig, TRAIN_SCHEMA } from '../config.ts';
import { exitStatus, pretrain } from '../pretrain.ts';

export const PRETRAIN_HELP = formatHelp(TRAIN_SCHEMA, {
  usage:
    'usage: webgpu-gpt pretrain --data <dir from prepare> --out <run dir> [--config f.json] [--key=value ...]\n       webgpu-gpt pretrain --resume <run dir> [--steps N]',
  description:
    'Pre-trains a GPT-2-style model on token shards from `webgpu-gpt prepare`: AdamW with warmup and cosine\n' +
    'decay, clipping by global norm, gradient accumulation, evaluation with samples, checkpoints (also on\n' +
    'Ctrl-C) and exact resume. The run folder gets config.json, metrics.jsonl, loss.svg, samples.txt,\n' +
    'tokenizer.json, checkpoints/ and, at the end, summary.json.',
});

/** `webgpu-gpt pretrain ...`: argv is what follows the word `pretrain`. */
export async function pretrainMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(TRAIN_SCHEMA, argv, 'pretrain');
  if (parsed.help) {
    process.stdout.write(PRETRAIN_HELP + '\n');
    return 0;
  }
  if (parsed.positional.length)
    throw new CliError(
      `unexpected argument "${parsed.positional[0]}" (options are --key value; see webgpu-gpt pretrain --help)`,
    );
  // A run stopped by a signal exits with 128 + its number (after the checkpoint is on disk).
  return exitStatus(await pretrain(parsed.values, { sources: parsed.sources, handleSigint: true }));
}
