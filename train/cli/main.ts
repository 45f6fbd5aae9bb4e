// The one command line: `webgpu-gpt <prepare|pretrain|generate|eval|bench|train-default> ...`.
// bin/webgpu-gpt.mjs runs this file in-process through tsx's loader; `npm run train` runs
// `train-default`. `bench` and `doctor` sit above train (bench/ may import train, never the reverse),
// so the bin passes them in as extra commands.
//
// Errors a user can fix (a bad flag, a missing folder, a corrupt checkpoint) are CliErrors and
// print as one `error: ...` line with exit status 1, no stack trace. Anything else is a bug or an
// environment problem and prints its stack too (unless it is a WebGPU setup error, whose message
// already says what to do).
import { CliError } from '../cli-error.ts';

export const USAGE = `usage: webgpu-gpt <command> [options]

commands
  prepare        turn text into token shards: webgpu-gpt prepare --input <files...> --out <dir>
  pretrain       train a GPT on prepared data: webgpu-gpt pretrain --data <dir> --out <run dir>
  finetune       fine-tune a run on a task: webgpu-gpt finetune --from <run dir> --task <lm|sft|classify> --data <file> --out <dir>
  classify       label texts with a classify fine-tune: webgpu-gpt classify --checkpoint <run dir> --text "..."
  generate       sample text from a checkpoint: webgpu-gpt generate --checkpoint <run dir> --prompt "..."
  eval           loss and perplexity on a text file: webgpu-gpt eval --checkpoint <run dir> --input <file>
  convert        Hugging Face GPT-2 weights in and out: webgpu-gpt convert --from hf:<dir> --out <run dir>
  bench          kernel and training-step benchmarks: webgpu-gpt bench <kernel...|all|train>
  doctor         versions, adapter, features, limits, driver and a 10-second speed check, for bug reports
  train-default  the main job (npm run train): prepare Moby-Dick and pre-train a small GPT on it
  finetune-demo  the fine-tuning demo (npm run finetune): sentiment, definitions, domain adaptation
  pretrain-demo  the FIM and NSP demo (npm run demo:pretrain): plain vs FIM pre-training, NSP

Run webgpu-gpt <command> --help for the options of each command.`;

export type Main = (argv: string[]) => Promise<number | void>;
export type Commands = Record<string, () => Promise<Main>>;

const COMMANDS: Commands = {
  prepare: async () => (await import('./prepare.ts')).prepareMain,
  pretrain: async () => (await import('./pretrain.ts')).pretrainMain,
  finetune: async () => (await import('./finetune.ts')).finetuneMain,
  generate: async () => (await import('./generate.ts')).generateMain,
  classify: async () => (await import('./classify.ts')).classifyMain,
  eval: async () => (await import('./eval.ts')).evalMain,
  convert: async () => (await import('./convert.ts')).convertMain,
  'train-default': async () => (await import('./default-job.ts')).defaultJobMain,
  'finetune-demo': async () => (await import('./finetune-demo.ts')).finetuneDemoMain,
  'pretrain-demo': async () => (await import('./pretrain-demo.ts')).pretrainDemoMain,
};

/** Prints an error the way the CLI does; returns the exit status. */
export function reportError(e: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const err = e as Error;
  if (e instanceof CliError) {
    write(`error: ${err.message}\n`);
    return 1;
  }
  if (err && (err.name === 'WebGPUError' || err.name === 'ModelFitError')) {
    write(`error: ${err.message}\n`);
    return 1;
  }
  write(`error: ${err?.message ?? String(e)}\n`);
  if (err?.stack) write(`${err.stack.split('\n').slice(1).join('\n')}\n`);
  return 1;
}

async function destroyEngine(): Promise<void> {
  try {
    const { destroyRuntime } = await import('../../kernels/gpu/runtime.ts');
    await destroyRuntime();
  } catch {
    // nothing to destroy
  }
}

/**
 * Runs one command. `extra` adds commands from layers above train (bin/webgpu-gpt.mjs passes
 * `bench` and `doctor` from bench/), so they share the error reporting and device teardown.
 */
export async function main(argv: string[], extra: Commands = {}): Promise<number> {
  const commands = { ...COMMANDS, ...extra };
  const [cmd, ...rest] = argv;
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    const sub = cmd === 'help' ? rest[0] : undefined;
    if (sub && commands[sub]) return main([sub, '--help'], extra);
    process.stdout.write(USAGE + '\n');
    return cmd === undefined ? 1 : 0;
  }
  const load = commands[cmd];
  try {
    if (!load) throw new CliError(`unknown command "${cmd}"\n${USAGE}`);
    const rc = await (await load())(rest);
    return typeof rc === 'number' ? rc : 0;
  } catch (e) {
    return reportError(e);
  } finally {
    // Destroy the device (if one was made) so that Node can exit. `prepare` never loads the engine.
    if (cmd !== 'prepare') await destroyEngine();
  }
}

const isEntry = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isEntry || process.argv[1]?.endsWith('/train/cli/main.ts')) {
  const rc = await main(process.argv.slice(2));
  // Dawn can keep the event loop alive after the device is gone: exit explicitly once stdout drains.
  process.stdout.write('', () => process.exit(rc));
}
