// Pre-training: `webgpu-gpt pretrain --data <dir from prepare> --out <run dir> [--config f.json] [--key=value ...]`.
//
// One optimizer step:
//   zero the flat gradient buffer
//   for each micro-batch (gradient accumulation up to tokensPerStep):
//       random (B, T+1) windows → forward → backward (gradients add into the flat buffer)
//   global norm of gradScale·grad (gradScale = 1/accum), on the GPU
//   ONE readback: the micro-batch losses and the norm (the GPU runs the step meanwhile)
//   finite → AdamW (clipping on the GPU, recorded into the next step's encoder); not finite → skip
// Everything of a step is recorded into one command encoder and submitted once: the readback is
// the only sync. The check needs the norm before the update, so the host waits for each step's
// forward/backward before recording the update (on a software adapter the host and the "GPU"
// share the same cores anyway).
//
// Reproducible: the weights, the batch sampler and every dropout mask derive from `seed`, and a
// checkpoint holds everything that changes (weights, AdamW moments and step, sampler state, step,
// schedule length), so `--resume` continues bit-for-bit like an uninterrupted run.
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { concat, fromArray, initEngine, noGrad, reshape, tidy, type Runtime, type Tensor } from '../engine/index.ts';
import { resolveConfig, countParams, flopsPerToken, type GPTConfig, type PresetName } from '../model/config.ts';
import { GPT, mixSeed } from '../model/gpt.ts';
import { AdamW } from '../model/optimizer.ts';
import { tokenBatchLoss, trainStep } from '../model/train-step.ts';
import {
  CheckpointError,
  listCheckpoints,
  loadLatestCheckpoint,
  restoreCheckpoint,
  saveCheckpoint,
} from '../model/checkpoint.ts';
import { generate } from '../model/generate.ts';
import { Rng } from '../engine/random.ts';
import { CliError } from './cli-error.ts';
import { formatHelp, parseConfig, TRAIN_SCHEMA, type TrainConfig } from './config.ts';
import { BatchSampler, evalBatches, readShard, type SamplerState, type TokenArray } from './data/shards.ts';
import { loadTokenizer, type Tokenizer, TOKENIZER_FILE } from './tokenizers/index.ts';
import {
  Ema,
  formatDuration,
  METRICS_FILE,
  MetricsLog,
  progressMode,
  readMetrics,
  TrainProgress,
  type StepMetrics,
} from './metrics.ts';
import { writeLossCurve } from './plot.ts';
import { learningRate } from './schedule.ts';

export const PRETRAIN_HELP = formatHelp(TRAIN_SCHEMA, {
  usage:
    'usage: webgpu-gpt pretrain --data <dir from prepare> --out <run dir> [--config f.json] [--key=value ...]\n       webgpu-gpt pretrain --resume <run dir> [--steps N]',
  description:
    'Pre-trains a GPT-2-style model on token shards from `webgpu-gpt prepare`: AdamW with warmup and cosine\n' +
    'decay, clipping by global norm, gradient accumulation, evaluation with samples, checkpoints (also on\n' +
    'Ctrl-C) and exact resume. The run folder gets config.json, metrics.jsonl, loss.svg, samples.txt,\n' +
    'tokenizer.json, checkpoints/ and, at the end, summary.json.',
});

/** Keys of one session only: a resumed run takes them from its own command line. */
const TRANSIENT_KEYS: readonly (keyof TrainConfig)[] = ['progress', 'gpuWait', 'injectNanSteps', 'stopAfterSteps'];

/** Keys that may change when a run is resumed (they do not change the trajectory, or extend it on purpose). */
const RESUMABLE_KEYS: readonly (keyof TrainConfig)[] = [
  'resume',
  'out',
  'data',
  'steps',
  'maxMinutes',
  'evalEvery',
  'sampleTokens',
  'samplePrompt',
  'sampleTemperature',
  'sampleTopK',
  'keepCheckpoints',
  'progress',
  'gpuWait',
  'maxBadSteps',
  'injectNanSteps',
  'stopAfterSteps',
];

export interface RunSummary {
  status: 'finished' | 'stopped';
  steps: number;
  skippedSteps: number;
  finalValLoss: number | null;
  finalValPerplexity: number | null;
  unigramLoss: number | null;
  /** unigramLoss − finalValLoss: how much the model beats a unigram model, nats/token. */
  gainOverUnigram: number | null;
  bestValLoss: number | null;
  finalTrainLoss: number | null;
  /** Training tokens per second over the whole run (training steps only). */
  tokensPerSec: number;
  tokensSeen: number;
  /** Wall time of the run (all sessions of a resumed run), s. */
  elapsedSec: number;
  trainSec: number;
  evalSec: number;
  adapter: string;
  software: boolean;
  model: GPTConfig;
  params: number;
  /** Achieved training GFLOP/s (6·params·tokens + attention). */
  gflops: number;
  tokenizer: string;
  data: string;
  sample: string | null;
  checkpoint: string | null;
}

export interface PretrainOptions {
  /** Lines for the user (default: stdout). */
  log?: (line: string) => void;
  /** Which keys came from the command line (to refuse changing a resumed run's trajectory). */
  sources?: Partial<Record<keyof TrainConfig, 'default' | 'file' | 'cli'>>;
  /** Stop like Ctrl-C when aborted. */
  signal?: AbortSignal;
  /** Handle SIGINT (default true for the CLI, false for tests). */
  handleSigint?: boolean;
  /** Called after every step. */
  onStep?: (m: StepMetrics) => void;
}

interface DataSet {
  dir: string;
  train: TokenArray;
  val: TokenArray;
  tokenizer: Tokenizer;
  unigramLoss: number | null;
  report: Record<string, unknown> | null;
}

function loadData(dir: string): DataSet {
  const d = resolve(dir);
  const hint = `make one with: webgpu-gpt prepare --input <text files> --out ${dir}`;
  if (!existsSync(d)) throw new CliError(`--data ${dir}: no such folder (${hint})`);
  if (!statSync(d).isDirectory()) throw new CliError(`--data ${dir}: not a folder (${hint})`);
  for (const f of ['train.bin', 'val.bin', TOKENIZER_FILE]) {
    if (!existsSync(join(d, f)))
      throw new CliError(
        `--data ${dir}: ${f} is missing; is this a folder written by \`webgpu-gpt prepare\`? (${hint})`,
      );
  }
  let train: TokenArray;
  let val: TokenArray;
  let tokenizer: Tokenizer;
  try {
    const t = readShard(join(d, 'train.bin'));
    const v = readShard(join(d, 'val.bin'));
    tokenizer = loadTokenizer(d);
    train = t.tokens;
    val = v.tokens;
    if (t.header.tokenizerId !== tokenizer.id)
      throw new Error(
        `train.bin was made with tokenizer ${t.header.tokenizerId}, but tokenizer.json is ${tokenizer.id}`,
      );
  } catch (e) {
    throw new CliError(`--data ${dir}: ${(e as Error).message}`);
  }
  let report: Record<string, unknown> | null = null;
  let unigramLoss: number | null = null;
  try {
    report = JSON.parse(readFileSync(join(d, 'report.json'), 'utf8')) as Record<string, unknown>;
    const u = report.trainUnigramEntropy ?? report.unigramEntropy;
    if (typeof u === 'number') unigramLoss = u;
  } catch {
    // report.json is optional for training
  }
  return { dir: d, train, val, tokenizer, unigramLoss, report };
}

/** The model shape: the preset, then the explicit keys; the vocabulary comes from the data. */
export function modelConfigFor(cfg: TrainConfig, vocabSize: number): GPTConfig {
  const over: Partial<GPTConfig> = { vocabSize, dropout: cfg.dropout };
  if (cfg.nLayer !== null) over.nLayer = cfg.nLayer;
  if (cfg.nHead !== null) over.nHead = cfg.nHead;
  if (cfg.nEmbd !== null) over.nEmbd = cfg.nEmbd;
  if (cfg.blockSize !== null) over.blockSize = cfg.blockSize;
  try {
    return resolveConfig({ preset: cfg.model as PresetName, ...over });
  } catch (e) {
    throw new CliError((e as Error).message.replace(/^invalid GPT config: /, 'invalid model: '));
  }
}

/** The state besides tensors that a checkpoint carries for an exact resume. */
interface TrainState {
  trainConfig: TrainConfig;
  totalSteps: number;
  skippedSteps: number;
  badStreak: number;
  tokensSeen: number;
  elapsedSec: number;
  trainSec: number;
  evalSec: number;
  bestValLoss: number | null;
  lastValLoss: number | null;
}

function parseStepList(s: string): Set<number> {
  const out = new Set<number>();
  for (const part of s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 1) throw new CliError(`--injectNanSteps: "${part}" is not a step number >= 1`);
    out.add(n);
  }
  return out;
}

function atomicWrite(path: string, text: string): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, text);
  renameSync(tmp, path);
}

/** Streams decoded text of a growing token list (holding back a trailing partial UTF-8 character). */
export class TextStream {
  private ids: number[] = [];
  private emitted = 0;
  constructor(
    private readonly tok: Tokenizer,
    private readonly write: (s: string) => void,
  ) {}
  push(id: number): void {
    this.ids.push(id);
    const text = this.tok.decode(this.ids);
    let end = text.length;
    if (text.endsWith('\uFFFD')) end--; // maybe the first bytes of a character: wait for the rest
    if (end > this.emitted) {
      this.write(text.slice(this.emitted, end));
      this.emitted = end;
    }
  }
  flush(): void {
    const text = this.tok.decode(this.ids);
    if (text.length > this.emitted) this.write(text.slice(this.emitted));
    this.emitted = text.length;
  }
}

/** Prompt ids for a sample: the text, or the end-of-text id alone ("start of a document"). */
export function promptIds(tok: Tokenizer, prompt: string): number[] {
  const ids = prompt ? tok.encode(prompt) : [];
  return ids.length ? ids : [tok.eotId];
}

/**
 * Mean loss of the model over fixed batches (eval mode, no tape): each batch's mean over its
 * non-ignored targets, weighted by their count. Rows a batch repeats to fill up are ignored.
 */
export async function evaluateBatches(
  model: GPT,
  batches: readonly { inp: Int32Array; tgt: Int32Array; rows: number }[],
  B: number,
  T: number,
): Promise<number> {
  if (batches.length === 0) return NaN;
  const wasTraining = model.training;
  model.eval();
  const losses: Tensor[] = [];
  const weights: number[] = [];
  try {
    for (const b of batches) {
      let tgt = b.tgt;
      if (b.rows < B) {
        tgt = tgt.slice();
        tgt.fill(-1, b.rows * T);
      }
      losses.push(
        tidy(() =>
          noGrad(() => {
            const ids = fromArray(b.inp, [B, T], 'i32');
            const t = fromArray(tgt, [B, T], 'i32');
            return reshape(model.forward(ids, t, { train: false }).loss!, [1]);
          }),
        ),
      );
      weights.push(b.rows * T);
    }
    const all = tidy(() => concat(losses, 0));
    const vals = (await all.data()) as Float32Array;
    all.dispose();
    let sum = 0;
    let w = 0;
    vals.forEach((v, i) => {
      sum += v * weights[i]!;
      w += weights[i]!;
    });
    return sum / w;
  } finally {
    for (const l of losses) l.dispose();
    model.training = wasTraining;
  }
}

/** Runs pre-training as configured; returns the summary (also written to <out>/summary.json). */
export async function pretrain(cfgIn: TrainConfig, opts: PretrainOptions = {}): Promise<RunSummary> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const t0 = performance.now();

  // ---- resolve the run: a fresh one, or the saved config of the run being resumed ----------
  let cfg: TrainConfig = { ...cfgIn };
  let runDir: string;
  let ckpt: ReturnType<typeof loadLatestCheckpoint> | null = null;
  if (cfgIn.resume !== null) {
    runDir = resolve(cfgIn.resume);
    const saved = join(runDir, 'config.json');
    if (!existsSync(runDir)) throw new CliError(`--resume ${cfgIn.resume}: no such run folder`);
    if (!existsSync(saved))
      throw new CliError(`--resume ${cfgIn.resume}: no config.json (not a run folder of \`webgpu-gpt pretrain\`)`);
    const savedCfg = (JSON.parse(readFileSync(saved, 'utf8')) as { train: TrainConfig }).train;
    try {
      ckpt = loadLatestCheckpoint(join(runDir, 'checkpoints'));
    } catch (e) {
      if (e instanceof CheckpointError) throw new CliError(`--resume ${cfgIn.resume}: ${e.message}`);
      throw e;
    }
    for (const s of ckpt.skipped) log(`warning: skipped a broken checkpoint: ${s.error}`);
    const fromCkpt = (ckpt.meta.extra as TrainState).trainConfig ?? savedCfg;
    cfg = { ...fromCkpt };
    // Test hooks and the display never carry over from the stopped session.
    for (const k of TRANSIENT_KEYS) (cfg as unknown as Record<string, unknown>)[k] = cfgIn[k];
    for (const k of Object.keys(cfgIn) as (keyof TrainConfig)[]) {
      if (opts.sources?.[k] !== 'cli' && opts.sources?.[k] !== 'file') continue;
      if (RESUMABLE_KEYS.includes(k)) (cfg as unknown as Record<string, unknown>)[k] = cfgIn[k];
      else if (cfgIn[k] !== fromCkpt[k]) {
        throw new CliError(
          `--${k} cannot change when resuming (the run was trained with ${JSON.stringify(fromCkpt[k])}); only ${RESUMABLE_KEYS.filter((x) => x !== 'resume').join(', ')} can`,
        );
      }
    }
    cfg.resume = runDir;
    cfg.out = runDir;
    if (cfg.data === null)
      throw new CliError(`--resume ${cfgIn.resume}: the saved config names no data folder; pass --data`);
  } else {
    if (cfg.data === null)
      throw new CliError(
        '--data is required: the folder written by `webgpu-gpt prepare` (see webgpu-gpt pretrain --help)',
      );
    if (cfg.out === null)
      throw new CliError('--out is required: the run folder to write (see webgpu-gpt pretrain --help)');
    runDir = resolve(cfg.out);
    if (existsSync(runDir) && !statSync(runDir).isDirectory())
      throw new CliError(`--out ${cfg.out}: exists and is not a folder`);
    if (listCheckpoints(join(runDir, 'checkpoints')).length > 0) {
      throw new CliError(
        `--out ${cfg.out} already holds a run (checkpoints/): continue it with --resume ${cfg.out}, or choose another folder`,
      );
    }
  }
  const injectNan = parseStepList(cfg.injectNanSteps);

  const data = loadData(cfg.data!);
  const modelCfg = modelConfigFor(cfg, data.tokenizer.vocabSize);
  if (ckpt) {
    const c = ckpt.meta.config;
    if (c.vocabSize !== modelCfg.vocabSize)
      throw new CliError(
        `--resume: the checkpoint's vocabulary (${c.vocabSize}) differs from the data's (${modelCfg.vocabSize})`,
      );
  }
  const B = cfg.batchSize;
  const T = modelCfg.blockSize;
  if (data.train.length < T + 1)
    throw new CliError(
      `--data ${cfg.data}: train.bin has ${data.train.length} tokens, fewer than one window of blockSize + 1 = ${T + 1}`,
    );
  if (data.val.length < T + 1)
    throw new CliError(
      `--data ${cfg.data}: val.bin has ${data.val.length} tokens, fewer than one window of blockSize + 1 = ${T + 1} (prepare with a larger --valFraction)`,
    );
  const accum = cfg.tokensPerStep > 0 ? Math.max(1, Math.round(cfg.tokensPerStep / (B * T))) : 1;
  const tokensPerStep = accum * B * T;

  // ---- the device, the model, the optimizer -------------------------------------------------
  const rt: Runtime = await initEngine();
  const adapter = rt.describe();
  log(`adapter: ${adapter}`);
  if (rt.isSoftware)
    log('note: this is a software adapter (the CPU emulates the GPU): training is slow; a GPU is 10-1000x faster.');

  const state: TrainState = ckpt
    ? { ...(ckpt.meta.extra as TrainState), trainConfig: cfg }
    : {
        trainConfig: cfg,
        totalSteps: cfg.steps,
        skippedSteps: 0,
        badStreak: 0,
        tokensSeen: 0,
        elapsedSec: 0,
        trainSec: 0,
        evalSec: 0,
        bestValLoss: null,
        lastValLoss: null,
      };
  if (ckpt && (opts.sources?.steps === 'cli' || opts.sources?.steps === 'file')) state.totalSteps = cfg.steps;
  if (ckpt && state.totalSteps <= ckpt.meta.step && cfg.steps > ckpt.meta.step) state.totalSteps = cfg.steps;
  const elapsedBefore = state.elapsedSec;

  const model = GPT.create(modelCfg, { seed: cfg.seed });
  const opt = new AdamW(model.params, {
    beta1: cfg.beta1,
    beta2: cfg.beta2,
    eps: cfg.eps,
    weightDecay: cfg.weightDecay,
    maxNorm: cfg.gradClip,
  });
  const sampler = new BatchSampler(data.train, B, T, cfg.seed);
  let step = 0;
  if (ckpt) {
    restoreCheckpoint(ckpt, model, opt);
    sampler.setState((ckpt.meta.data as { sampler: SamplerState }).sampler);
    step = ckpt.meta.step;
  }
  const valBatches = [...evalBatches(data.val, B, T, cfg.evalBatches)];

  // ---- the run folder ---------------------------------------------------------------------
  mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
  copyFileSync(join(data.dir, TOKENIZER_FILE), join(runDir, TOKENIZER_FILE));
  const nParams = countParams(modelCfg);
  const resolved = {
    train: { ...cfg, data: data.dir, out: runDir },
    model: modelCfg,
    derived: {
      accumSteps: accum,
      tokensPerStep,
      params: nParams,
      flopsPerToken: flopsPerToken(modelCfg, T),
      tokenizer: data.tokenizer.id,
      unigramLoss: data.unigramLoss,
    },
    adapter,
  };
  cfg = resolved.train;
  state.trainConfig = cfg;
  atomicWrite(join(runDir, 'config.json'), JSON.stringify(resolved, null, 2) + '\n');
  log(
    `data: ${data.dir} (${data.train.length.toLocaleString('en-US')} train / ${data.val.length.toLocaleString('en-US')} val tokens, tokenizer ${data.tokenizer.id}${data.unigramLoss !== null ? `, unigram loss ${data.unigramLoss.toFixed(4)}` : ''})`,
  );
  log(
    `model: ${modelCfg.nLayer} layers, ${modelCfg.nHead} heads, ${modelCfg.nEmbd} wide, context ${T}, vocabulary ${modelCfg.vocabSize} (padded ${modelCfg.paddedVocabSize}): ${(nParams / 1e6).toFixed(2)}M parameters`,
  );
  log(
    `batch: ${B} x ${T} tokens${accum > 1 ? ` x ${accum} micro-batches` : ''} = ${tokensPerStep.toLocaleString('en-US')} tokens per step`,
  );
  log(`config (saved to ${join(runDir, 'config.json')}):`);
  for (const line of formatConfig(cfg, 100)) log(`  ${line}`);
  if (ckpt) log(`resuming ${runDir} at step ${step} of ${state.totalSteps} (${ckpt.path})`);

  const metrics = new MetricsLog(join(runDir, METRICS_FILE));
  metrics.open(step + 1);
  const samplesFile = join(runDir, 'samples.txt');
  if (!ckpt) writeFileSync(samplesFile, '');
  const plot = (): void =>
    writeLossCurve(join(runDir, 'loss.svg'), readMetrics(join(runDir, METRICS_FILE)), {
      title: `${modelCfg.nLayer}x${modelCfg.nEmbd} GPT on ${data.tokenizer.id}`,
      baseline:
        data.unigramLoss !== null ? { value: data.unigramLoss, label: `unigram ${data.unigramLoss.toFixed(3)}` } : null,
    });

  const progress = new TrainProgress(progressMode(cfg.progress), (l) => process.stderr.write(l + '\n'));
  const say = (l: string): void => progress.message(l);

  // ---- stopping: Ctrl-C, abort signal, test hook --------------------------------------------
  let stopRequested = false;
  let firstSigint = 0;
  const onSigint = (): void => {
    // One Ctrl-C often arrives more than once (the terminal signals the whole process group, and
    // npm and tsx relay it to their child too): only a second press a moment later quits at once.
    const now = performance.now();
    if (firstSigint === 0) {
      firstSigint = now;
      stopRequested = true;
      progress.message('\nCtrl-C: finishing this step and writing a checkpoint (press again to quit at once)');
    } else if (now - firstSigint > 1500) {
      process.stderr.write('\nquitting without a checkpoint (the last one is intact)\n');
      process.exit(130);
    }
  };
  if (opts.handleSigint ?? false) process.on('SIGINT', onSigint);
  opts.signal?.addEventListener('abort', () => (stopRequested = true));

  // ---- checkpoint, evaluation ---------------------------------------------------------------
  let lastCkpt: string | null = ckpt?.path ?? null;
  const checkpoint = async (): Promise<void> => {
    state.elapsedSec = elapsedBefore + (performance.now() - t0) / 1000;
    lastCkpt = await saveCheckpoint(
      join(runDir, 'checkpoints'),
      {
        model,
        optimizer: opt,
        meta: {
          step,
          tokenizer: { id: data.tokenizer.id, json: data.tokenizer.toJSON() },
          data: { sampler: sampler.state(), dataDir: data.dir },
          extra: { ...state },
        },
      },
      { keep: cfg.keepCheckpoints },
    );
  };
  let lastSample: string | null = null;
  const evaluate = async (): Promise<{ valLoss: number; sample: string | null }> => {
    const te = performance.now();
    const valLoss = await evaluateBatches(model, valBatches, B, T);
    let sample: string | null = null;
    if (cfg.sampleTokens > 0) {
      const res = await generate(model, promptIds(data.tokenizer, cfg.samplePrompt), {
        maxTokens: cfg.sampleTokens,
        temperature: cfg.sampleTemperature,
        topK: cfg.sampleTopK,
        rng: new Rng(mixSeed(cfg.seed, step)),
      });
      sample = cfg.samplePrompt + data.tokenizer.decode(res.tokens);
      lastSample = sample;
    }
    state.evalSec += (performance.now() - te) / 1000;
    return { valLoss, sample };
  };

  // ---- the loop -----------------------------------------------------------------------------
  const sched = () => ({ lr: cfg.lr, minLr: cfg.minLr, warmupSteps: cfg.warmupSteps, totalSteps: state.totalSteps });
  const stepSec = new Ema(0.9);
  const recentStepSec: number[] = [];
  let budgetFixed = cfg.maxMinutes <= 0;
  /** Seconds one evaluation takes (validation, sample, checkpoint), measured. */
  let evalCostSec = 0;
  let sessionSteps = 0;
  let lastLoss: number | null = null;
  let stopReason: 'finished' | 'stopped' = 'finished';
  const budgetSec = cfg.maxMinutes * 60;
  const elapsed = (): number => elapsedBefore + (performance.now() - t0) / 1000;

  /** The most steps that fit the time budget: the steps, the evaluations they bring, a margin. */
  const plan = (sps: number): number => {
    const left = budgetSec - elapsed() - 5;
    let total = step + Math.max(0, Math.floor(left / sps));
    for (let i = 0; i < 4; i++) {
      const evals = (cfg.evalEvery > 0 ? Math.floor(total / cfg.evalEvery) - Math.floor(step / cfg.evalEvery) : 0) + 1;
      total = step + Math.max(0, Math.floor((left - evals * evalCostSec) / sps));
    }
    return Math.max(step, Math.min(total, Math.max(cfg.steps, step)));
  };
  if (cfg.maxMinutes > 0 && step < state.totalSteps) {
    // Compile the evaluation and sampling pipelines now (on a software adapter that takes many
    // seconds), then time one validation batch and a few sampled tokens for the plan.
    const probe = async (): Promise<number> => {
      const a = performance.now();
      await evaluateBatches(model, valBatches.slice(0, 1), B, T);
      const b = performance.now();
      const n = Math.min(8, cfg.sampleTokens);
      const g =
        n > 0 ? await generate(model, [data.tokenizer.eotId], { maxTokens: n, temperature: 1, rng: new Rng(0) }) : null;
      return (
        ((b - a) / 1000) * valBatches.length +
        (g && g.tokens.length ? (g.ms / 1000 / g.tokens.length) * cfg.sampleTokens : 0)
      );
    };
    await probe();
    evalCostSec = (await probe()) + 0.5;
  }

  const batchLoss = tokenBatchLoss(B, T);
  progress.start(step, state.totalSteps);
  let tStep = performance.now();
  try {
    while (step < state.totalSteps) {
      const lr = learningRate(step, sched());
      const micro = Array.from({ length: accum }, () => sampler.next());
      const stepIndex = step;
      const stats = await trainStep(model, opt, micro, {
        lr,
        loss: batchLoss,
        dropoutSeed: (k) => mixSeed(cfg.seed, stepIndex * accum + k),
        skipNonFinite: true,
        wait: cfg.gpuWait === 'sleep' ? 'sleep' : 'spin',
        afterBackward: () => {
          if (injectNan.has(stepIndex + 1))
            rt.write(model.params.grad.buffer, 0, new Float32Array([NaN, NaN, NaN, NaN]));
        },
      });
      const finite = !stats.skipped;
      if (finite) {
        state.badStreak = 0;
      } else {
        state.skippedSteps++;
        state.badStreak++;
      }
      step++;
      sessionSteps++;
      state.tokensSeen += tokensPerStep;
      const now = performance.now();
      const dt = (now - tStep) / 1000;
      tStep = now;
      state.trainSec += dt;
      // The first steps compile pipelines: keep them out of the speed estimate.
      if (sessionSteps > 2) {
        stepSec.push(dt);
        recentStepSec.push(dt);
        if (recentStepSec.length > 20) recentStepSec.shift();
      }
      const tps = sessionSteps > 2 ? tokensPerStep / stepSec.value : tokensPerStep / dt;
      const m: StepMetrics = { step, loss: stats.loss, lr, gradNorm: stats.gradNorm, tokensPerSec: Math.round(tps) };
      if (!finite) {
        m.skipped = true;
        say(
          `step ${step}: non-finite ${Number.isFinite(stats.loss) ? 'gradient norm' : 'loss'} (loss ${stats.loss}, grad norm ${stats.gradNorm}): step skipped (${state.badStreak} in a row, ${state.skippedSteps} in all)`,
        );
        if (state.badStreak >= cfg.maxBadSteps) {
          m.elapsed = Number(elapsed().toFixed(2));
          metrics.append(m);
          throw new CliError(
            `training stopped: ${state.badStreak} steps in a row had a non-finite loss or gradient norm (at step ${step}). ` +
              `The last good checkpoint is intact${lastCkpt ? ` (${lastCkpt})` : ' (none was written yet)'}; ` +
              `try a lower --lr (now ${cfg.lr}) or --gradClip, then --resume ${runDir}.`,
          );
        }
      } else lastLoss = stats.loss;

      // Time budget: after a few measured steps, size the schedule to end in time; re-plan at
      // every evaluation with the measured step and evaluation costs.
      // The speed of a shared machine changes: re-plan every 20 steps too, when it moved by > 3%.
      if (!budgetFixed && sessionSteps >= 10) {
        budgetFixed = true;
        const sps = median(recentStepSec);
        state.totalSteps = plan(sps);
        say(
          `time budget ${cfg.maxMinutes} min: ${(sps * 1000).toFixed(0)} ms/step, ${evalCostSec.toFixed(1)} s per evaluation → ${state.totalSteps} steps`,
        );
      } else if (cfg.maxMinutes > 0 && budgetFixed && sessionSteps % 20 === 0 && step < state.totalSteps) {
        const total = plan(median(recentStepSec));
        if (Math.abs(total - state.totalSteps) > 0.03 * state.totalSteps) state.totalSteps = total;
      }
      if (cfg.maxMinutes > 0 && budgetFixed && elapsed() + evalCostSec + 5 > budgetSec && step < state.totalSteps) {
        say(`time budget reached at step ${step}: finishing now`);
        state.totalSteps = step;
      }

      const evalNow = (cfg.evalEvery > 0 && step % cfg.evalEvery === 0) || step === state.totalSteps;
      const stopNow = stopRequested || (cfg.stopAfterSteps > 0 && sessionSteps >= cfg.stopAfterSteps);
      // Evaluate (and checkpoint) on schedule, but not in the middle of a stretch of skipped
      // steps (the last good checkpoint stays the newest); the last step always evaluates.
      if (evalNow && ((!stopNow && finite) || step === state.totalSteps)) {
        const te = performance.now();
        const { valLoss, sample } = await evaluate();
        m.valLoss = valLoss;
        m.valPerplexity = Math.exp(valLoss);
        state.lastValLoss = valLoss;
        if (state.bestValLoss === null || valLoss < state.bestValLoss) state.bestValLoss = valLoss;
        const diff = data.unigramLoss !== null ? data.unigramLoss - valLoss : 0;
        const gap =
          data.unigramLoss !== null
            ? ` (unigram ${data.unigramLoss.toFixed(3)}: ${Math.abs(diff).toFixed(3)} ${diff >= 0 ? 'below' : 'above'})`
            : '';
        say(
          `step ${step}/${state.totalSteps}: train loss ${stats.loss.toFixed(4)}, val loss ${valLoss.toFixed(4)}, perplexity ${Math.exp(valLoss).toFixed(2)}${gap}, ${Math.round(tps)} tok/s, ${formatDuration(elapsed())} elapsed`,
        );
        if (sample !== null) {
          say(`  sample: ${JSON.stringify(sample.length > 400 ? sample.slice(0, 400) + '…' : sample)}`);
          writeFileSync(samplesFile, `--- step ${step}, val loss ${valLoss.toFixed(4)} ---\n${sample}\n\n`, {
            flag: 'a',
          });
        }
        m.elapsed = Number(elapsed().toFixed(2));
        metrics.append(m);
        plot();
        if (state.badStreak === 0) await checkpoint();
        evalCostSec = (performance.now() - te) / 1000;
        if (cfg.maxMinutes > 0 && budgetFixed && step < state.totalSteps) {
          const total = plan(median(recentStepSec));
          if (total !== state.totalSteps) {
            say(`time budget: re-planned to ${total} steps (${evalCostSec.toFixed(1)} s per evaluation)`);
            state.totalSteps = total;
          }
        }
        tStep = performance.now();
      } else {
        m.elapsed = Number(elapsed().toFixed(2));
        metrics.append(m);
      }
      opts.onStep?.(m);
      let eta = (state.totalSteps - step) * (Number.isFinite(stepSec.value) ? stepSec.value : dt);
      if (cfg.maxMinutes > 0) eta = Math.min(eta, Math.max(0, budgetSec - elapsed()));
      progress.update({
        step,
        totalSteps: state.totalSteps,
        loss: stats.loss,
        tokensPerSec: tps,
        etaSec: eta,
        lr,
        valLoss: m.valLoss,
      });

      if (stopNow && step < state.totalSteps) {
        stopReason = 'stopped';
        if (state.badStreak === 0 || lastCkpt === null) await checkpoint();
        plot();
        break;
      }
    }
  } finally {
    progress.stop();
    if (opts.handleSigint ?? false) process.off('SIGINT', onSigint);
  }

  const totalElapsed = elapsed();
  const tokensPerSec = state.trainSec > 0 ? state.tokensSeen / state.trainSec : 0;
  const summary: RunSummary = {
    status: stopReason,
    steps: step,
    skippedSteps: state.skippedSteps,
    finalValLoss: stopReason === 'finished' ? state.lastValLoss : null,
    finalValPerplexity: stopReason === 'finished' && state.lastValLoss !== null ? Math.exp(state.lastValLoss) : null,
    unigramLoss: data.unigramLoss,
    gainOverUnigram:
      stopReason === 'finished' && state.lastValLoss !== null && data.unigramLoss !== null
        ? data.unigramLoss - state.lastValLoss
        : null,
    bestValLoss: state.bestValLoss,
    finalTrainLoss: lastLoss,
    tokensPerSec: Math.round(tokensPerSec),
    tokensSeen: state.tokensSeen,
    elapsedSec: Number(totalElapsed.toFixed(1)),
    trainSec: Number(state.trainSec.toFixed(1)),
    evalSec: Number(state.evalSec.toFixed(1)),
    adapter,
    software: rt.isSoftware,
    model: modelCfg,
    params: nParams,
    gflops: Number(((tokensPerSec * flopsPerToken(modelCfg, T)) / 1e9).toFixed(3)),
    tokenizer: data.tokenizer.id,
    data: data.dir,
    sample: lastSample,
    checkpoint: lastCkpt,
  };
  model.dispose();
  opt.dispose();
  if (stopReason === 'stopped') {
    log(`stopped at step ${step} of ${state.totalSteps}; checkpoint ${lastCkpt}`);
    log(`continue with: webgpu-gpt pretrain --resume ${runDir}`);
    return summary;
  }
  atomicWrite(join(runDir, 'summary.json'), JSON.stringify(summary, null, 2) + '\n');
  const g = summary.gainOverUnigram;
  const gap =
    g !== null
      ? `, ${Math.abs(g).toFixed(3)} nats ${g >= 0 ? 'below' : 'above'} the unigram loss ${summary.unigramLoss!.toFixed(3)}`
      : '';
  log(
    `done: ${step} steps in ${formatDuration(totalElapsed)}, final val loss ${summary.finalValLoss?.toFixed(4) ?? '-'}` +
      ` (perplexity ${summary.finalValPerplexity?.toFixed(2) ?? '-'})${gap}; ${summary.tokensPerSec.toLocaleString('en-US')} tokens/s` +
      (summary.skippedSteps ? `; ${summary.skippedSteps} non-finite steps skipped` : ''),
  );
  log(`run folder: ${runDir} (summary.json, metrics.jsonl, loss.svg, samples.txt, checkpoints/)`);
  return summary;
}

/** The resolved configuration as `key=value` words in lines of at most `width` characters (hidden test hooks left out). */
export function formatConfig(cfg: TrainConfig, width: number): string[] {
  const words: string[] = [];
  for (const [k, spec] of Object.entries(TRAIN_SCHEMA)) {
    if (spec.hidden || k === 'data' || k === 'out' || k === 'resume') continue;
    const v = (cfg as unknown as Record<string, unknown>)[k];
    if (v === null) continue;
    words.push(`${k}=${typeof v === 'string' ? JSON.stringify(v) : String(v)}`);
  }
  const lines: string[] = [];
  let cur = '';
  for (const w of words) {
    if (cur && cur.length + 1 + w.length > width) {
      lines.push(cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) lines.push(cur);
  return lines;
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Deletes a previous run's outputs from a run folder (the default job's fresh start). */
export function clearRun(runDir: string): void {
  for (const f of ['config.json', METRICS_FILE, 'loss.svg', 'summary.json', 'samples.txt', TOKENIZER_FILE])
    rmSync(join(runDir, f), { force: true });
  rmSync(join(runDir, 'checkpoints'), { recursive: true, force: true });
}

/** `webgpu-gpt pretrain ...`: argv is what follows the word `pretrain`. */
export async function pretrainMain(argv: string[]): Promise<number> {
  const parsed = parseConfig(TRAIN_SCHEMA, argv, 'pretrain');
  if (parsed.help) {
    process.stdout.write(PRETRAIN_HELP + '\n');
    return 0;
  }
  if (parsed.positional.length)
    throw new CliError(
      `unexpected argument "${parsed.positional[0]}" (options are --key value; see webgpu-gpt pretrain --help)`,
    );
  await pretrain(parsed.values, { sources: parsed.sources, handleSigint: true });
  return 0;
}
