// `npm run bench -- generate [--examples N --maxTokens N --batchSize B --promptMin N --promptMax N]
//                           [--preset NAME --vocabSize V ... --temperature X --json FILE --quick]`
//
// Times batched generation for evaluation (model/generate-batch.ts): N random prompts (lengths
// uniform in [promptMin, promptMax]) × up to maxTokens new tokens on a model with random weights,
// no stop token (every row runs its full maxTokens: the slowest case). Default: issue 11's bar, 500
// examples × 32 tokens on the `npm run train` shape (the mini preset with a 512-token BPE). A warm-up
// batch runs first (it compiles the pipelines), untimed; prints examples/s and tokens/s.
//
// The bench runner (bench/harness.ts) calls main(argv) for `generate`; it also runs on its own:
//   npx tsx bench/generate.bench.ts --examples 100
import { cpuUsage } from 'node:process';
import { initEngine } from '../engine/index.ts';
import { Rng } from '../engine/random.ts';
import { PRESET_NAMES, resolveConfig, type PresetName } from '../model/config.ts';
import { generateBatch } from '../model/generate-batch.ts';
import { generate } from '../model/generate.ts';
import { GPT } from '../model/gpt.ts';
import type { Schema } from '../train/config.ts';
import { benchEntry, BENCH_FLAGS, dimFlag, parseBenchFlags, runIfStandalone, type BenchFlags } from './entry.ts';
import { BenchUsageError } from './harness.ts';

export const GENERATE_BENCH_USAGE = `usage: npm run bench -- generate [options]
  --examples N         prompts (default 500; --quick 64)
  --maxTokens N        new tokens per prompt (default 32)
  --batchSize B        prompts per GPU batch (default: generateBatch's)
  --promptMin N --promptMax N
                       prompt lengths, uniform (default 8 .. 48)
  --temperature X      0 = greedy (default 0)
  --single N           also time the first N prompts one at a time (generate(), the unbatched
                       path) for the speed-up (default 0: skip)
  --preset NAME        model preset (${PRESET_NAMES.join(', ')}; default mini)
  --nLayer N --nHead H --nEmbd C --blockSize T --vocabSize V
                       the shape (default: the preset's, vocabulary 512 = \`npm run train\`'s model)
  --json FILE          write the result as JSON`;

interface GenerateBenchFlags extends BenchFlags {
  vocabSize: number;
  examples: number | null;
  maxTokens: number;
  batchSize: number | null;
  promptMin: number;
  promptMax: number;
  temperature: number;
  single: number;
  quick: boolean;
  // The runner's (--warmup N), accepted, unused.
  warmup: number | null;
}

const SCHEMA: Schema<GenerateBenchFlags> = {
  ...BENCH_FLAGS,
  vocabSize: { type: 'int', default: 512, min: 1, help: 'vocabulary' },
  examples: dimFlag('prompts'),
  maxTokens: { type: 'int', default: 32, min: 1, help: 'new tokens per prompt' },
  batchSize: dimFlag('prompts per batch'),
  promptMin: { type: 'int', default: 8, min: 1, help: 'shortest prompt' },
  promptMax: { type: 'int', default: 48, min: 1, help: 'longest prompt' },
  temperature: { type: 'number', default: 0, min: 0, help: 'sampling temperature' },
  single: { type: 'int', default: 0, min: 0, help: 'prompts timed one at a time' },
  quick: { type: 'boolean', default: false, help: 'fewer examples' },
  warmup: { type: 'int', default: null, min: 0, help: "the runner's" },
};

export interface GenerateBenchResult {
  bench: 'generate';
  shape: { nLayer: number; nHead: number; nEmbd: number; blockSize: number; vocabSize: number };
  examples: number;
  maxTokens: number;
  batchSize: number | null;
  promptTokens: number;
  newTokens: number;
  seconds: number;
  warmupSeconds: number;
  examplesPerSec: number;
  tokensPerSec: number;
  cpuSeconds: number;
  /** Tokens/s of the first `single` prompts generated one at a time (generate()), when timed. */
  singleTokensPerSec: number | null;
  adapter: string;
  software: boolean;
  date: string;
}

/** Runs the bench and prints its lines; returns the result (null for --help). */
export async function runGenerateBench(
  argv: readonly string[],
  out: (line: string) => void = (l) => console.log(l),
): Promise<GenerateBenchResult | null> {
  const { flags: f, help } = parseBenchFlags(SCHEMA, argv, 'generate', GENERATE_BENCH_USAGE);
  if (help) {
    out(GENERATE_BENCH_USAGE);
    return null;
  }
  if (f.promptMax < f.promptMin) throw new BenchUsageError('--promptMax must be >= --promptMin');
  const over = { nLayer: f.nLayer, nHead: f.nHead, nEmbd: f.nEmbd, blockSize: f.blockSize };
  const cfg = resolveConfig({
    preset: f.preset as PresetName,
    vocabSize: f.vocabSize,
    ...Object.fromEntries(Object.entries(over).filter(([, v]) => v !== null)),
  });
  const rt = await initEngine();
  const model = GPT.create(cfg, { seed: 1 });
  const rng = new Rng(2);
  const N = f.examples ?? (f.quick ? 64 : 500);
  const prompts = Array.from({ length: N }, () =>
    Array.from({ length: f.promptMin + rng.int(f.promptMax - f.promptMin + 1) }, () => rng.int(cfg.vocabSize)),
  );
  const o = { maxTokens: f.maxTokens, temperature: f.temperature, ...(f.batchSize ? { batchSize: f.batchSize } : {}) };
  out(`generate bench on ${rt.describe()}${rt.isSoftware ? ' (a SOFTWARE adapter: the CPU emulates the GPU)' : ''}`);
  out(
    `  model: ${cfg.nLayer} layers, ${cfg.nHead} heads, ${cfg.nEmbd} wide, context ${cfg.blockSize}, vocabulary ${cfg.vocabSize} (random weights)`,
  );
  out(
    `  ${N} prompts of ${f.promptMin}..${f.promptMax} tokens, ${f.maxTokens} new tokens each, temperature ${f.temperature}`,
  );
  let t0 = performance.now();
  await generateBatch(model, prompts.slice(0, o.batchSize ?? 32), o); // compiles the pipelines
  const warmupSeconds = (performance.now() - t0) / 1000;
  const cpu0 = cpuUsage();
  t0 = performance.now();
  const outs = await generateBatch(model, prompts, { ...o, onBatch: (d, t) => out(`  ${d}/${t} prompts`) });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUsage(cpu0);
  const single = f.single > 0 ? await timeSingle(model, prompts.slice(0, f.single), o) : null;
  model.dispose();
  const newTokens = outs.reduce((s, t) => s + t.length, 0);
  const res: GenerateBenchResult = {
    bench: 'generate',
    shape: {
      nLayer: cfg.nLayer,
      nHead: cfg.nHead,
      nEmbd: cfg.nEmbd,
      blockSize: cfg.blockSize,
      vocabSize: cfg.vocabSize,
    },
    examples: N,
    maxTokens: f.maxTokens,
    batchSize: f.batchSize,
    promptTokens: prompts.reduce((s, p) => s + p.length, 0),
    newTokens,
    seconds,
    warmupSeconds,
    examplesPerSec: N / seconds,
    tokensPerSec: newTokens / seconds,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
    singleTokensPerSec: single,
    adapter: rt.describe(),
    software: rt.isSoftware,
    date: new Date().toISOString(),
  };
  out(
    `  ${N} examples, ${newTokens} new tokens in ${seconds.toFixed(1)} s: ${res.examplesPerSec.toFixed(2)} examples/s, ` +
      `${res.tokensPerSec.toFixed(0)} tokens/s (warm-up batch ${warmupSeconds.toFixed(1)} s; process CPU ${res.cpuSeconds.toFixed(0)} s)`,
  );
  if (single !== null)
    out(
      `  one at a time (generate(), first ${f.single} prompts): ${single.toFixed(0)} tokens/s; batched is ${(res.tokensPerSec / single).toFixed(1)}x`,
    );
  return res;
}

/** Tokens/s of generating each prompt alone with the cached one-prompt path. */
async function timeSingle(
  model: GPT,
  prompts: readonly number[][],
  o: { maxTokens: number; temperature: number },
): Promise<number> {
  const t0 = performance.now();
  let n = 0;
  for (const p of prompts)
    n += (await generate(model, p, { maxTokens: o.maxTokens, temperature: o.temperature })).tokens.length;
  return n / ((performance.now() - t0) / 1000);
}

const entry = benchEntry('generate', runGenerateBench);
/** Entry point of the bench runner: argv is the command line without the word `generate`. */
export const { main, lastResult } = entry;

await runIfStandalone(import.meta.url, entry);
