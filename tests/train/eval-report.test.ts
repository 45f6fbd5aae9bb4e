// The host-only parts of `eval` (no GPU): choosing the task from a checkpoint's records, paired
// differences, the tables, the SVG pictures, the blind sheet and its key, and the report folder
// written atomically.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { classificationReport } from '../../train/eval/classification.ts';
import { confusionMatrixSvg, perClassBarsSvg } from '../../train/eval/svg.ts';
import type { ClassExample, ClassifyResult } from '../../train/eval-task/classify.ts';
import { pairedDiffs, type EvalRun } from '../../train/eval-task/compare.ts';
import { checkSupports, chooseTask, type RecordedTask } from '../../train/eval-task/recorded.ts';
import { blindSheet, reportMarkdown, runJson, writeReport } from '../../train/eval-task/report.ts';
import type { GenExample, SftResult } from '../../train/eval-task/sft.ts';
import { formatTable, markdownTable } from '../../train/eval-task/table.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-eval-report-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const none: RecordedTask = { task: null, labels: null, prompt: null, target: null, textField: null, labelField: null };

function classifier(truth: string[], pred: string[]): ClassifyResult {
  const perExample: ClassExample[] = truth.map((t, i) => ({
    line: i + 1,
    input: `text ${i}`,
    reference: t,
    prediction: pred[i]!,
    confidence: 0.5 + i / 100,
    pTrue: t === pred[i] ? 0.9 : 0.1,
    correct: t === pred[i],
  }));
  const report = classificationReport(truth, pred, { labels: ['a', 'b', 'c'] });
  return { task: 'classify', examples: truth.length, loss: 1, report, truncated: 0, perExample };
}

function generator(preds: string[]): SftResult {
  const perExample: GenExample[] = preds.map((p, i) => ({
    line: i + 1,
    input: `prompt ${i}`,
    reference: 'ref',
    prediction: p,
    scores: { bleu: 0, rouge1: 0, rouge2: 0, rougeL: p === 'ref' ? 1 : 0, exactMatch: p === 'ref' ? 1 : 0, f1: 0 },
  }));
  const throughput = { examples: preds.length, newTokens: 10, seconds: 1, examplesPerSec: 3, tokensPerSec: 10 };
  const bleuDetail = { bp: 1, ratio: 1, precisions: [0, 0, 0, 0], sysLen: 1, refLen: 1 };
  return {
    task: 'sft',
    examples: preds.length,
    bleu: 0,
    bleuDetail,
    rouge1: 0,
    rouge2: 0,
    rougeL: 0,
    rougeLsum: 0,
    exactMatch: 0,
    f1: 0,
    targetLoss: null,
    targetPerplexity: null,
    emptyPredictions: 0,
    truncatedPrompts: 0,
    throughput,
    perExample,
  };
}

function runOf(task: EvalRun['task'], results: (ClassifyResult | SftResult)[]): EvalRun {
  const checkpoints = results.map((result, i) => ({ checkpoint: `/runs/m${i + 1}`, step: i, result }));
  return {
    task,
    input: 'x.jsonl',
    data: ['x.jsonl: 4 of 5 records used'],
    skipped: 1,
    checkpoints,
    paired: pairedDiffs(results),
  };
}

describe('task choice', () => {
  it('--task wins; a .jsonl input takes the recorded sft/classify task; other inputs are lm', () => {
    expect(chooseTask('classify', 'a.txt', none, 'c')).toBe('classify');
    expect(chooseTask(null, 'a.txt', { ...none, task: 'sft' }, 'c')).toBe('lm');
    expect(chooseTask(null, 'a.JSONL', { ...none, task: 'classify' }, 'c')).toBe('classify');
    expect(() => chooseTask(null, 'a.jsonl', { ...none, task: 'multi' }, 'c')).toThrow(
      /pass --task sft or --task classify/,
    );
    expect(() => chooseTask('nsp', 'a.jsonl', none, 'c')).toThrow(/--task must be one of lm, sft, classify/);
    expect(() => checkSupports('classify', { ...none, task: 'sft' }, 'ck')).toThrow(/ck is a sft checkpoint/);
    expect(() => checkSupports('sft', none, 'ck')).not.toThrow();
  });
});

describe('paired differences', () => {
  it('classifiers: discordant pairs and the mean difference of correctness', () => {
    const truth = ['a', 'b', 'c', 'a'];
    const p = pairedDiffs([classifier(truth, ['a', 'b', 'a', 'b']), classifier(truth, ['a', 'a', 'c', 'a'])])[0]!;
    expect(p.firstRightOtherWrong).toBe(1);
    expect(p.otherRightFirstWrong).toBe(2);
    expect(p.metrics.correct).toEqual({ meanDiff: 0.25, better: 2, worse: 1, same: 1 });
  });

  it('generation: per-example score differences', () => {
    const p = pairedDiffs([generator(['ref', 'x', 'y']), generator(['x', 'ref', 'ref'])])[0]!;
    expect(p.metrics.rougeL).toEqual({ meanDiff: 1 / 3, better: 2, worse: 1, same: 0 });
    expect(p.metrics.bleu!.same).toBe(3);
  });
});

describe('tables and pictures', () => {
  it('aligns terminal columns and escapes Markdown cells', () => {
    expect(
      formatTable([
        ['m', 'x'],
        ['long name', '1.5'],
      ]),
    ).toBe('m            x\nlong name  1.5');
    expect(markdownTable([['a'], ['x | y\nz']])).toBe('| a |\n| --- |\n| x \\| y⏎z |');
  });

  it('the confusion matrix SVG has one cell per pair with its count, labels escaped', () => {
    const svg = confusionMatrixSvg(
      ['<a>', 'b'],
      [
        [3, 1],
        [0, 4],
      ],
    );
    expect(svg.match(/<rect x=/g)).toHaveLength(4);
    for (const n of [3, 1, 0, 4]) expect(svg).toMatch(new RegExp(`>${n}</text>`));
    expect(svg).toContain('&lt;a&gt;');
    expect(svg).not.toContain('<a>');
  });

  it('the bar chart has three bars per class, scaled to 0..1', () => {
    const svg = perClassBarsSvg([
      { label: 'a', precision: 1, recall: 0.5, f1: 0 },
      { label: 'b', precision: 0.25, recall: 0, f1: 2 / 3 },
    ]);
    const heights = [...svg.matchAll(/<rect x="[\d.]+" y="[\d.]+" width="14" height="([\d.]+)"/g)].map((m) =>
      Number(m[1]),
    );
    expect(heights).toEqual([200, 100, 0, 50, 0, 200 * (2 / 3)]);
  });
});

describe('report', () => {
  it('the blind sheet shuffles per example with the seed, and the key maps outputs back', () => {
    const run = runOf('sft', [
      generator(['A0', 'A1', 'A2', 'A3', 'A4', 'A5']),
      generator(['B0', 'B1', 'B2', 'B3', 'B4', 'B5']),
    ]);
    const a = blindSheet(run, 7);
    expect(blindSheet(run, 7)).toEqual(a);
    const order = (a.key.order as { outputs: number[] }[]).map((o) => o.outputs);
    // Both orders occur in six examples for this seed (a fixed order would not be blind).
    expect(new Set(order.map((o) => o.join()))).toEqual(new Set(['1,2', '2,1']));
    order.forEach((o, i) => {
      const ex = a.sheet.split('## Example ')[i + 1]!;
      const first = ex.indexOf('**Output 1:**');
      const second = ex.indexOf('**Output 2:**');
      const name = (k: number) => `${k === 1 ? 'A' : 'B'}${i}`;
      expect(ex.slice(first, second)).toContain(name(o[0]!));
      expect(ex.slice(second)).toContain(name(o[1]!));
    });
    expect(a.sheet).not.toContain('/runs/m1');
    // report.md puts the outputs that differ most side by side.
    const md = reportMarkdown(run);
    expect(md).toContain('### [2] vs [1]: the largest differences');
    expect(md).toMatch(/\| 1 \| prompt 0 \| ref \| A0 \| B0 \| 0\.000 \|/);
  });

  it('report.md has the tables, pictures and errors; --json keeps one checkpoint at the top level', () => {
    const run = runOf('classify', [classifier(['a', 'b', 'c', 'a'], ['a', 'b', 'a', 'c'])]);
    const md = reportMarkdown(run);
    expect(md).toContain('![confusion matrix of [1]](confusion-1.svg)');
    expect(md).toContain('| accuracy | 0.5000 |');
    expect(md).toContain('most confident errors (2 errors in all)');
    expect(md).toContain('records skipped: 1');
    const j = runJson(run);
    expect(j.checkpoint).toBe('/runs/m1');
    expect(j).not.toHaveProperty('perExample');
    expect((j.report as { accuracy: number }).accuracy).toBe(0.5);
  });

  it('is written atomically: replaced as a whole, never over a folder that is not a report', () => {
    const out = join(dir, 'r');
    const run = runOf('classify', [classifier(['a', 'b'], ['a', 'a'])]);
    expect(writeReport(out, run, 0).sort()).toEqual([
      'confusion-1.svg',
      'per-class-1.svg',
      'predictions.jsonl',
      'report.md',
    ]);
    writeFileSync(join(out, 'stale.txt'), 'old');
    writeReport(out, run, 0);
    expect(existsSync(join(out, 'stale.txt'))).toBe(false);
    expect(readFileSync(join(out, 'predictions.jsonl'), 'utf8').trim().split('\n')).toHaveLength(2);
    // No temporary folders are left beside it.
    expect(readdirSync(dir)).toEqual(['r']);
    const other = join(dir, 'other');
    mkdirSync(other);
    writeFileSync(join(other, 'x'), '');
    expect(() => writeReport(other, run, 0)).toThrow(/not hold an earlier eval report/);
  });
});
