// `webgpu-gpt classify --checkpoint <run dir|checkpoint> --text "..."` (or `--input file.jsonl`):
// runs a `finetune --task classify` model and prints each text's label and its probability. The
// label set and the tokenizer come from the checkpoint; a JSONL line whose label field holds a
// label the model was not trained on is an error naming the line (with labels, the accuracy is
// printed at the end).
import { readFileSync, existsSync } from 'node:fs';
import { CliError } from '../cli-error.ts';
import { formatHelp, parseConfig, type Schema } from '../config.ts';
import { classifyBatch, classifyExamples, parseJsonl, type ClassifyRecord, type Label } from '../finetune/index.ts';
import { DEFAULT_PAIR_FIELD } from '../finetune/records.ts';
import type { FinetuneOrigin } from '../finetune/run.ts';
import { predictLogits, type ClassifyBatch } from '../objectives/classify.ts';
import { checkpointTokenizer, openCheckpoint } from './eval.ts';

export interface ClassifyCommandConfig {
  checkpoint: string | null;
  text: string | null;
  input: string | null;
  textField: string;
  labelField: string;
  batchSize: number;
}

export const CLASSIFY_SCHEMA: Schema<ClassifyCommandConfig> = {
  checkpoint: {
    type: 'string',
    default: null,
    required: true,
    short: 'c',
    help: 'a run folder of `webgpu-gpt finetune --task classify` or one of its checkpoints',
  },
  text: { type: 'string', default: null, short: 't', help: 'the text to classify' },
  input: { type: 'string', default: null, short: 'i', help: 'JSONL file of records to classify' },
  textField: { type: 'string', default: 'text', help: '--input: the field holding the text' },
  labelField: { type: 'string', default: 'label', help: '--input: the field holding a known label, if any' },
  batchSize: { type: 'int', default: 8, min: 1, help: 'texts per batch' },
};

export const CLASSIFY_HELP = formatHelp(CLASSIFY_SCHEMA, {
  usage: 'usage: webgpu-gpt classify --checkpoint <run dir> (--text "..." | --input file.jsonl)',
  description:
    'Prints the predicted label of each text and its probability (tab-separated; with --input, the line\n' +
    'number first, and the accuracy at the end when the records hold labels).',
});

/** The records to classify and the known labels (class index or null) of each. */
function readInputs(
  o: ClassifyCommandConfig,
  labels: readonly Label[],
): { records: ClassifyRecord[]; known: (number | null)[] } {
  if (o.text !== null) return { records: [{ text: o.text, label: labels[0]!, line: 1 }], known: [null] };
  const file = o.input!;
  if (!existsSync(file)) throw new CliError(`--input ${file}: no such file`);
  const records: ClassifyRecord[] = [];
  const known: (number | null)[] = [];
  for (const row of parseJsonl(readFileSync(file, 'utf8'), file)) {
    const text = row.value[o.textField];
    if (typeof text !== 'string')
      throw new CliError(`${file}:${row.line}: no "${o.textField}" text field (see --textField)`);
    const label = row.value[o.labelField] as Label | undefined;
    const k = label === undefined ? -1 : labels.indexOf(label);
    if (label !== undefined && k < 0)
      throw new CliError(
        `${file}:${row.line}: label ${JSON.stringify(label)} was not seen in training (labels: ${labels.map((l) => JSON.stringify(l)).join(', ')})`,
      );
    // A sentence pair (prepare --task nsp) carries its second text in `text2`, as in training.
    const text2 = row.value[DEFAULT_PAIR_FIELD];
    const pair = typeof text2 === 'string' ? { text2 } : {};
    records.push({ text, ...pair, label: labels[0]!, line: row.line });
    known.push(label === undefined ? null : k);
  }
  if (records.length === 0) throw new CliError(`--input ${file}: no records`);
  return { records, known };
}

/** `webgpu-gpt classify ...`: argv is what follows the word `classify`. */
export async function classifyMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(CLASSIFY_SCHEMA, argv, 'classify');
  if (parsed.help) {
    process.stdout.write(CLASSIFY_HELP + '\n');
    return 0;
  }
  const o = parsed.values;
  if ((o.text === null) === (o.input === null)) throw new CliError('give one of --text "..." or --input file.jsonl');
  const { model, checkpoint } = await openCheckpoint(o.checkpoint!);
  const labels = (checkpoint.meta.extra as { finetune?: FinetuneOrigin } | undefined)?.finetune?.labels;
  const K = model.config.nClasses ?? 0;
  if (!labels || K < 2 || labels.length !== K)
    throw new CliError(
      `--checkpoint ${o.checkpoint}: not a classification checkpoint (webgpu-gpt finetune --task classify)`,
    );
  const tok = checkpointTokenizer(checkpoint, { override: null });
  const { records, known } = readInputs(o, labels);
  const { examples } = classifyExamples(records, labels, tok, model.config.blockSize, o.input ?? '--text');
  const batches: ClassifyBatch[] = [];
  for (let i = 0; i < examples.length; i += o.batchSize) {
    const b = classifyBatch(examples.slice(i, i + o.batchSize), tok.eotId);
    batches.push({ ids: b.ids, last: b.last, labels: b.labels, B: b.B, T: b.T });
  }
  const logits = await predictLogits(model, batches);
  model.dispose();
  let right = 0;
  examples.forEach((e, i) => {
    const { k, p } = argmaxSoftmax(logits.subarray(i * K, (i + 1) * K));
    const where = o.input !== null ? `${e.line}\t` : '';
    process.stdout.write(`${where}${String(labels[k])}\t${p.toFixed(4)}\n`);
    if (known[i] === k) right++;
  });
  const labelled = known.filter((k) => k !== null).length;
  if (labelled > 0) process.stdout.write(`accuracy ${(right / labelled).toFixed(4)} (${right}/${labelled})\n`);
  return 0;
}

/** The most probable class and its softmax probability. */
function argmaxSoftmax(row: Float32Array): { k: number; p: number } {
  let k = 0;
  for (let j = 1; j < row.length; j++) if (row[j]! > row[k]!) k = j;
  let s = 0;
  for (let j = 0; j < row.length; j++) s += Math.exp(row[j]! - row[k]!);
  return { k, p: 1 / s };
}
