// `webgpu-gpt generate --checkpoint <run dir|checkpoint> --prompt "..." [--maxTokens N --temperature T
// --topK K --topP P --seed S]`: streams the continuation to stdout token by token (KV cache).
// With `--infill "text with a [MASK] in it"` (or --prefix/--suffix) it fills the gap instead, for a
// model pre-trained on fill-in-the-middle data (train/infill.ts).
import { generate, TextStream } from '../../model/generate.ts';
import { CliError } from '../cli-error.ts';
import { formatHelp, GENERATE_SCHEMA, parseConfig, type GenerateConfig } from '../config.ts';
import type { FimMode } from '../data/fim.ts';
import { infill, requireFim, splitAtGap } from '../infill.ts';
import { checkpointTokenizer, openCheckpoint } from './eval.ts';
import { promptIds } from '../sample.ts';

export const GENERATE_HELP = formatHelp(GENERATE_SCHEMA, {
  usage: 'usage: webgpu-gpt generate --checkpoint <run dir|checkpoint dir> --prompt "..." [options]',
  description:
    'Continues the prompt with the model and prints the text as it is sampled (the prompt first). The\n' +
    'tokenizer is the one stored in the checkpoint. Stops early at an end-of-text token. With --infill\n' +
    '(or --prefix/--suffix) it prints the text with its gap filled.',
});

/** The gap to fill, from --infill or --prefix/--suffix; null without them. Bad input is a CliError
 *  before any checkpoint is opened. */
export function infillParts(
  o: GenerateConfig,
  positional: readonly string[],
): { prefix: string; suffix: string } | null {
  const split = o.prefix !== null || o.suffix !== null;
  if (o.infill === null && !split) return null;
  if (o.infill !== null && split) throw new CliError('give either --infill or --prefix/--suffix, not both');
  if (o.prompt || positional.length) throw new CliError('--prompt does not go with --infill or --prefix/--suffix');
  return o.infill !== null ? splitAtGap(o.infill) : { prefix: o.prefix ?? '', suffix: o.suffix ?? '' };
}

export async function generateMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(GENERATE_SCHEMA, argv, 'generate');
  if (parsed.help) {
    process.stdout.write(GENERATE_HELP + '\n');
    return 0;
  }
  const o = parsed.values;
  // `generate -c run "some prompt"` works too.
  let prompt = o.prompt;
  if (parsed.positional.length) {
    if (parsed.sources.prompt === 'cli')
      throw new CliError(`unexpected argument "${parsed.positional[0]}" (the prompt was given with --prompt)`);
    prompt = parsed.positional.join(' ');
  }
  const gap = infillParts(o, parsed.positional);
  if (gap) return infillMain(o, gap);
  const { rt, model, checkpoint } = await openCheckpoint(o.checkpoint!);
  process.stderr.write(`adapter: ${rt.describe()}\ncheckpoint: ${checkpoint.path} (step ${checkpoint.meta.step})\n`);
  const tok = checkpointTokenizer(checkpoint, {
    override: o.tokenizer,
    allowMismatch: o.allowTokenizerMismatch,
    warn: (line) => process.stderr.write(line + '\n'),
  });
  const ids = promptIds(tok, prompt);
  const ctx = model.config.blockSize;
  if (ids.length > ctx)
    process.stderr.write(`note: the prompt has ${ids.length} tokens; the model sees the last ${ctx}\n`);
  process.stdout.write(prompt);
  const stream = new TextStream(tok, (s) => process.stdout.write(s));
  const res = await generate(model, ids, {
    maxTokens: o.maxTokens,
    temperature: o.temperature,
    topK: o.topK,
    topP: o.topP,
    seed: o.seed,
    stop: [tok.eotId],
    onToken: (id) => stream.push(id),
  });
  stream.flush();
  process.stdout.write('\n');
  const perTok = res.tokens.length ? res.ms / res.tokens.length : 0;
  process.stderr.write(
    `${res.tokens.length} tokens in ${(res.ms / 1000).toFixed(2)} s (${perTok.toFixed(1)} ms/token)${res.reason === 'stop' ? ', stopped at end-of-text' : ''}\n`,
  );
  model.dispose();
  return 0;
}

/** `generate --infill`: prints the prefix, the middle as it is generated, then the suffix. */
async function infillMain(o: GenerateConfig, gap: { prefix: string; suffix: string }): Promise<number> {
  const { rt, model, checkpoint } = await openCheckpoint(o.checkpoint!);
  try {
    process.stderr.write(`adapter: ${rt.describe()}\ncheckpoint: ${checkpoint.path} (step ${checkpoint.meta.step})\n`);
    const tok = checkpointTokenizer(checkpoint, {
      override: o.tokenizer,
      allowMismatch: o.allowTokenizerMismatch,
      warn: (line) => process.stderr.write(line + '\n'),
    });
    requireFim(tok);
    process.stdout.write(gap.prefix);
    const stream = new TextStream(tok, (s) => process.stdout.write(s));
    const res = await infill(model, tok, gap.prefix, gap.suffix, {
      maxTokens: o.maxTokens,
      temperature: o.temperature,
      topK: o.topK,
      topP: o.topP,
      seed: o.seed,
      mode: o.fimMode as FimMode,
      onToken: (id) => stream.push(id),
    });
    stream.flush();
    process.stdout.write(gap.suffix + '\n');
    process.stderr.write(
      `filled the gap with ${res.tokens.length} tokens in ${(res.ms / 1000).toFixed(2)} s${res.reason === 'stop' ? ' (stopped at end-of-text)' : ' (hit --maxTokens before end-of-text)'}\n`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}
