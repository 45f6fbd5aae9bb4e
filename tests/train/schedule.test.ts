// The learning-rate schedule, the loss-curve SVG and metrics.jsonl: pure host code.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { learningRate, stepsForBudget } from '../../train/schedule.ts';
import { lossCurveSvg, niceTicks } from '../../train/plot.ts';
import { MetricsLog, readMetrics } from '../../train/metrics.ts';

describe('learningRate', () => {
  const o = { lr: 1e-3, minLr: 1e-4, warmupSteps: 10, totalSteps: 110 };
  it('warms up linearly from lr/warmup', () => {
    expect(learningRate(0, o)).toBeCloseTo(1e-4, 12);
    expect(learningRate(4, o)).toBeCloseTo(5e-4, 12);
    expect(learningRate(9, o)).toBeCloseTo(1e-3, 12);
  });
  it('decays along a cosine to the floor', () => {
    expect(learningRate(10, o)).toBeCloseTo(1e-3, 12);
    expect(learningRate(60, o)).toBeCloseTo(5.5e-4, 12); // halfway: (lr + minLr) / 2
    expect(learningRate(35, o)).toBeCloseTo(1e-4 + 9e-4 * 0.5 * (1 + Math.cos(Math.PI * 0.25)), 12);
    expect(learningRate(110, o)).toBe(1e-4);
    expect(learningRate(500, o)).toBe(1e-4);
    for (let s = 11; s < 110; s++) expect(learningRate(s, o)).toBeLessThan(learningRate(s - 1, o));
  });
  it('no warmup starts at the peak; warmup >= total still ends at the floor', () => {
    expect(learningRate(0, { ...o, warmupSteps: 0 })).toBe(1e-3);
    expect(learningRate(5, { lr: 1, minLr: 0, warmupSteps: 10, totalSteps: 5 })).toBeCloseTo(0.6, 12);
    expect(learningRate(10, { lr: 1, minLr: 0, warmupSteps: 10, totalSteps: 5 })).toBe(0);
  });
  it('budgets steps from measured step time', () => {
    expect(stepsForBudget({ minutes: 1, elapsedSec: 10, secPerStep: 0.5, stepsDone: 20, reserveSec: 10 })).toBe(100);
    expect(stepsForBudget({ minutes: 1, elapsedSec: 70, secPerStep: 0.5, stepsDone: 20, reserveSec: 10 })).toBe(20);
  });
});

describe('loss curve and metrics', () => {
  it('ticks are round', () => {
    expect(niceTicks(0, 10, 5)).toEqual([0, 2, 4, 6, 8, 10]);
    expect(niceTicks(1.3, 2.9, 4)).toEqual([1.5, 2, 2.5]);
  });
  it('draws train, val and the baseline', () => {
    const m = Array.from({ length: 50 }, (_, i) => ({
      step: i,
      loss: 5 - i * 0.05,
      lr: 1e-3,
      gradNorm: 1,
      tokensPerSec: 100,
      ...(i % 10 === 9 ? { valLoss: 5 - i * 0.04 } : {}),
    }));
    const svg = lossCurveSvg(m, { title: 'run <1>', baseline: { value: 4.2, label: 'unigram 4.200' } });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('run &lt;1&gt;');
    expect(svg).toContain('unigram 4.200');
    expect((svg.match(/<circle/g) ?? []).length).toBe(5 + 1); // 5 val points + the legend marker
    expect(svg).not.toContain('NaN');
    expect(lossCurveSvg([])).not.toContain('NaN');
  });
  it('metrics.jsonl: non-finite values become null; resume drops later steps; torn lines are ignored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgpt-metrics-'));
    const path = join(dir, 'metrics.jsonl');
    const log = new MetricsLog(path);
    log.open(0);
    for (let s = 0; s < 5; s++)
      log.append({
        step: s,
        loss: s === 2 ? NaN : 1 / (s + 1),
        lr: 1,
        gradNorm: s === 2 ? Infinity : 1,
        tokensPerSec: 10,
      });
    const m = readMetrics(path);
    expect(m.map((x) => x.step)).toEqual([0, 1, 2, 3, 4]);
    expect(m[2]!.loss).toBeNull();
    expect(m[2]!.gradNorm).toBeNull();
    writeFileSync(path, readFileSync(path, 'utf8') + '{"step": 5, "lo');
    expect(readMetrics(path).length).toBe(5);
    new MetricsLog(path).open(3);
    expect(readMetrics(path).map((x) => x.step)).toEqual([0, 1, 2]);
  });
});
