// `webgpu-gpt finetune-demo [--base <run dir>] [--out <dir>] [--quick]` (= `npm run finetune`): the
// fine-tuning demo of train/finetune/demo.ts, started from the pre-trained Moby-Dick run of
// `npm run train` if it has finished, else from a shorter run of the same job trained first
// (the output says so; a later demo reuses it).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { CliError } from '../cli-error.ts';
import { formatHelp, parseConfig, type Schema } from '../config.ts';
import { runDemo } from '../finetune/demo.ts';
import type { FinetuneConfig } from '../finetune/run.ts';
import { defaultJobMain } from './default-job.ts';
import { FINETUNE_SCHEMA } from './finetune.ts';

interface DemoCliConfig {
  base: string;
  out: string;
  quick: boolean;
}

export const DEMO_SCHEMA: Schema<DemoCliConfig> = {
  base: {
    type: 'string',
    default: 'runs/moby-dick',
    help: 'the finished pre-training run to fine-tune (default: the one npm run train writes)',
  },
  out: { type: 'string', default: 'runs/finetune-demo', help: 'folder for the data, the sub-runs and the results' },
  quick: { type: 'boolean', default: false, help: 'a smoke run with tiny budgets (the numbers mean nothing)' },
};

export const DEMO_HELP = formatHelp(DEMO_SCHEMA, {
  usage: 'usage: npm run finetune [-- --base <run dir>] [-- --out <dir>]     (= webgpu-gpt finetune-demo)',
  description:
    'Fine-tunes the pre-trained Moby-Dick GPT on shipped public data and prints one table: sentiment\n' +
    'classification from the base vs from scratch vs majority class and naive Bayes; "Define: word" →\n' +
    'WordNet gloss scored on held-out words before and after; domain adaptation on review sentences\n' +
    '(review and Moby-Dick validation loss before and after). Without a finished base run it pre-trains\n' +
    'a shorter one first. Each run again starts every sub-run over. About 15 minutes on 2 CPU cores.',
});

/** The default job's pre-training, shorter, for when there is no finished base run. */
export const SHORT_PRETRAIN = ['--steps', '2000', '--maxMinutes', '4'];
export const SHORT_BASE_NAME = 'moby-dick-short';

function isFinished(runDir: string): boolean {
  try {
    const s = JSON.parse(readFileSync(join(runDir, 'summary.json'), 'utf8')) as { status?: string };
    return s.status === 'finished';
  } catch {
    return false;
  }
}

/**
 * The base to fine-tune: --base if it is a finished run; without --base, the default run or else
 * a shorter pre-training beside it (trained now, or kept from an earlier demo).
 */
export async function chooseBase(
  base: string,
  given: boolean,
  log: (l: string) => void,
  pretrainShort: (out: string) => Promise<number> = (out) => defaultJobMain(['--out', out, ...SHORT_PRETRAIN]),
): Promise<{ dir: string; pretrainedHere: boolean }> {
  if (isFinished(base)) return { dir: base, pretrainedHere: false };
  if (given) {
    const why = existsSync(base) ? 'has not finished (no summary.json with status finished)' : 'does not exist';
    throw new CliError(`--base ${base}: the pre-training run ${why}; run npm run train, or leave out --base`);
  }
  const short = join(dirname(resolve(base)), SHORT_BASE_NAME);
  if (isFinished(short)) {
    log(`no finished pre-trained run in ${base}: using the shorter pre-training an earlier demo left in ${short}`);
    return { dir: short, pretrainedHere: true };
  }
  log(
    `no finished pre-trained run in ${base} (npm run train makes one): pre-training a SHORTER one first ` +
      `into ${short} (the default job with ${SHORT_PRETRAIN.join(' ')}), so the numbers below start from a weaker base`,
  );
  const rc = await pretrainShort(short);
  if (rc !== 0 || !isFinished(short))
    throw new CliError(`the shorter pre-training in ${short} did not finish (exit status ${rc}); run the demo again`);
  return { dir: short, pretrainedHere: true };
}

/** `finetune`'s keys at their defaults, as its command would parse an empty command line. */
function finetuneDefaults(): FinetuneConfig {
  return Object.fromEntries(
    Object.entries(FINETUNE_SCHEMA).map(([k, s]) => [k, s.default]),
  ) as unknown as FinetuneConfig;
}

/** `webgpu-gpt finetune-demo ...`: argv is what follows the command's name. */
export async function finetuneDemoMain(argv: string[]): Promise<number> {
  const startedAt = performance.now();
  const parsed = parseConfig(DEMO_SCHEMA, argv, 'finetune-demo');
  if (parsed.help) {
    process.stdout.write(DEMO_HELP + '\n');
    return 0;
  }
  if (parsed.positional.length)
    throw new CliError(`unexpected argument "${parsed.positional[0]}" (see webgpu-gpt finetune-demo --help)`);
  const { base, out, quick } = parsed.values;
  const log = (l: string): void => void process.stdout.write(l + '\n');
  const given = parsed.sources.base === 'cli' || parsed.sources.base === 'file';
  const chosen = await chooseBase(base, given, log);
  await runDemo({
    base: chosen.dir,
    out,
    quick,
    defaults: finetuneDefaults(),
    pretrainedHere: chosen.pretrainedHere,
    startedAt,
    log,
  });
  return 0;
}
