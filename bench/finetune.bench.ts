// `npm run bench -- finetune [--preset NAME] [--vocabSize V --batchSize B --steps N --warmup N
//                            --rank R --json FILE]`
//
// Fine-tuning steps against the pre-training step of the same tokens on the same model, each the
// ONE training step (model/train-step.ts) with its objective's loss, as `finetune` runs them:
//   pretrain       next-token loss over B·T tokens (the baseline)
//   sft            the same tokens, the loss on the second half of each row only (prompt masked)
//   classify       the same tokens, the head on each row's last real token (right padding)
//   lora-classify  classify with LoRA adapters on every linear layer (the base frozen)
//   lora-sft       sft with the same adapters
// It prints ms per step (median of interleaved rounds: one step of each case per round, so load
// from other processes hits every case alike), the process's CPU time per step, tokens/s, the
// trainable parameters and the optimizer state (the AdamW moments on the device) of each.
//
// Validated before timing: every case's first loss is finite, and an adapted model at step 0
// gives exactly the base model's logits; after timing, the LoRA cases' base weights are checked
// bit-identical to where they started.
import { fromArray, initEngine, keep, noGrad, tidy, type Runtime } from '../engine/index.ts';
import { Rng } from '../engine/random.ts';
import { countParams, PRESET_NAMES, resolveConfig, type GPTConfig, type PresetName } from '../model/config.ts';
import { GPT } from '../model/gpt.ts';
import { paramLayout } from '../model/layout.ts';
import { describeLora, type LoraConfig } from '../model/lora.ts';
import { addLora, type LoraAdapters } from '../model/lora-store.ts';
import { AdamW } from '../model/optimizer.ts';
import { tokenBatchLoss, trainStep, type MicroLoss } from '../model/train-step.ts';
import type { Schema } from '../train/config.ts';
import { classifyLoss, type ClassifyBatch } from '../train/objectives/classify.ts';
import { sftLoss, type SftBatch } from '../train/objectives/sft.ts';
import { benchEntry, BENCH_FLAGS, parseBenchFlags, runIfStandalone, type BenchFlags } from './entry.ts';

export const FINETUNE_BENCH_USAGE = `usage: npm run bench -- finetune [options]
  --preset NAME    model preset (${PRESET_NAMES.join(', ')}; default mini, with --vocabSize 512: npm run train's model)
  --vocabSize V    vocabulary (default 512, the default job's BPE)
  --nLayer N --nHead H --nEmbd C --blockSize T   override the preset's shape
  --batchSize B    rows per step (default 16, pre-training's default)
  --steps N        timed rounds (default 10; --quick 3)
  --warmup N       untimed rounds first (default 2)
  --rank R         LoRA rank (default 8; alpha 2R, dropout 0.05, targets c_attn,c_proj,c_fc)
  --json FILE      write the result as JSON`;

interface Flags extends BenchFlags {
  vocabSize: number;
  batchSize: number;
  steps: number | null;
  warmup: number;
  rank: number;
  quick: boolean;
}

const SCHEMA: Schema<Flags> = {
  ...BENCH_FLAGS,
  vocabSize: { type: 'int', default: 512, min: 2, help: 'vocabulary' },
  batchSize: { type: 'int', default: 16, min: 1, help: 'rows per step' },
  steps: { type: 'int', default: null, min: 1, help: 'timed rounds' },
  warmup: { type: 'int', default: 2, min: 0, help: 'untimed rounds' },
  rank: { type: 'int', default: 8, min: 1, help: 'LoRA rank' },
  quick: { type: 'boolean', default: false, help: 'fewer rounds' },
};

export interface FinetuneBenchCase {
  name: string;
  msPerStep: number;
  cpuMsPerStep: number;
  tokensPerSec: number;
  /** ms per step over the pre-training step's. */
  vsPretrain: number;
  trainableParams: number;
  optimizerStateBytes: number;
  dispatchesPerStep: number;
  lora?: string;
}

export interface FinetuneBenchResult {
  bench: 'finetune';
  shape: { nLayer: number; nHead: number; nEmbd: number; blockSize: number; vocabSize: number; batchSize: number };
  params: number;
  rounds: number;
  cases: FinetuneBenchCase[];
  adapter: string;
  software: boolean;
  date: string;
}

interface Case {
  name: string;
  model: GPT;
  opt: AdamW;
  adapters: LoraAdapters | null;
  step: () => Promise<number>;
  wall: number[];
  cpu: number[];
  dispatches: number[];
  /** The base weights at the start (LoRA cases: checked unchanged after timing). */
  start: Float32Array | null;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Random batches of B rows of T tokens: LM pairs, sft rows (target = second half), classify rows. */
function batches(cfg: GPTConfig, B: number, seed: number) {
  const T = cfg.blockSize;
  const rng = new Rng(seed);
  const ids = (): Int32Array => Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
  return {
    lm: () => ({ inp: ids(), tgt: ids() }),
    sft: (): SftBatch => {
      const x = ids();
      const targets = new Int32Array(B * T).fill(-1);
      for (let r = 0; r < B; r++) for (let t = T >> 1; t < T - 1; t++) targets[r * T + t] = x[r * T + t + 1]!;
      return { B, T, ids: x, targets };
    },
    classify: (): ClassifyBatch => ({
      B,
      T,
      ids: ids(),
      // Right padding: each row's text ends somewhere in its second half.
      last: Int32Array.from({ length: B }, () => (T >> 1) + rng.int(T - (T >> 1))),
      labels: Int32Array.from({ length: B }, () => rng.int(2)),
    }),
  };
}

async function makeCase<M>(
  name: string,
  cfg: GPTConfig,
  base: Float32Array,
  next: () => M,
  loss: MicroLoss<M>,
  lora: LoraConfig | null,
): Promise<Case> {
  const model = GPT.fromParams(cfg, base, { seed: 1 });
  const adapters = lora ? await addLora(model, lora, { seed: 2 }) : null;
  const opt = adapters ? new AdamW(adapters, {}) : new AdamW(model.params, {});
  let k = 0;
  const step = async (): Promise<number> =>
    (await trainStep(model, opt, [next()], { lr: 1e-4, loss, dropoutSeed: k++, skipNonFinite: true })).loss;
  return { name, model, opt, adapters, step, wall: [], cpu: [], dispatches: [], start: adapters ? base : null };
}

/** The adapted model's logits at step 0 against the same weights without adapters: must be equal. */
async function checkStepZero(c: Case, ids: Int32Array, B: number, T: number): Promise<void> {
  const logits = async (): Promise<Float32Array> => {
    const t = tidy(() =>
      noGrad(() => keep(c.model.forward(fromArray(ids, [B, T], 'i32'), null, { train: false }).logits)),
    );
    const d = (await t.data()) as Float32Array;
    t.dispose();
    return d;
  };
  const adapted = await logits();
  const a = c.model.adapters;
  c.model.adapters = null;
  const plain = await logits();
  c.model.adapters = a;
  const bad = adapted.findIndex((v, i) => v !== plain[i]);
  if (bad >= 0) throw new Error(`${c.name}: step-0 logits differ from the base model's at ${bad}`);
}

async function validate(cases: Case[], cfg: GPTConfig, B: number): Promise<void> {
  const ids = batches(cfg, B, 99).lm().inp;
  for (const c of cases) if (c.adapters) await checkStepZero(c, ids, B, cfg.blockSize);
  for (const c of cases) {
    const loss = await c.step();
    if (!Number.isFinite(loss)) throw new Error(`${c.name}: first loss ${loss} is not finite`);
  }
}

async function checkBaseUnchanged(c: Case): Promise<void> {
  if (!c.start) return;
  const now = await c.model.params.download();
  const bad = now.findIndex((v, i) => !Object.is(v, c.start![i]));
  if (bad >= 0) throw new Error(`${c.name}: a base weight changed during LoRA training (element ${bad})`);
}

async function time(rt: Runtime, cases: Case[], rounds: number): Promise<void> {
  for (let r = 0; r < rounds; r++)
    for (const c of cases) {
      const d0 = rt.stats.dispatches;
      const cpu0 = process.cpuUsage();
      const t0 = performance.now();
      await c.step();
      c.wall.push(performance.now() - t0);
      const u = process.cpuUsage(cpu0);
      c.cpu.push((u.user + u.system) / 1000);
      c.dispatches.push(rt.stats.dispatches - d0);
    }
}

function report(cases: Case[], tokens: number, out: (l: string) => void): FinetuneBenchCase[] {
  const base = median(cases[0]!.wall);
  out(
    `  ${'case'.padEnd(14)} ${'ms/step'.padStart(8)} ${'CPU ms'.padStart(8)} ${'tok/s'.padStart(8)} ${'vs pretrain'.padStart(11)} ${'trainable'.padStart(10)} ${'opt state'.padStart(10)} ${'dispatches'.padStart(10)}`,
  );
  return cases.map((c) => {
    const ms = median(c.wall);
    const trainable = c.adapters ? c.adapters.count : c.model.params.layout.count;
    const row: FinetuneBenchCase = {
      name: c.name,
      msPerStep: Number(ms.toFixed(2)),
      cpuMsPerStep: Number(median(c.cpu).toFixed(1)),
      tokensPerSec: Math.round(tokens / (ms / 1000)),
      vsPretrain: Number((ms / base).toFixed(3)),
      trainableParams: trainable,
      optimizerStateBytes: c.opt.stateBytes,
      dispatchesPerStep: median(c.dispatches),
      ...(c.adapters ? { lora: describeLora(c.adapters.layout) } : {}),
    };
    const kib = (b: number) => `${(b / 1024).toFixed(0)} KiB`;
    out(
      `  ${c.name.padEnd(14)} ${ms.toFixed(1).padStart(8)} ${row.cpuMsPerStep.toFixed(0).padStart(8)} ${String(row.tokensPerSec).padStart(8)} ${`${row.vsPretrain.toFixed(2)}x`.padStart(11)} ${trainable.toLocaleString('en-US').padStart(10)} ${kib(row.optimizerStateBytes).padStart(10)} ${String(row.dispatchesPerStep).padStart(10)}`,
    );
    return row;
  });
}

export async function runFinetuneBench(
  argv: readonly string[],
  out: (line: string) => void = (l) => console.log(l),
): Promise<FinetuneBenchResult | null> {
  const { flags, help } = parseBenchFlags(SCHEMA, argv, 'finetune', FINETUNE_BENCH_USAGE);
  if (help) {
    out(FINETUNE_BENCH_USAGE);
    return null;
  }
  const preset = flags.preset as PresetName;
  const dims = Object.fromEntries(
    (['nLayer', 'nHead', 'nEmbd', 'blockSize'] as const).filter((k) => flags[k] !== null).map((k) => [k, flags[k]]),
  );
  const lm = resolveConfig({ preset, vocabSize: flags.vocabSize, dropout: 0, ...dims });
  const head: GPTConfig = { ...lm, nClasses: 2 };
  const B = flags.batchSize;
  const T = lm.blockSize;
  const rounds = flags.steps ?? (flags.quick ? 3 : 10);
  const rt: Runtime = await initEngine();
  out(`fine-tuning step bench on ${rt.describe()}${rt.isSoftware ? ' (a SOFTWARE adapter)' : ''}`);
  out(
    `model: ${lm.nLayer} layers, ${lm.nHead} heads, ${lm.nEmbd} wide, context ${T}, vocabulary ${lm.vocabSize}: ${countParams(lm).toLocaleString('en-US')} parameters (+${paramLayout(head).count - paramLayout(lm).count} for a 2-class head); batch ${B} x ${T} = ${B * T} tokens/step in every case`,
  );
  const lora: LoraConfig = {
    rank: flags.rank,
    alpha: 2 * flags.rank,
    targets: ['c_attn', 'c_proj', 'c_fc'],
    dropout: 0.05,
  };
  const w = GPT.create(head, { seed: 1 });
  const headParams = await w.params.download();
  w.dispose();
  const plain = GPT.create(lm, { seed: 1 });
  const lmParams = await plain.params.download();
  plain.dispose();
  const data = batches(lm, B, 7);
  const cls = classifyLoss(2);
  const cases = [
    await makeCase('pretrain', lm, lmParams, data.lm, tokenBatchLoss(B, T), null),
    await makeCase('sft', lm, lmParams, data.sft, sftLoss, null),
    await makeCase('classify', head, headParams, data.classify, cls, null),
    await makeCase('lora-classify', head, headParams, data.classify, cls, lora),
    await makeCase('lora-sft', lm, lmParams, data.sft, sftLoss, lora),
  ];
  out(`lora: ${describeLora(cases[3]!.adapters!.layout)}`);
  try {
    await validate(cases, lm, B);
    out("validated: finite first losses; LoRA step-0 logits equal the base model's bit for bit");
    await time(rt, cases, flags.warmup);
    for (const c of cases) [c.wall.length, c.cpu.length, c.dispatches.length] = [0, 0, 0];
    await time(rt, cases, rounds);
    for (const c of cases) await checkBaseUnchanged(c);
    out(`${rounds} interleaved rounds (median per case); LoRA base weights bit-identical after training:`);
    const rows = report(cases, B * T, out);
    const res: FinetuneBenchResult = {
      bench: 'finetune',
      shape: {
        nLayer: lm.nLayer,
        nHead: lm.nHead,
        nEmbd: lm.nEmbd,
        blockSize: T,
        vocabSize: lm.vocabSize,
        batchSize: B,
      },
      params: countParams(lm),
      rounds,
      cases: rows,
      adapter: rt.describe(),
      software: rt.isSoftware,
      date: new Date().toISOString(),
    };
    return res;
  } finally {
    for (const c of cases) {
      c.opt.dispose();
      c.adapters?.dispose();
      c.model.dispose();
    }
  }
}

const entry = benchEntry('finetune', runFinetuneBench);
/** Entry point of the bench runner: argv is the command line without the word `finetune`. */
export const { main, lastResult } = entry;

await runIfStandalone(import.meta.url, entry);
