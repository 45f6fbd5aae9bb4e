// Fine-tuning: wires a pre-trained checkpoint (or random weights, `--from scratch`) to a task's
// data (train/finetune/ data layer), its objective (train/objectives/: pretrain for `lm`, sft,
// classify; ./multi.ts mixes them for `multi`), AdamW with optional freezing, and the SAME training loop as pre-training (schedule,
// accumulation, evaluation, checkpoints with exact resume, metrics.jsonl, summary.json, Ctrl-C).
//
// Transfer takes the weights only: the optimizer state and the data position start fresh, the
// model shape and the tokenizer come from the checkpoint (the task's data is tokenized with it).
// `classify` extends the shape with a head (config.nClasses) that the base does not have: its
// weights start from the seeded initialisation (normal(0, 0.02) weight, zero bias). Checkpoints
// record where the run came from (the base checkpoint's path, step and weights' sha256) and, for
// classify, the label set. `--from hf:<dir>` starts from a Hugging Face GPT-2 folder (model/hf.ts)
// with GPT-2's tokenizer; the origin is then `hf:<abs dir>`, step 0, its model.safetensors' sha256.
//
// `--lora rank=8,alpha=16,targets=...` trains low-rank adapters (model/lora.ts) instead of the
// weights: the base stays frozen (no weight gradients, no moments), the optimizer sees only the
// adapters (and a classify head), and checkpoints store the adapters apart from the base, which
// they name with the sha256 of its weights.
import { appendFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { initEngine } from '../../engine/index.ts';
import { CheckpointError, resolveCheckpoint, restoreCheckpoint, saveCheckpoint } from '../../model/checkpoint.ts';
import type { LoadedCheckpoint } from '../../model/checkpoint.ts';
import { countParams, flopsPerToken, type GPTConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { hfAsCheckpoint, hfDirOf, HF_PREFIX, HF_OWN_TOKENIZER_FILE } from '../../model/hf.ts';
import { initParams, paramLayout } from '../../model/layout.ts';
import { loraLayout, mergeLora, parseLora, describeLora, type LoraConfig } from '../../model/lora.ts';
import { LoraAdapters } from '../../model/lora-store.ts';
import { AdamW } from '../../model/optimizer.ts';
import { TimeBudget } from '../budget.ts';
import { CliError } from '../cli-error.ts';
import { adamwConfig, type TrainConfig } from '../config.ts';
import { evalBatches } from '../data/shards.ts';
import { evaluateBatches } from '../evaluate.ts';
import { trainLoop, type LoopHooks, type TrainState } from '../loop.ts';
import { progressMode, TrainProgress } from '../metrics.ts';
import type { Evaluation, Objective } from '../objectives/objective.ts';
import { loadData, PretrainObjective, type DataSet } from '../objectives/pretrain.ts';
import { ClassifyObjective, type ClassifyBatch as HeadBatch } from '../objectives/classify.ts';
import { SftObjective, type BatchSupplier, type ScoreHook } from '../objectives/sft.ts';
import { rougeScore } from '../eval/rouge.ts';
import { generateBatch } from '../../model/generate-batch.ts';
import { modelConfigFor } from '../pretrain.ts';
import { reportRun, summarize, type RunSummary } from '../report.ts';
import { initialState, resolveRun, RunFiles, type KeySources, type ResolvedRun } from '../run-dir.ts';
import { StopRequest } from '../stop.ts';
import { Gpt2Tokenizer, loadTokenizer, TOKENIZER_FILE, tokenizerFromJSON } from '../tokenizers/index.ts';
import type { Tokenizer, TokenizerJSON } from '../tokenizers/types.ts';
import { BatchOrder, classifyBatch, sftBatch, type BatchOrderState } from './batches.ts';
import { formatExampleReport, type ExampleReport } from './examples.ts';
import { prepareClassifyTask, prepareSftTask } from './prepare.ts';
import { MultiObjective, type MixedTask } from './multi.ts';
import { readMix, type MixTask } from './mixture.ts';
import { formatReport, type Label, type RecordReport, type SftRecord } from './records.ts';

export const FINETUNE_TASKS = ['lm', 'sft', 'classify', 'multi'] as const;
export type FinetuneTask = (typeof FINETUNE_TASKS)[number];

/** Everything `finetune` reads: pre-training's keys plus the task's. */
export interface FinetuneConfig extends TrainConfig {
  /** A run folder or checkpoint to start from, or `scratch`. */
  from: string | null;
  task: string;
  /** `--from scratch`: the tokenizer (a tokenizer.json or prepared folder; default gpt2). */
  tokenizer: string | null;
  prompt: string;
  target: string;
  textField: string;
  labelField: string;
  val: string | null;
  test: string | null;
  valFraction: number;
  /** Tensors that stay as they are (e.g. `wte,wpe,h.0-3`); empty = none. */
  freeze: string;
  /** classify: weight of the auxiliary language-modelling loss. */
  lmWeight: number;
  /** multi: the mix file (tasks with kind, data, templates or fields, weight). */
  mix: string | null;
  /** sft: held-out prompts generated greedily and scored (ROUGE-L, exact match) at each evaluation. */
  scoreExamples: number;
  /** LoRA instead of full fine-tuning: `rank=8,alpha=16,targets=c_attn,c_proj,c_fc,dropout=0.05`; empty = none. */
  lora?: string;
}

/** Where a fine-tuning run came from, saved in its checkpoints and summary. */
export interface FinetuneOrigin {
  task: FinetuneTask;
  from: { path: string; step: number; sha256: string } | 'scratch';
  /** classify: the label set, in class-index order. */
  labels?: Label[];
}

export interface FinetuneOptions extends LoopHooks {
  log?: (line: string) => void;
  sources?: KeySources;
  signal?: AbortSignal;
  handleSigint?: boolean;
}

export interface FinetuneSummary extends RunSummary {
  task: FinetuneTask;
  origin: FinetuneOrigin;
  /** The evaluation of the starting weights (null if unknown). */
  before: EvalRecord | null;
  /** Task metrics of the last evaluation (accuracy, macroF1, baseValLoss, ...). */
  metrics: Record<string, number>;
  /** Records used, skipped (with reasons) and truncated, per file and split. */
  dataReport: string[];
  /** The --test split after the last step (classify: with the full report). */
  test?: { loss: number; metrics: Record<string, number>; report?: unknown };
  /** What trained: parameters, the optimizer's state on the device, the LoRA config if any. */
  trainable?: { params: number; optimizerStateBytes: number; lora?: LoraConfig };
}

const EXTRA_KEYS = [
  'from',
  'task',
  'tokenizer',
  'prompt',
  'target',
  'textField',
  'labelField',
  'val',
  'test',
  'valFraction',
  'freeze',
  'lmWeight',
  'scoreExamples',
  'mix',
  'lora',
] as const;

/** The starting point: a base checkpoint's shape, weights and tokenizer, or scratch. */
interface Base {
  config: GPTConfig;
  params: Float32Array | null;
  tokenizer: Tokenizer;
  from: FinetuneOrigin['from'];
  /** The base run's prepared data folder (its validation data, for `lm`), if known. */
  dataDir: string | null;
}

function readCheckpointAt(p: string, key: string): LoadedCheckpoint {
  try {
    return isHf(p) ? readHfBase(p, key) : resolveCheckpoint(p);
  } catch (e) {
    if (e instanceof CheckpointError) throw new CliError(`--${key} ${p}: ${e.message}`);
    throw e;
  }
}

/** Whether a --from names a Hugging Face folder (`hf:<dir>`) rather than a checkpoint. */
function isHf(p: string): boolean {
  return hfDirOf(p) !== null;
}

/** A Hugging Face folder as a checkpoint, with its weights' sha256; it must say what its tokenizer is. */
function readHfBase(p: string, key: string): LoadedCheckpoint {
  const dir = hfDirOf(p) ?? '';
  if (!dir) throw new CliError(`--${key} hf:<dir>: name the Hugging Face model folder after hf:`);
  const ckpt = hfAsCheckpoint(dir, { checksum: true });
  if (ckpt.meta.tokenizer === undefined)
    throw new CliError(
      `--${key} ${p}: vocab_size ${ckpt.meta.config.vocabSize} is not GPT-2's (50257) and the folder has no ${HF_OWN_TOKENIZER_FILE}, so its tokenizer is unknown`,
    );
  return ckpt;
}

/** The tokenizer a checkpoint recorded, or its run folder's tokenizer.json. */
function tokenizerOf(ckpt: LoadedCheckpoint, where: string): Tokenizer {
  const meta = ckpt.meta.tokenizer as { json?: TokenizerJSON } | undefined;
  if (meta && typeof meta === 'object' && meta.json) return tokenizerFromJSON(meta.json);
  const file = join(dirname(dirname(ckpt.path)), TOKENIZER_FILE);
  if (existsSync(file)) return loadTokenizer(file);
  throw new CliError(`${where}: checkpoint ${ckpt.path} records no tokenizer and has no ${TOKENIZER_FILE} beside it`);
}

/** The base run's prepared data folder, from its config.json (null if unknown or gone). */
function baseDataDir(ckptPath: string): string | null {
  const file = join(dirname(dirname(ckptPath)), 'config.json');
  try {
    const d = (JSON.parse(readFileSync(file, 'utf8')) as { train?: { data?: string } }).train?.data;
    return d && existsSync(join(d, 'val.bin')) ? d : null;
  } catch {
    return null;
  }
}

/** Keys that only `--from scratch` reads: with a checkpoint they would be silently ignored. */
const SCRATCH_KEYS = ['model', 'nLayer', 'nHead', 'nEmbd', 'blockSize', 'tokenizer'] as const;

function checkScratchKeys(cfg: FinetuneConfig, sources: KeySources | undefined): void {
  if (cfg.from === 'scratch' || cfg.resume !== null) return;
  const given = SCRATCH_KEYS.filter((k) => {
    const src = (sources as Record<string, string> | undefined)?.[k];
    return src === 'cli' || src === 'file';
  });
  if (given.length)
    throw new CliError(
      `--${given[0]} applies to --from scratch only: the model shape and the tokenizer come from --from ${cfg.from}`,
    );
}

function loadBase(cfg: FinetuneConfig): Base {
  if (cfg.from === null)
    throw new CliError('--from is required: a pre-trained run folder or checkpoint, or `scratch` (--model <preset>)');
  if (cfg.from === 'scratch') {
    let tokenizer: Tokenizer;
    try {
      tokenizer = cfg.tokenizer === null ? new Gpt2Tokenizer() : loadTokenizer(resolve(cfg.tokenizer));
    } catch (e) {
      throw new CliError(`--tokenizer ${cfg.tokenizer}: ${(e as Error).message}`);
    }
    const config = modelConfigFor(cfg, tokenizer.vocabSize);
    return { config, params: null, tokenizer, from: 'scratch', dataDir: null };
  }
  const ckpt = readCheckpointAt(cfg.from, 'from');
  const tokenizer = tokenizerOf(ckpt, `--from ${cfg.from}`);
  if (ckpt.lora && cfg.lora?.trim())
    throw new CliError(
      `--from ${cfg.from}: a LoRA checkpoint; merge it first (webgpu-gpt convert --from ${cfg.from} --merge --out <dir>)`,
    );
  const sha256 = ckpt.sidecar.files['model.safetensors']?.sha256 ?? '';
  const hf = isHf(cfg.from);
  const from = { path: hf ? HF_PREFIX + ckpt.path : ckpt.path, step: ckpt.meta.step, sha256 };
  const config = { ...ckpt.meta.config, dropout: cfg.dropout };
  // A LoRA checkpoint as the base of a full fine-tune: its adapters folded into the weights.
  const params = ckpt.lora
    ? mergeLora(loraLayout(ckpt.meta.config, ckpt.lora.config), ckpt.lora.params, ckpt.params)
    : ckpt.params;
  return { config, params, tokenizer, from, dataDir: hf ? null : baseDataDir(ckpt.path) };
}

/**
 * The fine-tuned model's first weights: the base's tensors copied by name into the task's layout
 * (a classify head the base lacks keeps its seeded initialisation); scratch: all initialised.
 */
function transferParams(base: Base, config: GPTConfig, seed: number): Float32Array {
  const layout = paramLayout(config);
  const out = initParams(layout, seed);
  if (base.params === null) return out;
  const from = paramLayout(base.config);
  for (const e of layout.entries) {
    const s = from.byName.get(e.name);
    if (s && s.size === e.size) out.set(base.params.subarray(s.offset, s.offset + s.size), e.offset);
  }
  return out;
}

// ---- tasks ----------------------------------------------------------------------------------

/** What a task hands the wiring: its objective and what to say about its data. */
interface TaskSetup {
  objective: Objective<unknown>;
  /** Data description for config.json and the summary. */
  data: string;
  dataDir: string | null;
  unigramLoss: number | null;
  labels?: Label[];
  /** Lines describing the data (records used and skipped, truncations, labels). */
  lines: string[];
  /** The --test split, evaluated once after the last step. */
  test?: Objective<unknown>;
}

/** An objective whose batch type the wiring does not need to know. */
function erase<M>(o: Objective<M>): Objective<unknown> {
  return o as unknown as Objective<unknown>;
}

/** A resumable supplier of padded batches drawn by a seeded BatchOrder. */
function supplier<E, Bt>(examples: readonly E[], B: number, seed: number, make: (e: E[]) => Bt): BatchSupplier<Bt> {
  let order = new BatchOrder(examples.length, B, seed);
  return {
    next: () => make(order.next().map((i) => examples[i]!)),
    state: () => ({ order: order.state() }),
    restore: (s) => {
      order = BatchOrder.resume(s.order as BatchOrderState, examples.length);
    },
  };
}

/** Fixed validation batches: the first evalBatches·B examples in order, B at a time. */
function chunks<E, Bt>(examples: readonly E[], B: number, maxBatches: number, make: (e: E[]) => Bt): Bt[] {
  const out: Bt[] = [];
  for (let i = 0; i < examples.length && out.length < maxBatches; i += B) out.push(make(examples.slice(i, i + B)));
  return out;
}

function reportLines(reports: (RecordReport | ExampleReport)[]): string[] {
  return reports.map((r) => ('truncated' in r ? formatExampleReport(r) : formatReport(r)));
}

function checkDataFile(cfg: FinetuneConfig): string {
  if (cfg.data === null) throw new CliError(`--data is required: the ${cfg.task} data (JSONL) to fine-tune on`);
  if (!existsSync(cfg.data)) throw new CliError(`--data ${cfg.data}: no such file`);
  return cfg.data;
}

function splitOptions(cfg: FinetuneConfig): { val?: string; test?: string; valFraction: number; seed: number } {
  return {
    ...(cfg.val !== null ? { val: cfg.val } : {}),
    ...(cfg.test !== null ? { test: cfg.test } : {}),
    valFraction: cfg.valFraction,
    seed: cfg.seed,
  };
}

function sftTask(cfg: FinetuneConfig, tok: Tokenizer, T: number): TaskSetup {
  const data = checkDataFile(cfg);
  const task = prepareSftTask({ data, prompt: cfg.prompt, target: cfg.target, ...splitOptions(cfg) }, tok, T);
  if (task.train.examples.length === 0) throw new CliError(`--data ${data}: no usable training examples`);
  if (task.val.examples.length === 0) throw new CliError(`--data ${data}: no usable validation examples`);
  const pad = tok.eotId;
  const B = cfg.batchSize;
  const make = (split: typeof task.val, maxBatches: number): SftObjective => {
    const n = cfg.scoreExamples;
    return new SftObjective({
      train: supplier(task.train.examples, B, cfg.seed, (e) => sftBatch(e, pad)),
      val: chunks(split.examples, B, maxBatches, (e) => sftBatch(e, pad)),
      ...(n > 0 ? { score: greedyRouge(split.records.slice(0, n), tok, T) } : {}),
    });
  };
  const test = task.test?.examples.length ? { test: erase(make(task.test, Infinity)) } : {};
  const lines = reportLines(task.reports);
  const objective = erase(make(task.val, cfg.evalBatches));
  return { objective, data: resolve(data), dataDir: null, unigramLoss: null, lines, ...test };
}

/**
 * sft's generation score: greedy continuations of held-out prompts (up to the end-of-text, at most
 * the target's length + 8 tokens) against their targets: mean ROUGE-L F1 and exact match.
 */
function greedyRouge(records: readonly SftRecord[], tok: Tokenizer, T: number): ScoreHook {
  return async (model) => {
    let rouge = 0;
    let exact = 0;
    let sample = '';
    const prompts = records.map((r) => [tok.eotId, ...tok.encode(r.prompt)].slice(-(T - 1)));
    const limits = records.map((r) => Math.min(T, tok.encode(r.target).length + 8));
    // One batched greedy run to the longest limit; each row cut to its own (greedy: the same prefix).
    const outs = await generateBatch(model, prompts, {
      maxTokens: Math.max(0, ...limits),
      temperature: 0,
      stopToken: tok.eotId,
    });
    for (const [i, r] of records.entries()) {
      const out = tok.decode(outs[i]!.slice(0, limits[i]));
      rouge += rougeScore(r.target, out, ['rougeL']).rougeL!.fmeasure;
      if (out.trim() === r.target.trim()) exact++;
      sample ||= `${r.prompt}${out}`;
    }
    const n = records.length;
    return { metrics: { rougeL: rouge / n, exactMatch: exact / n }, sample };
  };
}

function classifyTask(cfg: FinetuneConfig, tok: Tokenizer, T: number, labels?: Label[]): TaskSetup {
  const data = checkDataFile(cfg);
  const fields = { textField: cfg.textField, labelField: cfg.labelField, ...(labels ? { labels } : {}) };
  const task = prepareClassifyTask({ data, ...fields, ...splitOptions(cfg) }, tok, T);
  const pad = tok.eotId;
  const B = cfg.batchSize;
  const head = (e: Parameters<typeof classifyBatch>[0]): HeadBatch => {
    const b = classifyBatch(e, pad);
    return { ids: b.ids, last: b.last, labels: b.labels, B: b.B, T: b.T };
  };
  const make = (split: typeof task.val, maxBatches: number): ClassifyObjective =>
    new ClassifyObjective({
      train: supplier(task.train.examples, B, cfg.seed, head),
      val: chunks(split.examples, B, maxBatches, head),
      nClasses: task.labels.length,
      lmWeight: cfg.lmWeight,
      classNames: task.labels.map(String),
    });
  const objective = make(task.val, cfg.evalBatches);
  const test = task.test?.examples.length ? { test: erase(make(task.test, Infinity)) } : {};
  const lines = reportLines(task.reports);
  lines.push(`labels: ${task.labels.map((l) => JSON.stringify(l)).join(', ')}`);
  return {
    objective: erase(objective),
    data: resolve(data),
    dataDir: null,
    unigramLoss: null,
    labels: task.labels,
    lines,
    ...test,
  };
}

/** `lm` data: a prepared folder (its tokenizer must be the checkpoint's) or text files tokenized here. */
function lmData(cfg: FinetuneConfig, tok: Tokenizer): DataSet {
  const path = checkDataFile(cfg);
  if (statSync(path).isDirectory()) {
    const d = loadData(path);
    if (d.tokenizer.id !== tok.id)
      throw new CliError(`--data ${path}: prepared with tokenizer ${d.tokenizer.id}, but the model uses ${tok.id}`);
    return d;
  }
  const ids: number[] = [];
  for (const doc of readFileSync(path, 'utf8').split(/\n\s*\n/))
    if (doc.trim()) ids.push(...tok.encode(doc), tok.eotId);
  const nVal = Math.max(1, Math.round(ids.length * cfg.valFraction));
  const all = Uint32Array.from(ids);
  const val = all.slice(all.length - nVal);
  const train = all.slice(0, all.length - nVal);
  return { dir: resolve(path), train, val, tokenizer: tok, unigramLoss: null, report: null };
}

/** The pre-training objective on the new domain; evaluations also report the base's validation loss. */
function lmTask(cfg: FinetuneConfig, tok: Tokenizer, T: number, baseDir: string | null): TaskSetup {
  const data = lmData(cfg, tok);
  const B = cfg.batchSize;
  for (const [name, arr] of [
    ['training', data.train],
    ['validation', data.val],
  ] as const)
    if (arr.length < T + 1)
      throw new CliError(`--data ${cfg.data}: the ${name} split has ${arr.length} tokens, fewer than blockSize + 1`);
  const inner = new PretrainObjective(data, { B, T, ...cfg });
  const lines = [`data: ${data.train.length} train / ${data.val.length} validation tokens`];
  let objective = erase(inner);
  if (baseDir !== null) {
    const baseVal = loadData(baseDir).val;
    if (baseVal.length >= T + 1) {
      const batches = [...evalBatches(baseVal, B, T, cfg.evalBatches)];
      lines.push(`base validation data: ${baseDir} (reported as baseValLoss)`);
      objective = erase(withBaseLoss(inner, async (model) => evaluateBatches(model, batches, B, T)));
    }
  }
  return {
    objective,
    data: data.dir,
    dataDir: statSync(data.dir).isDirectory() ? data.dir : null,
    unigramLoss: data.unigramLoss,
    lines,
  };
}

/** The objective with each evaluation passed through `then` (adding metrics, or keeping them). */
function afterEvaluate<M>(
  o: Objective<M>,
  then: (ev: Evaluation, model: GPT, step: number) => Promise<Evaluation>,
): Objective<M> {
  return {
    next: () => o.next(),
    tokens: (mb) => o.tokens(mb),
    loss: o.loss,
    baseline: o.baseline,
    evaluate: async (model, step) => then(await o.evaluate(model, step), model, step),
    probeEvalSec: (model) => o.probeEvalSec(model),
    dataState: () => o.dataState(),
    restoreDataState: (s) => o.restoreDataState(s),
  };
}

/** The objective with `baseValLoss` (the base run's own validation data) added to each evaluation. */
function withBaseLoss<M>(o: Objective<M>, baseLoss: (model: GPT) => Promise<number>): Objective<M> {
  return afterEvaluate(o, async (ev, model) => ({
    ...ev,
    metrics: { ...ev.metrics, baseValLoss: await baseLoss(model) },
  }));
}

/** A mix file's task as the keys of a single-task run. */
function taskConfig(cfg: FinetuneConfig, t: MixTask): FinetuneConfig {
  return {
    ...cfg,
    task: t.kind,
    data: t.data,
    prompt: t.prompt ?? cfg.prompt,
    target: t.target ?? cfg.target,
    textField: t.textField ?? cfg.textField,
    labelField: t.labelField ?? cfg.labelField,
    val: t.val ?? null,
    test: null,
    valFraction: t.valFraction ?? cfg.valFraction,
  };
}

/** multi: each task of the mix file built as its own run would build it, mixed by weight. */
function multiTask(cfg: FinetuneConfig, tok: Tokenizer, T: number, base: Base, labels?: Label[]): TaskSetup {
  if (cfg.mix === null) throw new CliError('--mix is required for --task multi: a JSON file listing the tasks');
  const tasks = readMix(cfg.mix);
  if (tasks.filter((t) => t.kind === 'classify').length > 1)
    throw new CliError(`${cfg.mix}: more than one classify task; the model has one classification head`);
  const mixed: MixedTask[] = [];
  const lines: string[] = [];
  let taskLabels: Label[] | undefined;
  for (const t of tasks) {
    const own = t.kind === 'classify' ? (labels ?? t.labels) : undefined;
    const setup = buildTask(taskConfig(cfg, t), tok, T, base, own);
    taskLabels ??= setup.labels;
    mixed.push({ name: t.name, weight: t.weight, objective: setup.objective });
    lines.push(...setup.lines.map((l) => `${t.name} (${t.kind}, weight ${t.weight}): ${l}`));
  }
  const objective = erase(new MultiObjective(mixed, cfg.seed));
  const setup = { objective, data: resolve(cfg.mix), dataDir: null, unigramLoss: null, lines };
  return taskLabels ? { ...setup, labels: taskLabels } : setup;
}

function buildTask(cfg: FinetuneConfig, tok: Tokenizer, T: number, base: Base, labels?: Label[]): TaskSetup {
  switch (cfg.task as FinetuneTask) {
    case 'sft':
      return sftTask(cfg, tok, T);
    case 'classify':
      return classifyTask(cfg, tok, T, labels);
    case 'lm':
      return lmTask(cfg, tok, T, base.dataDir);
    case 'multi':
      return multiTask(cfg, tok, T, base, labels);
    default:
      throw new CliError(`--task must be one of ${FINETUNE_TASKS.join(', ')}, got ${JSON.stringify(cfg.task)}`);
  }
}

// ---- the run --------------------------------------------------------------------------------

/** A fresh run or a resume; a resume takes the fine-tuning keys back from its checkpoint too. */
function resolveFinetuneRun(
  cfgIn: FinetuneConfig,
  sources: KeySources | undefined,
): ResolvedRun & { cfg: FinetuneConfig } {
  if (cfgIn.task === 'multi' && cfgIn.data === null && cfgIn.mix !== null) cfgIn = { ...cfgIn, data: cfgIn.mix };
  if (cfgIn.resume === null && cfgIn.data === null)
    throw new CliError(`--data is required: the data to fine-tune on (see webgpu-gpt finetune --help)`);
  const run = resolveRun(cfgIn, sources);
  if (!run.ckpt) return { ...run, cfg: { ...cfgIn, ...run.cfg } };
  const saved = (run.ckpt.meta.extra as TrainState).trainConfig as FinetuneConfig;
  const extra = Object.fromEntries(EXTRA_KEYS.map((k) => [k, saved[k]]));
  return { ...run, cfg: { ...(extra as Partial<FinetuneConfig>), ...run.cfg } as FinetuneConfig };
}

/** The starting point of a resume: the run's own checkpoint (its shape, tokenizer, origin, labels). */
function resumeBase(run: ResolvedRun): { base: Base; origin: FinetuneOrigin } {
  const ckpt = run.ckpt!;
  const origin = (ckpt.meta.extra as { finetune?: FinetuneOrigin }).finetune;
  if (!origin) throw new CliError(`--resume ${run.runDir}: not a fine-tuning run (resume it with webgpu-gpt pretrain)`);
  const tokenizer = tokenizerOf(ckpt, `--resume ${run.runDir}`);
  const dataDir = origin.from === 'scratch' || isHf(origin.from.path) ? null : baseDataDir(origin.from.path);
  const base = { config: ckpt.meta.config, params: ckpt.params, tokenizer, from: origin.from, dataDir };
  return { base, origin };
}

function makeOptimizer(model: GPT, cfg: FinetuneConfig): AdamW {
  try {
    return new AdamW(model.params, adamwConfig(cfg), cfg.freeze.trim() ? { freeze: cfg.freeze } : {});
  } catch (e) {
    throw new CliError(`--freeze ${cfg.freeze}: ${(e as Error).message}`);
  }
}

/** The --lora config checked against the model (before any GPU work), or null without --lora. */
function loraOf(cfg: FinetuneConfig, config: GPTConfig, from: FinetuneOrigin['from']): LoraConfig | null {
  const spec = cfg.lora?.trim() ?? '';
  if (spec === '') return null;
  if (from === 'scratch')
    throw new CliError('--lora adapts pre-trained weights: give --from a run folder or checkpoint, not scratch');
  if (cfg.freeze.trim()) throw new CliError('--freeze with --lora: LoRA already freezes every base weight');
  try {
    const lora = parseLora(spec);
    loraLayout(config, lora); // the targets must match layers of this model
    return lora;
  } catch (e) {
    throw new CliError(`--lora ${spec}: ${(e as Error).message}`);
  }
}

/** The optimizer over what trains: the model (minus --freeze), or with LoRA the adapters alone. */
function makeTrainer(
  model: GPT,
  cfg: FinetuneConfig,
  lora: LoraConfig | null,
  o: { from: FinetuneOrigin['from']; params: Float32Array; resumed: LoadedCheckpoint | null },
): { opt: AdamW; adapters: LoraAdapters | null } {
  if (!lora || o.from === 'scratch') return { opt: makeOptimizer(model, cfg), adapters: null };
  // A resumed run keeps the base its adapters were saved with.
  const path = isHf(o.from.path) ? o.from.path : resolve(o.from.path);
  const base = o.resumed?.lora?.base ?? { path, sha256: o.from.sha256 };
  const adapters = LoraAdapters.create(model.config, lora, { seed: cfg.seed, modelParams: o.params, base });
  model.attachAdapters(adapters);
  return { opt: new AdamW(adapters, adamwConfig(cfg)), adapters };
}

/** Parameters that train: the adapters (and head), or the model's less the frozen tensors. */
function trainableCount(model: GPT, opt: AdamW, adapters: LoraAdapters | null): number {
  if (adapters) return adapters.count;
  const L = model.params.layout;
  return L.count - L.entries.filter((e) => opt.frozen.includes(e.name)).reduce((n, e) => n + e.size, 0);
}

/** One line on what trains: parameters and optimizer state, against the whole model. */
function trainableLine(model: GPT, opt: AdamW, adapters: LoraAdapters | null): string {
  const all = model.params.layout.count;
  const n = trainableCount(model, opt, adapters);
  const what = adapters ? `lora: ${describeLora(adapters.layout)}: ` : '';
  return `${what}${n.toLocaleString('en-US')} trainable parameters (${((100 * n) / all).toFixed(2)}% of ${all.toLocaleString('en-US')}), optimizer state ${(opt.stateBytes / 1024).toFixed(1)} KiB`;
}

/** config.json and the appended outputs, without a prepared data folder (run-dir.ts wants one). */
function openFinetuneFolder(
  run: ResolvedRun & { cfg: FinetuneConfig },
  o: {
    model: GPTConfig;
    tokenizer: Tokenizer;
    task: TaskSetup;
    origin: FinetuneOrigin;
    adapter: string;
    accum: number;
  },
  log: (line: string) => void,
): RunFiles {
  const { runDir, ckpt } = run;
  mkdirSync(join(runDir, 'checkpoints'), { recursive: true });
  const files = new RunFiles(runDir, ckpt?.meta.step ?? 0, !ckpt, {
    title: `${o.origin.task} fine-tuning of a ${o.model.nLayer}x${o.model.nEmbd} GPT`,
    baseline: null,
  });
  files.writeJson(TOKENIZER_FILE, o.tokenizer.toJSON());
  const T = o.model.blockSize;
  files.writeJson('config.json', {
    train: run.cfg,
    model: o.model,
    finetune: o.origin,
    derived: {
      accumSteps: o.accum,
      tokensPerStep: o.accum * run.cfg.batchSize * T,
      params: countParams(o.model),
      flopsPerToken: flopsPerToken(o.model, T),
      tokenizer: o.tokenizer.id,
      unigramLoss: o.task.unigramLoss,
    },
    adapter: o.adapter,
  });
  const from =
    o.origin.from === 'scratch' ? 'scratch (random weights)' : `${o.origin.from.path} (step ${o.origin.from.step})`;
  log(`finetune ${o.origin.task} from ${from} into ${runDir}`);
  log(
    `model: ${o.model.nLayer} layers, ${o.model.nEmbd} wide, context ${T}, tokenizer ${o.tokenizer.id}: ${(countParams(o.model) / 1e6).toFixed(2)}M parameters`,
  );
  for (const l of o.task.lines) log(`data: ${l}`);
  return files;
}

/** Micro-batches per step: --tokensPerStep over B·T, as pre-training computes it. */
function accumFor(cfg: FinetuneConfig, T: number): number {
  return cfg.tokensPerStep > 0 ? Math.max(1, Math.round(cfg.tokensPerStep / (cfg.batchSize * T))) : 1;
}

/** Builds everything a run needs (model, optimizer, objective, folder) before the loop starts. */
async function setUp(cfgIn: FinetuneConfig, opts: FinetuneOptions, log: (l: string) => void) {
  const run = resolveFinetuneRun(cfgIn, opts.sources);
  for (const s of run.ckpt?.skipped ?? []) log(`warning: skipped a broken checkpoint: ${s.error}`);
  const cfg = run.cfg;
  const resumed = run.ckpt ? resumeBase(run) : null;
  checkScratchKeys(cfg, opts.sources);
  const base = resumed?.base ?? loadBase(cfg);
  const T = base.config.blockSize;
  const task = buildTask(cfg, base.tokenizer, T, base, resumed?.origin.labels);
  const config: GPTConfig = task.labels ? { ...base.config, nClasses: task.labels.length } : base.config;
  const origin: FinetuneOrigin = {
    task: cfg.task as FinetuneTask,
    from: base.from,
    ...(task.labels ? { labels: task.labels } : {}),
  };
  const accum = accumFor(cfg, T);
  const lora = loraOf(cfg, config, base.from);
  const rt = await initEngine();
  const adapter = rt.describe();
  log(`adapter: ${adapter}`);
  const params = transferParams(base, config, cfg.seed);
  const model = GPT.fromParams(config, params, { seed: cfg.seed, fit: { batch: cfg.batchSize, T, training: true } });
  model.train();
  const { opt, adapters } = makeTrainer(model, cfg, lora, { from: base.from, params, resumed: run.ckpt });
  if (run.ckpt) {
    restoreCheckpoint(run.ckpt, model, opt);
    task.objective.restoreDataState(run.ckpt.meta.data as Record<string, unknown>);
  }
  const files = openFinetuneFolder(
    run,
    { model: config, tokenizer: base.tokenizer, task, origin, adapter, accum },
    log,
  );
  log(trainableLine(model, opt, adapters));
  const software = rt.isSoftware;
  return { run, cfg, base, task, origin, config, accum, model, opt, adapters, files, adapter, software };
}

export const EVALS_FILE = 'evals.jsonl';

/** One evaluation of a fine-tuning run: evals.jsonl's line (step 0 = the starting weights). */
export interface EvalRecord {
  step: number;
  valLoss: number;
  metrics: Record<string, number>;
}

/** evals.jsonl: each evaluation's loss and task metrics; a resume drops lines after its step. */
class EvalLog {
  readonly path: string;
  last: EvalRecord | null = null;

  constructor(dir: string, step: number) {
    this.path = join(dir, EVALS_FILE);
    const kept = this.read().filter((e) => e.step <= step);
    writeFileSync(this.path, kept.map((e) => JSON.stringify(e) + '\n').join(''));
    this.last = kept.at(-1) ?? null;
  }

  read(): EvalRecord[] {
    if (!existsSync(this.path)) return [];
    const lines = readFileSync(this.path, 'utf8').split('\n');
    return lines.filter((l) => l.trim()).map((l) => JSON.parse(l) as EvalRecord);
  }

  append(step: number, ev: Evaluation): void {
    this.last = { step, valLoss: ev.valLoss, metrics: ev.metrics ?? {} };
    appendFileSync(this.path, JSON.stringify(this.last) + '\n');
  }
}

type Setup = Awaited<ReturnType<typeof setUp>>;

/** Writes a checkpoint with the origin of the run (and the label set) beside the loop's state. */
function checkpointer(s: Setup, state: TrainState, elapsed: () => number, objective: Objective<unknown>) {
  const { model, opt, run, cfg, origin } = s;
  return async (at: number): Promise<string> => {
    state.elapsedSec = elapsed();
    const tokenizer = { id: s.base.tokenizer.id, json: s.base.tokenizer.toJSON() };
    const meta = { step: at, tokenizer, data: objective.dataState(), extra: { ...state, finetune: origin } };
    const dir = join(run.runDir, 'checkpoints');
    return saveCheckpoint(dir, { model, optimizer: opt, meta }, { keep: cfg.keepCheckpoints });
  };
}

/** The loop's result after the periodic evaluations (each logged), with a first one before step 1. */
async function runLoop(s: Setup, state: TrainState, evals: EvalLog, hooks: FinetuneOptions, elapsed: () => number) {
  const { run, cfg, model, opt, files } = s;
  const step = run.ckpt ? run.ckpt.meta.step : 0;
  const objective = afterEvaluate(s.task.objective, async (ev, _m, at) => {
    evals.append(at, ev);
    return ev;
  });
  const progress = new TrainProgress(progressMode(cfg.progress), (l) => process.stderr.write(l + '\n'));
  if (!run.ckpt) {
    const ev = await objective.evaluate(model, 0);
    progress.message(`before fine-tuning: val loss ${ev.valLoss.toFixed(4)}${formatMetrics(ev.metrics)}`);
  }
  const stop = new StopRequest((l) => progress.message(l)).follow(hooks.signal);
  if (hooks.handleSigint ?? false) stop.listen();
  const budget = new TimeBudget(cfg);
  const checkpoint = checkpointer(s, state, elapsed, objective);
  try {
    if (budget.enabled && step < state.totalSteps) budget.evalCostSec = (await objective.probeEvalSec(model)) + 0.5;
    const loop = { model, opt, objective, cfg, accum: s.accum, state, step, files, budget, stop, progress, elapsed };
    return await trainLoop({ ...loop, checkpoint, lastCheckpoint: run.ckpt?.path ?? null, hooks });
  } finally {
    stop.dispose();
  }
}

function formatMetrics(m: Record<string, number> | undefined): string {
  return Object.entries(m ?? {})
    .map(([k, v]) => `, ${k} ${v.toFixed(4)}`)
    .join('');
}

/** The --test split's loss and metrics (and a classifier's full report), once, after training. */
async function evaluateTest(
  test: Objective<unknown>,
  model: GPT,
  step: number,
  log: (l: string) => void,
): Promise<NonNullable<FinetuneSummary['test']>> {
  const ev = await test.evaluate(model, step);
  model.train();
  log(`test: loss ${ev.valLoss.toFixed(4)}${formatMetrics(ev.metrics)}`);
  const report = (test as Partial<ClassifyObjective>).lastReport;
  return { loss: ev.valLoss, metrics: ev.metrics ?? {}, ...(report ? { report } : {}) };
}

/** Runs fine-tuning as configured; returns the summary (also written to <out>/summary.json). */
export async function finetune(cfgIn: FinetuneConfig, opts: FinetuneOptions = {}): Promise<FinetuneSummary> {
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const t0 = performance.now();
  const s = await setUp(cfgIn, opts, log);
  const { run, task, origin, model, opt, files } = s;
  const state = initialState(run, opts.sources);
  state.trainConfig = s.cfg;
  const before = state.elapsedSec;
  const elapsed = (): number => before + (performance.now() - t0) / 1000;
  const evals = new EvalLog(run.runDir, run.ckpt?.meta.step ?? 0);
  if (run.ckpt) log(`resuming ${run.runDir} at step ${run.ckpt.meta.step} of ${state.totalSteps} (${run.ckpt.path})`);
  const res = await runLoop(s, state, evals, opts, elapsed);
  const totalElapsed = elapsed();
  const facts = { elapsedSec: totalElapsed, unigramLoss: task.unigramLoss, adapter: s.adapter, software: s.software };
  const more = { model: s.config, params: countParams(s.config), tokenizer: s.base.tokenizer.id, data: task.data };
  const start = evals.read().find((e) => e.step === 0) ?? null;
  const summary: FinetuneSummary = {
    ...summarize(res, state, { ...facts, ...more }),
    task: origin.task,
    origin,
    before: start,
    metrics: evals.last?.metrics ?? {},
    dataReport: task.lines,
    trainable: {
      params: trainableCount(model, opt, s.adapters),
      optimizerStateBytes: opt.stateBytes,
      ...(s.adapters ? { lora: s.adapters.layout.lora } : {}),
    },
  };
  const report = (task.objective as Partial<ClassifyObjective>).lastReport;
  if (task.test && summary.status === 'finished') summary.test = await evaluateTest(task.test, model, res.step, log);
  model.dispose();
  opt.dispose();
  s.adapters?.dispose();
  if (summary.status === 'finished') files.writeJson('summary.json', report ? { ...summary, report } : summary);
  reportRun(summary, { totalSteps: state.totalSteps, elapsedSec: totalElapsed, runDir: run.runDir }, (l) =>
    log(l.replace('webgpu-gpt pretrain --resume', 'webgpu-gpt finetune --resume')),
  );
  return summary;
}
