// `npm run bench -- train [--json FILE] [--nLayer N --nHead H --nEmbd C --blockSize T --vocabSize V --batchSize B]
//                        [--steps N --warmup N --accum N --profile --preset NAME]`
//
// Times full training steps — forward, backward, global norm, AdamW, and the readback of the loss
// and the gradient norm, with model/train-step.ts as pre-training runs it — after a warm-up, and prints
// ms/step, tokens/s, achieved GFLOP/s (6·params·tokens + attention, model/config.ts's
// flopsPerToken), the JS host time per step (recording: the tape, the bind groups, the dispatch
// calls) next to the GPU time (wall time until the readback arrives minus the host time), and the
// dispatches per step. --profile times every dispatch of one step with timestamp queries (one
// compute pass per dispatch) and prints the kernels that dominate.
//
// The bench runner (bench/harness.ts) calls main(argv) for `train`; it also runs on its own:
//   npx tsx bench/train.bench.ts --nLayer 2 ...
import { initEngine, type Runtime } from '../engine/index.ts';
import { Rng } from '../engine/random.ts';
import type { DispatchArgs, KernelSpec, WaitPolicy } from '../kernels/gpu/runtime.ts';
import {
  countParams,
  flopsPerToken,
  PRESET_NAMES,
  resolveConfig,
  type GPTConfig,
  type PresetName,
} from '../model/config.ts';
import { GPT } from '../model/gpt.ts';
import { AdamW } from '../model/optimizer.ts';
import { tokenBatchLoss, trainStep, type TokenBatch } from '../model/train-step.ts';
import type { Schema } from '../train/config.ts';
import { benchEntry, BENCH_FLAGS, dimFlag, parseBenchFlags, runIfStandalone, type BenchFlags } from './entry.ts';

export const TRAIN_BENCH_USAGE = `usage: npm run bench -- train [options]
  --json FILE          write the result (tokensPerSec, msPerStep, gflops, host/GPU ms, dispatches) as JSON
  --preset NAME        start from a model preset (${PRESET_NAMES.join(', ')}; default: mini = the issue's shape)
  --nLayer N --nHead H --nEmbd C --blockSize T --vocabSize V --batchSize B
                       the shape (default 2 layers, 4 heads, 128 wide, context 64, vocabulary 256, batch 8)
  --accum N            micro-batches per optimizer step (default 1)
  --steps N            timed steps (default 20; --quick 5)
  --warmup N           untimed steps first (default 3)
  --gpuWait MODE        spin (default) or sleep: how the host waits for the readback (kernels/gpu/runtime.ts)
  --profile            time every dispatch of one step (timestamp queries) and list the top kernels
  --quick              fewer steps`;

export interface TrainBenchResult {
  bench: 'train';
  shape: {
    nLayer: number;
    nHead: number;
    nEmbd: number;
    blockSize: number;
    vocabSize: number;
    batchSize: number;
    accum: number;
  };
  params: number;
  steps: number;
  msPerStep: number;
  minMsPerStep: number;
  tokensPerSec: number;
  gflops: number;
  hostMsPerStep: number;
  gpuMsPerStep: number;
  /** CPU time of the whole process per step (host + a software adapter's threads): on a CPU
   *  adapter a load-independent measure of the work, next to the wall time. */
  cpuMsPerStep: number;
  dispatchesPerStep: number;
  submitsPerStep: number;
  adapter: string;
  software: boolean;
  date: string;
  profile?: { kernel: string; ms: number; pct: number; count: number }[];
  profileNote?: string;
}

interface TrainBenchFlags extends BenchFlags {
  vocabSize: number | null;
  batchSize: number | null;
  accum: number;
  steps: number | null;
  warmup: number;
  gpuWait: string;
  profile: boolean;
  quick: boolean;
}

/** The training-step bench's options, parsed by the schema parser every command uses. */
const TRAIN_BENCH_SCHEMA: Schema<TrainBenchFlags> = {
  ...BENCH_FLAGS,
  vocabSize: dimFlag('vocabulary'),
  batchSize: dimFlag('batch B'),
  accum: { type: 'int', default: 1, min: 1, help: 'micro-batches per step' },
  steps: dimFlag('timed steps'),
  warmup: { type: 'int', default: 3, min: 0, help: 'untimed steps first' },
  gpuWait: { type: 'string', default: 'spin', choices: ['spin', 'sleep'], help: 'readback wait' },
  profile: { type: 'boolean', default: false, help: 'time every dispatch of one step' },
  quick: { type: 'boolean', default: false, help: 'fewer steps' },
};

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/**
 * One training step (model/train-step.ts, as pre-training runs it: the norm read before the
 * update is recorded). Returns once the step is recorded and submitted; the promise resolves
 * with the loss once it is read back.
 */
function recordStep(
  model: GPT,
  opt: AdamW,
  batches: TokenBatch[],
  B: number,
  T: number,
  wait: WaitPolicy,
): Promise<number> {
  const step = trainStep(model, opt, batches, { lr: 1e-4, loss: tokenBatchLoss(B, T), skipNonFinite: true, wait });
  return step.then((s) => s.loss);
}

/** Times each dispatch of one recorded step with timestamp queries: the kernels that dominate. */
async function profileStep(
  rt: Runtime,
  record: () => Promise<number>,
): Promise<{ rows: NonNullable<TrainBenchResult['profile']>; note?: string; totalMs: number }> {
  if (!rt.features.has('timestamp-query')) return { rows: [], note: "the adapter lacks 'timestamp-query'", totalMs: 0 };
  const max = 4096;
  const querySet = rt.device.createQuerySet({ type: 'timestamp', count: max, label: 'train-profile' });
  const resolved = rt.device.createBuffer({
    size: max * 8,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    label: 'train-profile',
  });
  const names: string[] = [];
  const original = rt.dispatch.bind(rt);
  // Every dispatch in its own compute pass, stamped at its beginning and end.
  rt.dispatch = (spec: KernelSpec, args: DispatchArgs): void => {
    if (2 * names.length + 2 > max) return original(spec, args);
    const i = names.length;
    const [x, y = 1, z = 1] = args.workgroups;
    if (x === 0 || y === 0 || z === 0) return original(spec, args);
    names.push(spec.name);
    rt.splitPass({ querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 });
    original(spec, args);
    rt.splitPass();
  };
  try {
    const done = record();
    rt.dispatch = original;
    await done;
    rt.resolveQueries(querySet, 0, 2 * names.length, resolved);
    const t = new BigUint64Array(await rt.read(resolved, 0, 2 * names.length * 8));
    const agg = new Map<string, { ms: number; count: number }>();
    let total = 0;
    let bad = 0;
    names.forEach((n, i) => {
      const d = Number(t[2 * i + 1]! - t[2 * i]!) / 1e6;
      if (!(d >= 0 && d < 1e5)) {
        bad++;
        return;
      }
      total += d;
      const a = agg.get(n) ?? { ms: 0, count: 0 };
      a.ms += d;
      a.count++;
      agg.set(n, a);
    });
    const rows = [...agg.entries()]
      .map(([kernel, a]) => ({
        kernel,
        ms: Number(a.ms.toFixed(3)),
        pct: Number(((100 * a.ms) / total).toFixed(1)),
        count: a.count,
      }))
      .sort((a, b) => b.ms - a.ms);
    return { rows, totalMs: total, note: bad ? `${bad} dispatches had unusable timestamps` : undefined };
  } finally {
    rt.dispatch = original;
    querySet.destroy();
    resolved.destroy();
  }
}

export async function runTrainBench(
  argv: readonly string[],
  out: (line: string) => void = (l) => console.log(l),
): Promise<TrainBenchResult | null> {
  const { flags: args, help } = parseBenchFlags(TRAIN_BENCH_SCHEMA, argv, 'train', TRAIN_BENCH_USAGE);
  if (help) {
    out(TRAIN_BENCH_USAGE);
    return null;
  }
  const preset = args.preset as PresetName;
  const quick = args.quick;
  const base = resolveConfig({ preset });
  const over: Partial<GPTConfig> = {
    nLayer: args.nLayer ?? base.nLayer,
    nHead: args.nHead ?? base.nHead,
    nEmbd: args.nEmbd ?? base.nEmbd,
    blockSize: args.blockSize ?? base.blockSize,
    vocabSize: args.vocabSize ?? base.vocabSize,
    dropout: 0,
  };
  const cfg = resolveConfig({ preset, ...over });
  const B = args.batchSize ?? (preset === 'mini' ? 8 : 4);
  const accum = args.accum;
  const steps = args.steps ?? (quick ? 5 : 20);
  const warmup = args.warmup;
  const T = cfg.blockSize;

  const rt = await initEngine();
  out(`train step bench on ${rt.describe()}`);
  if (rt.isSoftware) out('note: a SOFTWARE adapter (the CPU emulates the GPU)');
  const model = GPT.create(cfg, { seed: 1 });
  const opt = new AdamW(model.params, {});
  const rng = new Rng(7);
  const batch = (): { inp: Int32Array; tgt: Int32Array } => {
    const inp = new Int32Array(B * T);
    const tgt = new Int32Array(B * T);
    for (let i = 0; i < B * T; i++) {
      inp[i] = rng.int(cfg.vocabSize);
      tgt[i] = rng.int(cfg.vocabSize);
    }
    return { inp, tgt };
  };
  const params = countParams(cfg);
  const tokensPerStep = B * T * accum;
  out(
    `model: ${cfg.nLayer} layers, ${cfg.nHead} heads, ${cfg.nEmbd} wide, context ${T}, vocabulary ${cfg.vocabSize} (${cfg.paddedVocabSize} padded), ${(params / 1e6).toFixed(3)}M params; batch ${B}${accum > 1 ? ` x ${accum}` : ''} = ${tokensPerStep} tokens/step`,
  );

  const gpuWait = args.gpuWait;
  const step = (): Promise<number> =>
    recordStep(model, opt, Array.from({ length: accum }, batch), B, T, gpuWait as WaitPolicy);
  for (let i = 0; i < warmup; i++) await step();
  await rt.sync();

  const wall: number[] = [];
  const host: number[] = [];
  const cpu0 = process.cpuUsage();
  const d0 = rt.stats.dispatches;
  const s0 = rt.stats.submits;
  let lastLoss = NaN;
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now();
    const done = step();
    const t1 = performance.now();
    lastLoss = await done;
    const t2 = performance.now();
    host.push(t1 - t0);
    wall.push(t2 - t0);
  }
  const cpu = process.cpuUsage(cpu0);
  const cpuMs = (cpu.user + cpu.system) / 1000 / steps;
  const dispatches = (rt.stats.dispatches - d0) / steps;
  const submits = (rt.stats.submits - s0) / steps;
  const ms = median(wall);
  const hostMs = median(host);
  const tokensPerSec = tokensPerStep / (ms / 1000);
  const gflops = (tokensPerSec * flopsPerToken(cfg, T)) / 1e9;
  const res: TrainBenchResult = {
    bench: 'train',
    shape: {
      nLayer: cfg.nLayer,
      nHead: cfg.nHead,
      nEmbd: cfg.nEmbd,
      blockSize: T,
      vocabSize: cfg.vocabSize,
      batchSize: B,
      accum,
    },
    params,
    steps,
    msPerStep: Number(ms.toFixed(3)),
    minMsPerStep: Number(Math.min(...wall).toFixed(3)),
    tokensPerSec: Math.round(tokensPerSec),
    gflops: Number(gflops.toFixed(3)),
    hostMsPerStep: Number(hostMs.toFixed(3)),
    gpuMsPerStep: Number((ms - hostMs).toFixed(3)),
    cpuMsPerStep: Number(cpuMs.toFixed(1)),
    dispatchesPerStep: Math.round(dispatches),
    submitsPerStep: Number(submits.toFixed(2)),
    adapter: rt.describe(),
    software: rt.isSoftware,
    date: new Date().toISOString(),
  };
  out(
    `  ${ms.toFixed(1)} ms/step (min ${res.minMsPerStep.toFixed(1)}), ${res.tokensPerSec.toLocaleString('en-US')} tokens/s, ${gflops.toFixed(2)} GFLOP/s`,
  );
  out(
    `  host (recording) ${hostMs.toFixed(1)} ms/step, GPU ${res.gpuMsPerStep.toFixed(1)} ms/step; ${res.dispatchesPerStep} dispatches, ${res.submitsPerStep} submits per step; loss ${lastLoss.toFixed(3)}`,
  );
  if (rt.isSoftware)
    out(
      `  CPU time of the process: ${cpuMs.toFixed(0)} ms/step (the adapter's threads included; on a busy machine compare this, not the wall time)`,
    );

  if (args.profile) {
    const p = await profileStep(rt, step);
    res.profile = p.rows;
    if (p.note) res.profileNote = p.note;
    if (p.rows.length) {
      out(
        `  profile of one step (each dispatch in its own timestamped pass: ${p.totalMs.toFixed(1)} ms of kernel time):`,
      );
      out(`    ${'kernel'.padEnd(36)} ${'ms'.padStart(8)} ${'%'.padStart(6)} ${'count'.padStart(6)}`);
      for (const r of p.rows.slice(0, 15))
        out(
          `    ${r.kernel.padEnd(36)} ${r.ms.toFixed(2).padStart(8)} ${r.pct.toFixed(1).padStart(6)} ${String(r.count).padStart(6)}`,
        );
    } else out(`  profile: ${p.note ?? 'no data'}`);
  }
  model.dispose();
  opt.dispose();
  return res;
}

const entry = benchEntry('train', runTrainBench);
/** Entry point of the bench runner: argv is the command line without the word `train`. */
export const { main, lastResult } = entry;

await runIfStandalone(import.meta.url, entry);
