// `webgpu-gpt prepare`: its flags are PREPARE_SCHEMA (train/config.ts), read by the same parser as
// every other command; this file turns them into PrepareOptions, runs the pipeline
// (train/data/prepare.ts) and prints the report.
import { formatHelp, parseConfig, PREPARE_SCHEMA, type PrepareConfig } from '../config.ts';
import type { RuleName } from '../data/cleanup.ts';
import { CliError } from '../cli-error.ts';
import { defaultCorpusPath } from '../data/default-corpus.ts';
import type { FimMode } from '../data/fim.ts';
import { formatNspReport, prepareNsp, type NspOptions } from '../data/nsp.ts';
import { prepare, type PrepareOptions } from '../data/prepare.ts';
import { formatReport } from '../data/report.ts';
import type { TokenizerKind } from '../tokenizers/index.ts';

export const PREPARE_HELP = formatHelp(PREPARE_SCHEMA, {
  usage: 'usage: webgpu-gpt prepare --input <file|folder|file.jsonl>... --out <dir> [options]',
  description: `Turns raw text into token shards: reads, cleans, splits into train/val by document, builds the
tokenizer on the train split, and writes <dir>/train.bin, val.bin, tokenizer.json and report.json
(atomically: a failed run leaves no half-written folder). With --task nsp it writes next-sentence
pairs instead: <dir>/train.jsonl, val.jsonl, test.jsonl for \`finetune --task classify\`, and nsp.json.`,
});

const RULE_KEYS = [
  'exactDup',
  'nearDup',
  'noise',
  'controlChars',
  'markup',
  'boilerplate',
  'tooShort',
  'nonLetter',
  'anonymize',
] as const satisfies readonly (keyof PrepareConfig & (RuleName | 'noise'))[];

export interface ParsedPrepareArgs {
  help: boolean;
  quiet: boolean;
  options: PrepareOptions;
  usedDefaultCorpus: boolean;
  /** `--task`: `text` runs `options`, `nsp` runs `nsp`. */
  task: 'text' | 'nsp';
  nsp: NspOptions;
}

/** The keys `--task nsp` reads; any other given on the command line is an error, not ignored. */
const NSP_KEYS = new Set<string>([
  'input',
  'textField',
  'docChars',
  'strict',
  'valFraction',
  'seed',
  'task',
  'maxSentenceChars',
  'out',
  'quiet',
]);

function checkTaskKeys(task: string, sources: Record<string, string>): void {
  const given = Object.keys(sources).filter((k) => sources[k] !== 'default');
  if (task === 'nsp') {
    const bad = given.filter((k) => !NSP_KEYS.has(k));
    if (bad.length > 0)
      throw new CliError(
        `--${bad[0]} does not apply to --task nsp (it writes text pairs; finetune tokenizes them with the checkpoint's tokenizer)`,
      );
  } else if (given.includes('maxSentenceChars')) {
    throw new CliError('--maxSentenceChars applies to --task nsp only');
  }
}

/** Parses `prepare`'s arguments; without --input the default corpus is used. */
export function parsePrepareArgs(argv: readonly string[]): ParsedPrepareArgs {
  const { values: v, sources, help } = parseConfig(PREPARE_SCHEMA, argv, 'prepare');
  // Only the rules given on the command line: --no-noise must not be undone by the defaults of the
  // five rules it covers.
  const rules: Partial<Record<RuleName | 'noise', boolean>> = {};
  for (const r of RULE_KEYS) if (sources[r] !== 'default') rules[r] = v[r];
  const usedDefaultCorpus = !help && v.input.length === 0;
  const options: PrepareOptions = {
    inputs: usedDefaultCorpus ? [defaultCorpusPath()] : v.input,
    out: v.out ?? '',
    tokenizer: v.tokenizer as TokenizerKind,
    vocabSize: v.vocabSize ?? undefined,
    valFraction: v.valFraction,
    seed: v.seed,
    textField: v.textField,
    docChars: v.docChars,
    nearDupThreshold: v.nearDupThreshold,
    minChars: v.minChars,
    minLetterFraction: v.minLetterFraction,
    strict: v.strict,
    fimRate: v.fimRate,
    fimMode: v.fimMode as FimMode,
    fimChars: v.fimChars,
    rules,
  };
  checkTaskKeys(v.task, sources);
  const nsp: NspOptions = {
    inputs: options.inputs,
    out: options.out,
    valFraction: v.valFraction,
    seed: v.seed,
    textField: v.textField,
    docChars: v.docChars,
    maxSentenceChars: v.maxSentenceChars,
    strict: v.strict,
  };
  return { help, quiet: v.quiet, options, usedDefaultCorpus, task: v.task as 'text' | 'nsp', nsp };
}

/** `webgpu-gpt prepare ...`: argv is what follows the word `prepare`. */
export async function prepareMain(argv: string[]): Promise<void> {
  const parsed = parsePrepareArgs(argv);
  if (parsed.help) {
    process.stdout.write(PREPARE_HELP + '\n');
    return;
  }
  if (parsed.usedDefaultCorpus)
    process.stderr.write(`no --input given: using the default corpus ${parsed.options.inputs[0]}\n`);
  if (parsed.task === 'nsp') {
    process.stdout.write(formatNspReport(prepareNsp(parsed.nsp)) + '\n');
    return;
  }
  const progress = parsed.quiet ? 'off' : process.stderr.isTTY ? 'bar' : 'lines';
  const report = await prepare({ ...parsed.options, progress });
  process.stdout.write(formatReport(report) + '\n');
}
