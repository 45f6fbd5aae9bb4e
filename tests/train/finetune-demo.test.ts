// The fine-tuning demo (`npm run finetune`) as a --quick smoke run from a tiny pre-trained run: the
// data files (80/20 stratified sentiment split, definitions split by word), every sub-run's folder,
// the one table with every row, results.md and results.json, and the check lines. The bars are
// not asserted (a smoke run's numbers mean nothing); the choice of the base run is tested alone.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { CliError } from '../../train/cli-error.ts';
import { chooseBase, finetuneDemoMain, SHORT_BASE_NAME } from '../../train/cli/finetune-demo.ts';
import type { DemoResults } from '../../train/finetune/demo-report.ts';
import { pretrain } from '../../train/pretrain.ts';
import { cli } from './cli-process.ts';
import { tinyConfig, tinyData } from './fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-finetune-demo-'));
let base = '';

beforeAll(async () => {
  base = join(dir, 'base');
  await pretrain(tinyConfig(await tinyData(), base), { log: () => {} });
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await destroyRuntime();
});

function jsonl(path: string): Record<string, string>[] {
  return readFileSync(path, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, string>);
}

/** Runs the command in-process; returns its exit status and what it printed on stdout. */
async function runDemoCommand(argv: string[]): Promise<{ rc: number; out: string }> {
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out += String(s);
    return true;
  });
  try {
    return { rc: await finetuneDemoMain(argv), out };
  } finally {
    spy.mockRestore();
  }
}

describe('finetune-demo --quick', () => {
  it('writes the data, runs every stage into its folder and prints and writes one table', async () => {
    const out = join(dir, 'demo');
    const { rc, out: stdout } = await runDemoCommand(['--base', base, '--out', out, '--quick']);
    expect(rc).toBe(0);
    for (let n = 1; n <= 6; n++) expect(stdout).toContain(`[${n}/6] `);

    // Sentiment: 3,000 sentences split 80/20, each label kept in proportion.
    const train = jsonl(join(out, 'data', 'sentiment-train.jsonl'));
    const test = jsonl(join(out, 'data', 'sentiment-test.jsonl'));
    expect([train.length, test.length]).toEqual([2400, 600]);
    expect(test.filter((r) => r.label === 'positive').length).toBe(300);
    // Definitions: the held-out words never occur in training.
    const seen = new Set(jsonl(join(out, 'data', 'definitions-train.jsonl')).map((r) => r.word));
    const heldOut = jsonl(join(out, 'data', 'definitions-test.jsonl'));
    expect(heldOut.length).toBeGreaterThan(0);
    expect(heldOut.filter((r) => seen.has(r.word!))).toEqual([]);
    // Domain adaptation reads the training sentences only: no test sentence, even unlabelled.
    const reviews = readFileSync(join(out, 'data', 'reviews.txt'), 'utf8')
      .trim()
      .split('\n\n');
    expect(reviews.length).toBe(2400);
    const testTexts = new Set(test.map((r) => r.text));
    expect(reviews.filter((t) => testTexts.has(t) && !train.some((r) => r.text === t))).toEqual([]);

    for (const sub of ['reviews', 'sentiment-base', 'reviews-scratch', 'sentiment-scratch', 'definitions'])
      expect(existsSync(join(out, sub, 'summary.json')), sub).toBe(true);
    const summary = (sub: string) => JSON.parse(readFileSync(join(out, sub, 'summary.json'), 'utf8'));
    // ULMFiT's chain: each classifier starts from its own review-LM run, one from the base, one from scratch.
    expect(summary('reviews-scratch').origin.from).toBe('scratch');
    expect(summary('sentiment-base').origin.from.path).toContain(join(out, 'reviews', 'checkpoints'));
    expect(summary('sentiment-scratch').origin.from.path).toContain(join(out, 'reviews-scratch', 'checkpoints'));
    expect(summary('sentiment-scratch').model).toEqual(summary('sentiment-base').model);

    const r = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as DemoResults;
    expect(r.quick).toBe(true);
    expect(r.base.dir).toBe(base);
    expect(r.sentiment.testSentences).toBe(600);
    // The naive Bayes baseline on this split is the documented 0.82 (tests/finetune/baselines.test.ts).
    expect(r.sentiment.naiveBayes.accuracy).toBeCloseTo(0.8217, 3);
    expect(r.sentiment.majority.accuracy).toBeCloseTo(0.5, 6);
    for (const x of [r.sentiment.fromBase.accuracy, r.sentiment.fromScratch.macroF1, r.definitions.rougeL.after])
      expect(x).toBeGreaterThanOrEqual(0);
    expect(Number.isFinite(r.reviews.reviewLoss.before!)).toBe(true);
    expect(Number.isFinite(r.reviews.mobyDickLoss.after!)).toBe(true);
    expect(r.checks.map((c) => c.bar)).toEqual([0.75, 0.75, 0.05, 0.3]);

    const md = readFileSync(join(out, 'results.md'), 'utf8');
    for (const text of [stdout, md]) {
      for (const row of [
        'pre-trained base → review LM → classify',
        'from random weights',
        'naive Bayes',
        'majority class',
        'ROUGE-L',
      ])
        expect(text).toContain(row);
      expect(text).toContain('review val loss before → after');
      expect(text).toContain('Moby-Dick val loss before → after');
      expect(text.match(/check: .*: (PASS|FAIL)/g)).toHaveLength(4);
    }
  });

  it('is a command of the CLI', () => {
    const r = cli('finetune-demo', '--help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('npm run finetune');
  });
});

describe('the base the demo starts from', () => {
  const never = async (): Promise<number> => {
    throw new Error('pre-trained although a finished base exists');
  };

  it('uses a finished run as it is', async () => {
    expect(await chooseBase(base, true, () => {}, never)).toEqual({ dir: base, pretrainedHere: false });
  });

  it('refuses a --base that has not finished', async () => {
    const empty = join(dir, 'not-a-run');
    mkdirSync(empty, { recursive: true });
    await expect(chooseBase(empty, true, () => {}, never)).rejects.toThrow(CliError);
    await expect(chooseBase(empty, true, () => {}, never)).rejects.toThrow(/--base .*not-a-run.*has not finished/);
  });

  it('without a finished default run, pre-trains a shorter one beside it and says so, once', async () => {
    const root = join(dir, 'runs');
    const short = join(root, SHORT_BASE_NAME);
    const made: string[] = [];
    const pretrainShort = async (o: string): Promise<number> => {
      made.push(o);
      mkdirSync(o, { recursive: true });
      writeFileSync(join(o, 'summary.json'), JSON.stringify({ status: 'finished' }));
      return 0;
    };
    const lines: string[] = [];
    const got = await chooseBase(join(root, 'moby-dick'), false, (l) => lines.push(l), pretrainShort);
    expect(got).toEqual({ dir: short, pretrainedHere: true });
    expect(made).toEqual([short]);
    expect(lines.join('\n')).toMatch(/pre-training a SHORTER one first/);
    // A second demo reuses it.
    expect(await chooseBase(join(root, 'moby-dick'), false, () => {}, never)).toEqual({
      dir: short,
      pretrainedHere: true,
    });
  });
});
