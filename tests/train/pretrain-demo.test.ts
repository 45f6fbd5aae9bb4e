// The issue-15 demo's --quick smoke run (a tiny model on a slice of Moby-Dick, two steps per run):
// every stage runs, the table has every row, and results.json holds what was returned.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { FINETUNE_SCHEMA } from '../../train/cli/finetune.ts';
import type { FinetuneConfig } from '../../train/finetune/run.ts';
import { runPretrainDemo } from '../../train/pretrain-demo.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-pretrain-demo-'));
afterAll(async () => {
  await destroyRuntime();
  rmSync(work, { recursive: true, force: true });
});

const finetuneDefaults = Object.fromEntries(
  Object.entries(FINETUNE_SCHEMA).map(([k, s]) => [k, s.default]),
) as unknown as FinetuneConfig;

describe('pretrain-demo --quick', () => {
  it('runs plain and FIM pre-training, infilling and NSP, and writes one table', async () => {
    const lines: string[] = [];
    const r = await runPretrainDemo({ out: work, quick: true, finetuneDefaults, log: (l) => lines.push(l) });
    expect(r.pretrain.plain.steps).toBe(2);
    expect(r.pretrain.fim.steps).toBe(2);
    for (const row of [r.pretrain.plain, r.pretrain.fim]) expect(row.valLoss).toBeGreaterThan(0);
    expect(Object.values(r.infill).map((i) => i.mode)).toEqual(['l2r', 'psm', 'l2r']);
    for (const i of Object.values(r.infill)) {
      expect(i.documents).toBe(3);
      expect(i.exactMatch).toBeGreaterThanOrEqual(0);
      expect(Number.isFinite(i.middleLoss)).toBe(true);
    }
    expect(r.nsp.testPairs).toBeGreaterThan(0);
    for (const s of [r.nsp.fromBase, r.nsp.fromScratch]) {
      expect(s.accuracy).toBeGreaterThanOrEqual(0);
      expect(s.accuracy).toBeLessThanOrEqual(1);
    }
    expect(JSON.parse(readFileSync(join(work, 'results.json'), 'utf8'))).toEqual(JSON.parse(JSON.stringify(r)));
    const md = readFileSync(join(work, 'results.md'), 'utf8');
    expect(md).toMatch(/\| FIM pre-training, infill with prefix \+ suffix \(PSM\) +\| 2 +\|/);
    expect(md).toMatch(/\| chance +\|.*\| 0\.500 +\|/);
    expect(lines.join('\n')).toContain('NSP fine-tuned from scratch');
    expect(existsSync(join(work, 'fim', 'tokenizer.json'))).toBe(true);
  }, 300_000);
});
