// Multi-task fine-tuning's objective: one shared model, several tasks' objectives (lm, sft,
// classify). Each micro-batch comes from a task drawn by weight (TaskSampler: seeded, its state one
// counter), so an optimizer step's micro-batches mix tasks in proportion. Evaluation runs every
// task's evaluation: the validation loss is their weight-averaged loss, and each task's loss and
// metrics appear as `<name>.valLoss`, `<name>.<metric>`.
import type { GPT } from '../../model/gpt.ts';
import type { MicroLoss } from '../../model/train-step.ts';
import type { Evaluation, Objective } from '../objectives/objective.ts';
import { TaskSampler, type TaskSamplerState } from './mixture.ts';

export interface MixedTask {
  name: string;
  weight: number;
  objective: Objective<unknown>;
}

/** A micro-batch of one task. */
export interface MixedBatch {
  task: number;
  mb: unknown;
}

export class MultiObjective implements Objective<MixedBatch> {
  readonly loss: MicroLoss<MixedBatch>;
  readonly baseline = null;
  private sampler: TaskSampler;

  constructor(
    private readonly tasks: readonly MixedTask[],
    seed: number,
  ) {
    this.sampler = new TaskSampler(
      tasks.map((t) => t.weight),
      seed,
    );
    this.loss = (model, b, dropoutSeed) => this.tasks[b.task]!.objective.loss(model, b.mb, dropoutSeed);
  }

  next(): MixedBatch {
    const task = this.sampler.next();
    return { task, mb: this.tasks[task]!.objective.next() };
  }

  tokens(b: MixedBatch): number {
    return this.tasks[b.task]!.objective.tokens(b.mb);
  }

  async evaluate(model: GPT, step: number): Promise<Evaluation> {
    const metrics: Record<string, number> = {};
    let loss = 0;
    let weights = 0;
    let sample: string | null = null;
    for (const t of this.tasks) {
      const ev = await t.objective.evaluate(model, step);
      metrics[`${t.name}.valLoss`] = ev.valLoss;
      for (const [k, v] of Object.entries(ev.metrics ?? {})) metrics[`${t.name}.${k}`] = v;
      loss += t.weight * ev.valLoss;
      weights += t.weight;
      sample ??= ev.sample;
    }
    return { valLoss: loss / weights, sample, metrics };
  }

  async probeEvalSec(model: GPT): Promise<number> {
    let sec = 0;
    for (const t of this.tasks) sec += await t.objective.probeEvalSec(model);
    return sec;
  }

  dataState(): Record<string, unknown> {
    return { sampler: this.sampler.state(), tasks: this.tasks.map((t) => t.objective.dataState()) };
  }

  restoreDataState(s: Record<string, unknown>): void {
    this.sampler = TaskSampler.resume(
      s.sampler as TaskSamplerState,
      this.tasks.map((t) => t.weight),
    );
    const states = s.tasks as Record<string, unknown>[];
    this.tasks.forEach((t, i) => t.objective.restoreDataState(states[i]!));
  }
}
