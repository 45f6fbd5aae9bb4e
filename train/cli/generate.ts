// `webgpu-gpt generate --checkpoint <run dir|checkpoint> --prompt "..." [--maxTokens N --temperature T
// --topK K --topP P --seed S]`: streams the continuation to stdout token by token (KV cache).
import { generate, TextStream } from '../../model/generate.ts';
import { CliError } from '../cli-error.ts';
import { formatHelp, GENERATE_SCHEMA, parseConfig } from '../config.ts';
import { checkpointTokenizer, openCheckpoint } from './eval.ts';
import { promptIds } from '../sample.ts';

export const GENERATE_HELP = formatHelp(GENERATE_SCHEMA, {
  usage: 'usage: webgpu-gpt generate --checkpoint <run dir|checkpoint dir> --prompt "..." [options]',
  description:
    'Continues the prompt with the model and prints the text as it is sampled (the prompt first). The\n' +
    'tokenizer is the one stored in the checkpoint. Stops early at an end-of-text token.',
});

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
