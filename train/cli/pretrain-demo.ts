// `webgpu-gpt pretrain-demo [--out <dir>] [--quick]` (= `npm run demo:pretrain`): the issue-15 demo
// of train/pretrain-demo.ts: plain vs fill-in-the-middle pre-training on Moby-Dick at the same
// budget (validation loss, infilling exact match), and next-sentence prediction from the plain
// base vs from scratch vs chance. One table, printed and written to <out>/results.md and .json.
import { CliError } from '../cli-error.ts';
import { formatHelp, parseConfig, type Schema } from '../config.ts';
import type { FinetuneConfig } from '../finetune/run.ts';
import { runPretrainDemo } from '../pretrain-demo.ts';
import { FINETUNE_SCHEMA } from './finetune.ts';

interface PretrainDemoCliConfig {
  out: string;
  quick: boolean;
}

export const PRETRAIN_DEMO_SCHEMA: Schema<PretrainDemoCliConfig> = {
  out: { type: 'string', default: 'runs/pretrain-demo', help: 'folder for the data, the runs and the results' },
  quick: { type: 'boolean', default: false, help: 'a smoke run with tiny budgets (the numbers mean nothing)' },
};

export const PRETRAIN_DEMO_HELP = formatHelp(PRETRAIN_DEMO_SCHEMA, {
  usage: 'usage: npm run demo:pretrain [-- --out <dir>] [-- --quick]     (= webgpu-gpt pretrain-demo)',
  description:
    'Pre-trains two small GPTs on Moby-Dick at the same budget, one plain and one with fill-in-the-middle\n' +
    '(FIM rate 0.5), and prints one table: the left-to-right validation loss of both, the exact match of\n' +
    'masked held-out words filled by both (the plain model continuing the prefix), and next-sentence\n' +
    'prediction accuracy fine-tuned from the plain base vs from scratch vs chance. About 10 minutes on\n' +
    '2 CPU cores; each run starts every stage over.',
});

/** `finetune`'s keys at their defaults, as its command would parse an empty command line. */
function finetuneDefaults(): FinetuneConfig {
  return Object.fromEntries(
    Object.entries(FINETUNE_SCHEMA).map(([k, s]) => [k, s.default]),
  ) as unknown as FinetuneConfig;
}

/** `webgpu-gpt pretrain-demo ...`: argv is what follows the command's name. */
export async function pretrainDemoMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(PRETRAIN_DEMO_SCHEMA, argv, 'pretrain-demo');
  if (parsed.help) {
    process.stdout.write(PRETRAIN_DEMO_HELP + '\n');
    return 0;
  }
  if (parsed.positional.length)
    throw new CliError(`unexpected argument "${parsed.positional[0]}" (see webgpu-gpt pretrain-demo --help)`);
  const { out, quick } = parsed.values;
  await runPretrainDemo({ out, quick, finetuneDefaults: finetuneDefaults() });
  return 0;
}
