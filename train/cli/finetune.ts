// `webgpu-gpt finetune --from <run dir|checkpoint|hf:<dir>|scratch> --task <lm|sft|classify> --data <file>
// --out <run dir> [--key=value ...]`: parses the arguments against FINETUNE_SCHEMA (pre-training's
// keys with fine-tuning defaults, plus the task's) and runs train/finetune/run.ts.
import { CliError } from '../cli-error.ts';
import { formatHelp, parseConfig, TRAIN_SCHEMA, type Schema } from '../config.ts';
import { finetune, FINETUNE_TASKS, type FinetuneConfig } from '../finetune/run.ts';

/** Pre-training's keys, with defaults for a short run from a pre-trained model, plus the task's. */
export const FINETUNE_SCHEMA: Schema<FinetuneConfig> = {
  ...TRAIN_SCHEMA,
  data: {
    ...TRAIN_SCHEMA.data,
    help: 'lm: a text file or a prepared folder; sft and classify: a JSONL file of records',
  },
  from: {
    type: 'string',
    default: null,
    group: 'data',
    help: 'pre-trained run folder or checkpoint (weights, shape and tokenizer), hf:<dir> (a Hugging Face GPT-2 folder: config.json + model.safetensors, gpt2 tokenizer), or `scratch` (random weights, --model)',
  },
  task: {
    type: 'string',
    default: 'sft',
    choices: FINETUNE_TASKS,
    group: 'data',
    help: 'lm: continued next-token training; sft: prompt → target; classify: a head on the last token; multi: --mix',
  },
  mix: {
    type: 'string',
    default: null,
    group: 'data',
    help: 'multi: JSON {"tasks": [{kind, data, weight, prompt/target or textField/labelField/labels, val}]}',
  },
  tokenizer: {
    type: 'string',
    default: null,
    group: 'data',
    help: '--from scratch: tokenizer.json or prepared folder whose tokenizer to use (default gpt2)',
  },
  val: { type: 'string', default: null, group: 'data', help: 'validation file (default: --valFraction of --data)' },
  test: { type: 'string', default: null, group: 'data', help: 'test file, checked against the training labels' },
  valFraction: {
    type: 'number',
    default: 0.1,
    above: 0,
    max: 0.9,
    group: 'data',
    help: 'share of --data held out for validation, seeded (stratified by label for classify)',
  },
  prompt: { type: 'string', default: '{prompt}', group: 'task', help: 'sft: prompt template, {field} placeholders' },
  target: { type: 'string', default: '{completion}', group: 'task', help: 'sft: target template' },
  textField: { type: 'string', default: 'text', group: 'task', help: 'classify: the field holding the text' },
  labelField: { type: 'string', default: 'label', group: 'task', help: 'classify: the field holding the label' },
  lmWeight: {
    type: 'number',
    default: 0,
    min: 0,
    group: 'task',
    help: 'classify: weight of an auxiliary language-modelling loss',
  },
  scoreExamples: {
    type: 'int',
    default: 32,
    min: 0,
    group: 'task',
    help: 'sft: held-out prompts continued greedily and scored against their targets (ROUGE-L F1, exact match) at each evaluation',
  },
  freeze: {
    type: 'string',
    default: '',
    group: 'optimizer',
    help: 'tensors that get no update, e.g. wte,wpe,h.0-3 (empty = train everything)',
  },
  lora: {
    type: 'string',
    default: '',
    group: 'optimizer',
    help: 'LoRA adapters instead of full fine-tuning, e.g. rank=8,alpha=16,targets=c_attn,c_proj,c_fc,dropout=0.05 (targets: c_attn, c_proj, c_fc, attn.c_proj, mlp.c_proj, h.3.mlp.c_fc; empty = full fine-tuning)',
  },
  steps: { ...TRAIN_SCHEMA.steps, default: 300 },
  batchSize: { ...TRAIN_SCHEMA.batchSize, default: 8 },
  lr: { ...TRAIN_SCHEMA.lr, default: 1e-4 },
  minLr: { ...TRAIN_SCHEMA.minLr, default: 1e-5 },
  warmupSteps: { ...TRAIN_SCHEMA.warmupSteps, default: 10 },
  evalEvery: { ...TRAIN_SCHEMA.evalEvery, default: 50 },
  evalBatches: { ...TRAIN_SCHEMA.evalBatches, default: 8 },
  sampleTokens: { ...TRAIN_SCHEMA.sampleTokens, default: 0 },
};

export const FINETUNE_HELP = formatHelp(FINETUNE_SCHEMA, {
  usage:
    'usage: webgpu-gpt finetune --from <run dir|checkpoint|hf:<dir>|scratch> --task <lm|sft|classify> --data <file> --out <run dir> [--key=value ...]\n' +
    '       webgpu-gpt finetune --resume <run dir> [--steps N]',
  description:
    'Fine-tunes a pre-trained GPT on the same training loop as pretrain (schedule, accumulation, evaluation,\n' +
    'checkpoints, exact resume). Weights, shape and tokenizer come from --from; the optimizer and the data\n' +
    "start fresh. lm: next-token training on new text (also reports the base run's validation loss);\n" +
    'sft: JSONL → prompt and target by templates, loss on the target only; classify: JSONL {text, label},\n' +
    'a head on the last token (accuracy, macro-F1; the label set is saved with the checkpoints).\n' +
    'With --lora only low-rank adapters (and a classify head) train; checkpoints hold the adapters and name\n' +
    'their base by checksum; webgpu-gpt convert --merge folds them into the weights.',
});

/** `webgpu-gpt finetune ...`: argv is what follows the word `finetune`. */
export async function finetuneMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(FINETUNE_SCHEMA, argv, 'finetune');
  if (parsed.help) {
    process.stdout.write(FINETUNE_HELP + '\n');
    return 0;
  }
  if (parsed.positional.length)
    throw new CliError(
      `unexpected argument "${parsed.positional[0]}" (options are --key value; see webgpu-gpt finetune --help)`,
    );
  await finetune(parsed.values, { sources: parsed.sources, handleSigint: true });
  return 0;
}
