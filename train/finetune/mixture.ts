// Multi-task fine-tuning: the mix file that lists the tasks (kind, data, templates or label
// fields, sampling weight) and the seeded sampler that draws each micro-batch's task by weight.
// A draw depends only on (seed, draw number), so the sampler's state is one counter and a resumed
// run draws the same tasks.
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { FinetuneDataError, type Label } from './records.ts';
import { seededRng } from './rng.ts';

export type TaskKind = 'lm' | 'sft' | 'classify';

export interface MixTask {
  /** Unique; names the task's metrics and its classification head. Default: the data file's name. */
  name: string;
  kind: TaskKind;
  /** Absolute path (the mix file gives it relative to the mix file's folder). */
  data: string;
  /** Relative sampling weight, > 0. Default 1. */
  weight: number;
  /** sft templates. */
  prompt?: string;
  target?: string;
  /** classify fields and label set. */
  textField?: string;
  labelField?: string;
  labels?: Label[];
  /** Validation: a file, or a fraction of `data`. */
  val?: string;
  valFraction?: number;
}

const KEYS: Record<string, string> = {
  name: 'string',
  kind: 'string',
  data: 'string',
  weight: 'number',
  prompt: 'string',
  target: 'string',
  textField: 'string',
  labelField: 'string',
  labels: 'array',
  val: 'string',
  valFraction: 'number',
};
const KIND_KEYS: Record<TaskKind, string[]> = {
  lm: [],
  sft: ['prompt', 'target'],
  classify: ['textField', 'labelField', 'labels'],
};

/** Checks one task object; errors name the mix file and the key, e.g. `mix.json: tasks[1].weight`. */
function parseTask(raw: unknown, i: number, file: string): MixTask {
  const at = `${file}: tasks[${i}]`;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new FinetuneDataError(`${at} must be an object`);
  const t = raw as Record<string, unknown>;
  const kind = t.kind as TaskKind;
  if (!Object.hasOwn(KIND_KEYS, kind as string)) {
    throw new FinetuneDataError(`${at}.kind must be one of lm, sft, classify, got ${JSON.stringify(t.kind)}`);
  }
  for (const [key, v] of Object.entries(t)) {
    const type = KEYS[key];
    if (!type) throw new FinetuneDataError(`${at} has unknown key "${key}" (known: ${Object.keys(KEYS).join(', ')})`);
    if (type === 'array' ? !Array.isArray(v) : typeof v !== type)
      throw new FinetuneDataError(`${at}.${key} must be a ${type}`);
    if (['prompt', 'target', 'textField', 'labelField', 'labels'].includes(key) && !KIND_KEYS[kind].includes(key)) {
      throw new FinetuneDataError(`${at}.${key} does not apply to a ${kind} task`);
    }
  }
  if (typeof t.data !== 'string' || t.data === '')
    throw new FinetuneDataError(`${at}.data is required (the task's data file)`);
  const weight = (t.weight as number | undefined) ?? 1;
  if (!(weight > 0 && Number.isFinite(weight)))
    throw new FinetuneDataError(`${at}.weight must be a positive number, got ${weight}`);
  const labels = t.labels as unknown[] | undefined;
  if (labels?.some((l) => typeof l !== 'string' && !Number.isInteger(l))) {
    throw new FinetuneDataError(`${at}.labels must hold strings or integers`);
  }
  const base = dirname(file);
  const name = (t.name as string | undefined) ?? t.data.replace(/^.*[\\/]/, '').replace(/\.[^.]*$/, '');
  const task: MixTask = { ...(t as Partial<MixTask>), name, kind, weight, data: resolve(base, t.data) };
  if (typeof t.val === 'string') task.val = resolve(base, t.val);
  return task;
}

/** Parses a mix file's JSON: `{"tasks": [...]}` or a bare array of tasks. */
export function parseMix(json: unknown, file: string): MixTask[] {
  const list = Array.isArray(json) ? json : (json as { tasks?: unknown } | null)?.tasks;
  if (!Array.isArray(list) || list.length === 0) {
    throw new FinetuneDataError(`${file}: expected {"tasks": [...]} with at least one task`);
  }
  const tasks = list.map((raw, i) => parseTask(raw, i, file));
  const seen = new Set<string>();
  tasks.forEach((t, i) => {
    if (seen.has(t.name))
      throw new FinetuneDataError(`${file}: tasks[${i}].name "${t.name}" is used twice (names must be unique)`);
    seen.add(t.name);
  });
  return tasks;
}

export function readMix(path: string): MixTask[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new FinetuneDataError(`${path}: cannot read the mix file (${why})`);
  }
  return parseMix(json, path);
}

export interface TaskSamplerState {
  seed: number;
  draws: number;
}

/** Draws task indices with probability weight / Σweights; deterministic for a seed. */
export class TaskSampler {
  private readonly cumulative: number[];
  private count: number;

  constructor(
    readonly weights: readonly number[],
    readonly seed: number,
    draws = 0,
  ) {
    if (weights.length === 0 || weights.some((w) => !(w > 0 && Number.isFinite(w)))) {
      throw new FinetuneDataError(`task weights must be positive numbers, got [${weights.join(', ')}]`);
    }
    const total = weights.reduce((a, b) => a + b, 0);
    let acc = 0;
    this.cumulative = weights.map((w) => (acc += w / total));
    this.count = draws;
  }

  get draws(): number {
    return this.count;
  }

  next(): number {
    // Salted so that draw k and a batch order's epoch k from the same seed are unrelated.
    const u = seededRng((this.seed ^ 0x5eed7a5c) >>> 0, this.count++).nextFloat();
    const i = this.cumulative.findIndex((c) => u < c);
    return i < 0 ? this.cumulative.length - 1 : i;
  }

  state(): TaskSamplerState {
    return { seed: this.seed, draws: this.count };
  }

  static resume(s: TaskSamplerState, weights: readonly number[]): TaskSampler {
    return new TaskSampler(weights, s.seed, s.draws);
  }
}
