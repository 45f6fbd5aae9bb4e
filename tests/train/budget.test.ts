// The time-budget planner with a clock the test controls: the first plan after 10 measured steps,
// evaluations counted into it, re-plans, the early end, and no planning without a budget.
import { describe, expect, it } from 'vitest';
import { TimeBudget } from '../../train/budget.ts';

/** A budget that has seen `n` steps of `sec` seconds each. */
function measured(maxMinutes: number, evalEvery: number, steps: number, sec: number, n = 10): TimeBudget {
  const b = new TimeBudget({ maxMinutes, evalEvery, steps });
  for (let i = 0; i < n; i++) b.observeStep(sec);
  return b;
}

describe('TimeBudget', () => {
  it('does nothing without a budget', () => {
    const b = measured(0, 10, 100, 1);
    expect(b.enabled).toBe(false);
    expect(b.afterStep(10, 10, 1e6, 100)).toEqual({ totalSteps: 100, notes: [] });
    expect(b.afterEval(10, 1e6, 100, 50)).toEqual({ totalSteps: 100, notes: [] });
    expect(b.left(1e6)).toBe(Infinity);
  });

  it('plans once 10 steps are measured: the steps that fit, less a margin', () => {
    const b = measured(1, 0, 10_000, 0.5);
    // 60 s budget, 5 s margin, 10 s elapsed: 45 s left, one final evaluation of 0 s: 90 more steps.
    expect(b.afterStep(9, 9, 10, 10_000).notes).toEqual([]);
    const p = b.afterStep(10, 10, 10, 10_000);
    expect(p.totalSteps).toBe(100);
    expect(p.notes).toEqual(['time budget 1 min: 500 ms/step, 0.0 s per evaluation → 100 steps']);
  });

  it('counts the evaluations the planned steps bring', () => {
    const b = measured(1, 10, 10_000, 0.5);
    b.evalCostSec = 1;
    // 45 s left: with an evaluation every 10 steps at 1 s each, n steps cost 0.5n + (n/10 + 1).
    const total = b.plan(0, 10);
    expect(total).toBe(74);
    const cost = (n: number): number => 0.5 * n + Math.floor(n / 10) + 1;
    expect(cost(total)).toBeLessThanOrEqual(45);
    expect(cost(total + 1)).toBeGreaterThan(45);
  });

  it('never plans beyond the configured steps, nor before the current step', () => {
    const b = measured(60, 0, 50, 0.01);
    expect(b.plan(10, 0)).toBe(50);
    expect(b.plan(70, 0)).toBe(70);
    expect(b.plan(10, 3600)).toBe(10);
  });

  it('ends the schedule when the budget runs out, and re-plans after an evaluation', () => {
    const b = measured(1, 0, 10_000, 0.5);
    b.afterStep(10, 10, 10, 10_000);
    const end = b.afterStep(20, 21, 56, 100);
    expect(end.totalSteps).toBe(20);
    expect(end.notes).toContain('time budget reached at step 20: finishing now');
    const re = b.afterEval(30, 20, 100, 2);
    expect(b.evalCostSec).toBe(2);
    expect(re.totalSteps).toBe(b.plan(30, 20));
    expect(re.notes[0]).toMatch(/^time budget: re-planned to \d+ steps \(2\.0 s per evaluation\)$/);
  });

  it('uses the median of the last 20 step times', () => {
    const b = new TimeBudget({ maxMinutes: 1, evalEvery: 0, steps: 100 });
    for (const s of [9, 9, 9, 9, 9]) b.observeStep(s);
    for (let i = 0; i < 20; i++) b.observeStep(i % 2 ? 1 : 2);
    expect(b.stepSec).toBe(2);
  });
});
