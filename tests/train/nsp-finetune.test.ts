// Next-sentence prediction end to end: `prepare --task nsp` on Moby-Dick's first chapters, then
// `finetune --task classify` on its train/val/test files with a tiny model from scratch: the pairs
// are read as pairs, trained a few steps, and the test split reports accuracy and F1 on both labels;
// the classify command then reads the same pairs.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { classifyMain } from '../../train/cli/classify.ts';
import { prepareMain } from '../../train/cli/prepare.ts';
import { FINETUNE_SCHEMA } from '../../train/cli/finetune.ts';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { finetune, type FinetuneConfig } from '../../train/finetune/run.ts';
import { tinyConfig, tinyData } from './fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-nsp-'));
const nsp = join(dir, 'nsp');
let data = '';

/** stdout of `fn`, swallowed. */
async function printed(fn: () => Promise<unknown>): Promise<string> {
  let out = '';
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out += String(chunk);
    return true;
  });
  try {
    await fn();
  } finally {
    write.mockRestore();
  }
  return out;
}

beforeAll(async () => {
  data = await tinyData();
  const book = readFileSync(defaultCorpusPath(), 'utf8');
  const input = join(dir, 'chapters.txt');
  mkdirSync(dir, { recursive: true });
  writeFileSync(input, book.slice(0, book.indexOf('CHAPTER 13.'))); // 12 chapters
  await printed(() => prepareMain(['--task', 'nsp', input, '--out', nsp, '--valFraction', '0.1', '--quiet']));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await destroyRuntime();
});

describe('finetune --task classify on prepare --task nsp', () => {
  it('trains on the pairs and reports the test accuracy and F1 of next vs random', async () => {
    const d = Object.fromEntries(Object.entries(FINETUNE_SCHEMA).map(([k, s]) => [k, s.default]));
    const tiny = tinyConfig(data, '', { steps: 4, evalEvery: 2, lr: 1e-3, warmupSteps: 1, sampleTokens: 0 });
    const cfg = {
      ...(d as unknown as FinetuneConfig),
      ...tiny,
      blockSize: 32,
      from: 'scratch',
      tokenizer: data,
      task: 'classify',
      data: join(nsp, 'train.jsonl'),
      val: join(nsp, 'val.jsonl'),
      test: join(nsp, 'test.jsonl'),
      out: join(dir, 'run'),
    } as FinetuneConfig;
    const s = await finetune(cfg, { log: () => {} });
    expect(s.status).toBe('finished');
    expect(s.model.nClasses).toBe(2);
    const acc = s.test!.metrics.accuracy!;
    expect(acc).toBeGreaterThanOrEqual(0);
    expect(acc).toBeLessThanOrEqual(1);
    expect(Number.isFinite(s.test!.metrics.macroF1!)).toBe(true);
    const report = s.test!.report as { samples: number; confusion: number[][] };
    const testPairs = readFileSync(join(nsp, 'test.jsonl'), 'utf8').trim().split('\n').length;
    expect(report.samples).toBe(testPairs);
    // Both classes occur in the test split: exactly half of its pairs are next.
    expect(report.confusion.map((row) => row.reduce((a, b) => a + b, 0))).toEqual([
      Math.floor(testPairs / 2),
      Math.ceil(testPairs / 2),
    ]);
    // Pairs longer than the 32-token context were cut to fit, and counted.
    expect(String(s.dataReport)).toMatch(/truncated to fit/);

    const out = await printed(() =>
      classifyMain(['--checkpoint', join(dir, 'run'), '--input', join(nsp, 'test.jsonl')]),
    );
    expect(out).toMatch(new RegExp(`accuracy [01]\\.\\d{4} \\(\\d+/${testPairs}\\)\n$`));
  });
});
