// The learning-rate schedule: linear warmup, then cosine decay to a floor.
//
//   step < warmup:          lr · (step + 1) / warmup
//   warmup <= step < total: minLr + (lr − minLr) · ½ (1 + cos(π · (step − warmup) / (total − warmup)))
//   step >= total:          minLr
// Steps are 0-based: the first update uses lr/warmup, never 0 (an update with lr 0 is wasted).

export interface ScheduleOptions {
  /** Peak learning rate. */
  lr: number;
  /** Floor the cosine decays to. */
  minLr: number;
  /** Steps of linear warmup (0 = start at lr). */
  warmupSteps: number;
  /** Step count at which the decay reaches minLr. */
  totalSteps: number;
}

export function learningRate(step: number, o: ScheduleOptions): number {
  if (!(step >= 0)) throw new RangeError(`learningRate: step must be >= 0, got ${step}`);
  const warmup = Math.max(0, Math.floor(o.warmupSteps));
  if (step < warmup) return (o.lr * (step + 1)) / warmup;
  if (step >= o.totalSteps) return o.minLr;
  const span = o.totalSteps - warmup;
  if (span <= 0) return o.minLr;
  const progress = (step - warmup) / span;
  return o.minLr + (o.lr - o.minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
}

/**
 * Steps that fit in a time budget: `minutes` of wall time, `elapsedSec` already spent, `secPerStep`
 * measured on the last few steps, `reserveSec` kept for evaluation, sampling and checkpoints.
 */
export function stepsForBudget(o: {
  minutes: number;
  elapsedSec: number;
  secPerStep: number;
  stepsDone: number;
  reserveSec: number;
}): number {
  const left = o.minutes * 60 - o.elapsedSec - o.reserveSec;
  return o.stepsDone + Math.max(0, Math.floor(left / o.secPerStep));
}
