// The time budget (`--maxMinutes`): after a few measured steps, the schedule's length is set so
// that the run — its steps, the evaluations they bring and a margin — ends in time; it is
// re-planned at every evaluation with the measured costs, and every 20 steps when the speed of a
// shared machine moved by more than 3%. Pure: the caller passes the clock in, so it is testable.

export interface BudgetOptions {
  /** The budget, minutes; <= 0 turns the planner off. */
  maxMinutes: number;
  /** Evaluation period in steps (0 = only at the end). */
  evalEvery: number;
  /** The configured step count: the plan never goes beyond it. */
  steps: number;
}

/** A change of the schedule's length, with the line that tells the user (if any). */
export interface Replan {
  totalSteps: number;
  notes: string[];
}

/** Margin kept free at the end of the budget, s. */
const MARGIN_SEC = 5;

export class TimeBudget {
  readonly enabled: boolean;
  readonly budgetSec: number;
  /** Seconds one evaluation takes (validation, sample, checkpoint), measured. */
  evalCostSec = 0;
  private planned: boolean;
  /** The last 20 measured step times, s. */
  private readonly recent: number[] = [];

  constructor(private readonly o: BudgetOptions) {
    this.enabled = o.maxMinutes > 0;
    this.budgetSec = o.maxMinutes * 60;
    this.planned = !this.enabled;
  }

  /** A measured step time, s (leave out the first steps of a session: they compile pipelines). */
  observeStep(sec: number): void {
    this.recent.push(sec);
    if (this.recent.length > 20) this.recent.shift();
  }

  /** Median of the recent step times, s. */
  get stepSec(): number {
    return median(this.recent);
  }

  /** The most steps that fit the time budget after `step`, `elapsed` s into the run. */
  plan(step: number, elapsed: number, sps = this.stepSec): number {
    const { evalEvery, steps } = this.o;
    const left = this.budgetSec - elapsed - MARGIN_SEC;
    let total = step + Math.max(0, Math.floor(left / sps));
    for (let i = 0; i < 4; i++) {
      const evals = (evalEvery > 0 ? Math.floor(total / evalEvery) - Math.floor(step / evalEvery) : 0) + 1;
      total = step + Math.max(0, Math.floor((left - evals * this.evalCostSec) / sps));
    }
    return Math.max(step, Math.min(total, Math.max(steps, step)));
  }

  /** After step `step`, the `sessionSteps`-th of this session: the plan, a re-plan, or the end. */
  afterStep(step: number, sessionSteps: number, elapsed: number, totalSteps: number): Replan {
    const notes: string[] = [];
    if (!this.enabled) return { totalSteps, notes };
    if (!this.planned && sessionSteps >= 10) {
      this.planned = true;
      const sps = this.stepSec;
      totalSteps = this.plan(step, elapsed, sps);
      notes.push(
        `time budget ${this.o.maxMinutes} min: ${(sps * 1000).toFixed(0)} ms/step, ${this.evalCostSec.toFixed(1)} s per evaluation → ${totalSteps} steps`,
      );
    } else if (this.planned && sessionSteps % 20 === 0 && step < totalSteps) {
      const total = this.plan(step, elapsed);
      if (Math.abs(total - totalSteps) > 0.03 * totalSteps) totalSteps = total;
    }
    if (this.planned && elapsed + this.evalCostSec + MARGIN_SEC > this.budgetSec && step < totalSteps) {
      notes.push(`time budget reached at step ${step}: finishing now`);
      totalSteps = step;
    }
    return { totalSteps, notes };
  }

  /** After an evaluation that took `evalSec`: re-plans with the measured costs. */
  afterEval(step: number, elapsed: number, totalSteps: number, evalSec: number): Replan {
    this.evalCostSec = evalSec;
    if (!this.enabled || !this.planned || step >= totalSteps) return { totalSteps, notes: [] };
    const total = this.plan(step, elapsed);
    if (total === totalSteps) return { totalSteps, notes: [] };
    return {
      totalSteps: total,
      notes: [`time budget: re-planned to ${total} steps (${evalSec.toFixed(1)} s per evaluation)`],
    };
  }

  /** Seconds left in the budget (Infinity without one): caps the ETA. */
  left(elapsed: number): number {
    return this.enabled ? Math.max(0, this.budgetSec - elapsed) : Infinity;
  }
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
