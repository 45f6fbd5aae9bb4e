// The training loop end to end with a tiny model: run outputs, exact resume, non-finite steps.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { readCheckpoint, listCheckpoints } from '../../model/checkpoint.ts';
import { CliError } from '../../train/cli-error.ts';
import { readMetrics } from '../../train/metrics.ts';
import { pretrain, type PretrainOptions, type RunSummary } from '../../train/pretrain.ts';
import { tinyConfig, tinyData } from './fixture.ts';

const runs = mkdtempSync(join(tmpdir(), 'wgpt-runs-'));
let data = '';
const quiet = { log: () => {} };

/** Fault injection: the gradient of these steps (1-based) is poisoned with NaN after the backward passes. */
function nanGradientAt(...steps: number[]): PretrainOptions {
  return {
    afterBackward: (step, model) => {
      if (steps.includes(step))
        model.params.rt.write(model.params.grad.buffer, 0, new Float32Array([NaN, NaN, NaN, NaN]));
    },
  };
}

beforeAll(async () => {
  data = await tinyData();
});
afterAll(async () => {
  rmSync(runs, { recursive: true, force: true });
  await destroyRuntime();
});

describe('pretrain', () => {
  let straight: RunSummary;

  it('writes config.json, metrics.jsonl, loss.svg, samples, checkpoints and summary.json', async () => {
    const out = join(runs, 'straight');
    straight = await pretrain(tinyConfig(data, out), quiet);
    expect(straight.status).toBe('finished');
    expect(straight.steps).toBe(6);
    const m = readMetrics(join(out, 'metrics.jsonl'));
    expect(m.map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const x of m) {
      expect(Number.isFinite(x.loss)).toBe(true);
      expect(Number.isFinite(x.gradNorm)).toBe(true);
      expect(x.lr).toBeGreaterThan(0);
      expect(x.tokensPerSec).toBeGreaterThan(0);
    }
    expect(m.filter((x) => x.valLoss !== undefined).map((x) => x.step)).toEqual([3, 6]);
    // The first step's loss is close to ln(V) for a fresh model.
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(m[0]!.loss!).toBeGreaterThan(Math.log(cfg.model.vocabSize) - 0.5);
    expect(cfg.train.lr).toBe(3e-3);
    expect(cfg.derived.tokensPerStep).toBe(64);
    const svg = readFileSync(join(out, 'loss.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('val loss');
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    for (const k of ['finalValLoss', 'unigramLoss', 'tokensPerSec', 'steps', 'elapsedSec', 'adapter'])
      expect(summary[k]).toBeDefined();
    expect(summary.finalValLoss).toBe(m[5]!.valLoss);
    expect(summary.unigramLoss).toBeGreaterThan(2);
    expect(existsSync(join(out, 'tokenizer.json'))).toBe(true);
    expect(readFileSync(join(out, 'samples.txt'), 'utf8')).toContain('--- step 6');
    expect(listCheckpoints(join(out, 'checkpoints')).map((c) => c.step)).toEqual([6, 3]);
  });

  it('resume after a stop continues bit-for-bit like the uninterrupted run', async () => {
    const out = join(runs, 'resumed');
    const first = await pretrain(tinyConfig(data, out), { ...quiet, stopAfterSteps: 3 });
    expect(first.status).toBe('stopped');
    expect(first.steps).toBe(3);
    expect(existsSync(join(out, 'summary.json'))).toBe(false);
    const second = await pretrain(tinyConfig(data, out, { resume: out, data: null, out: null }), {
      ...quiet,
      sources: { resume: 'cli' },
    });
    expect(second.status).toBe('finished');
    const a = readMetrics(join(runs, 'straight', 'metrics.jsonl'));
    const b = readMetrics(join(out, 'metrics.jsonl'));
    expect(b.map((x) => x.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b.map((x) => x.loss)).toEqual(a.map((x) => x.loss));
    expect(b.map((x) => x.gradNorm)).toEqual(a.map((x) => x.gradNorm));
    expect(b.map((x) => x.lr)).toEqual(a.map((x) => x.lr));
    expect(second.finalValLoss).toBe(straight.finalValLoss);
    const pa = readCheckpoint(join(runs, 'straight', 'checkpoints', 'ckpt-00000006')).params;
    const pb = readCheckpoint(join(out, 'checkpoints', 'ckpt-00000006')).params;
    expect(
      Buffer.compare(
        Buffer.from(pa.buffer, pa.byteOffset, pa.byteLength),
        Buffer.from(pb.buffer, pb.byteOffset, pb.byteLength),
      ),
    ).toBe(0);
  });

  it('refuses to overwrite a run, and to change the trajectory on resume', async () => {
    const out = join(runs, 'straight');
    await expect(pretrain(tinyConfig(data, out), quiet)).rejects.toThrow(/already holds a run.*--resume/);
    await expect(
      pretrain(tinyConfig(data, out, { resume: out, batchSize: 8 }), {
        ...quiet,
        sources: { resume: 'cli', batchSize: 'cli' },
      }),
    ).rejects.toThrow(/--batchSize cannot change/); // --lr may (resume-edges.test.ts)
    await expect(pretrain(tinyConfig(join(runs, 'nope'), join(runs, 'x')), quiet)).rejects.toThrow(CliError);
  });

  it('skips a step with a non-finite gradient without updating, and counts it', async () => {
    const out = join(runs, 'nan-once');
    const s = await pretrain(tinyConfig(data, out, { evalEvery: 0 }), { ...quiet, ...nanGradientAt(2) });
    expect(s.status).toBe('finished');
    expect(s.skippedSteps).toBe(1);
    const m = readMetrics(join(out, 'metrics.jsonl'));
    expect(m[1]!.skipped).toBe(true);
    expect(m[1]!.gradNorm).toBeNull();
    expect(m.filter((x) => x.skipped).length).toBe(1);
    // The optimizer took one update fewer than there were steps.
    const ck = readCheckpoint(listCheckpoints(join(out, 'checkpoints'))[0]!.path);
    expect(ck.meta.step).toBe(6);
    expect(ck.optimizer!.step).toBe(5);
  });

  it('a skipped step leaves the weights exactly as they were', async () => {
    // Steps 2..3 poisoned, stop after 3: the checkpoint at 3 holds the weights after step 1.
    const outA = join(runs, 'nan-a');
    await pretrain(tinyConfig(data, outA, { evalEvery: 0 }), { ...quiet, ...nanGradientAt(2, 3), stopAfterSteps: 3 });
    const outB = join(runs, 'nan-b');
    await pretrain(tinyConfig(data, outB, { evalEvery: 0 }), { ...quiet, stopAfterSteps: 1 });
    const pa = readCheckpoint(join(outA, 'checkpoints', 'ckpt-00000003'));
    const pb = readCheckpoint(join(outB, 'checkpoints', 'ckpt-00000001'));
    expect(Buffer.compare(Buffer.from(pa.params.buffer), Buffer.from(pb.params.buffer))).toBe(0);
    expect(Buffer.compare(Buffer.from(pa.optimizer!.m.buffer), Buffer.from(pb.optimizer!.m.buffer))).toBe(0);
  });

  it('stops with a clear message after repeated non-finite steps; the last good checkpoint stays', async () => {
    const out = join(runs, 'nan-many');
    const err = await pretrain(tinyConfig(data, out, { maxBadSteps: 3, evalEvery: 2, steps: 8 }), {
      ...quiet,
      ...nanGradientAt(3, 4, 5),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(/3 steps in a row had a non-finite loss or gradient norm \(at step 5\)/);
    expect((err as Error).message).toContain('ckpt-00000002');
    const ck = listCheckpoints(join(out, 'checkpoints'));
    expect(ck.map((c) => c.step)).toEqual([2]);
    expect(() => readCheckpoint(ck[0]!.path)).not.toThrow();
    expect(readdirSync(out)).not.toContain('summary.json');
  });

  it('gradient accumulation: tokensPerStep sets the micro-batches', async () => {
    const out = join(runs, 'accum');
    const s = await pretrain(
      tinyConfig(data, out, { tokensPerStep: 192, steps: 2, evalEvery: 0, sampleTokens: 0 }),
      quiet,
    );
    expect(s.tokensSeen).toBe(2 * 192);
    const cfg = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(cfg.derived.accumSteps).toBe(3);
  });
});
