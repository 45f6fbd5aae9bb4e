// `eval --task lm|sft|classify` on tiny checkpoints written directly (random weights, a char
// tokenizer, the task records finetune writes): the numbers agree with the metrics library and
// with predictions.jsonl, several checkpoints are compared pairwise, --report writes its files,
// and every bad input is one clear error.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { writeCheckpoint } from '../../model/checkpoint.ts';
import { padVocab, type GPTConfig } from '../../model/config.ts';
import { initParams, paramLayout } from '../../model/layout.ts';
import { CliError } from '../../train/cli-error.ts';
import { evalMain } from '../../train/cli/eval.ts';
import { corpusBleu, sentenceBleu } from '../../train/eval/bleu.ts';
import { rougeScore } from '../../train/eval/rouge.ts';
import { exactMatch, tokenF1 } from '../../train/eval/squad.ts';
import { CharTokenizer } from '../../train/tokenizers/index.ts';
import type { Tokenizer } from '../../train/tokenizers/types.ts';
import { cli, expectCleanError } from './cli-process.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-eval-task-'));
const WORDS = ['whale', 'ship', 'sea', 'sail', 'boat', 'deck', 'mast', 'wave'];
const TEXT = WORDS.map((w) => `the ${w} is good. the ${w} is bad. a ${w} =`).join('\n');
const ck = { lm: '', clsA: '', clsB: '', sftA: '', sftB: '', other: '' };
const files = { sft: '', cls: '', text: '' };

function jsonl(name: string, rows: unknown[]): string {
  const p = join(dir, name);
  writeFileSync(p, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return p;
}

/** A checkpoint with random weights and the records `finetune` writes for `task`. */
function checkpoint(name: string, tok: Tokenizer, seed: number, extra: Record<string, unknown>, nClasses = 0): string {
  const config: GPTConfig = {
    vocabSize: tok.vocabSize,
    paddedVocabSize: padVocab(tok.vocabSize),
    blockSize: 32,
    nLayer: 1,
    nHead: 2,
    nEmbd: 16,
    dropout: 0,
    ...(nClasses ? { nClasses } : {}),
  };
  const params = initParams(paramLayout(config), seed);
  const meta = { step: seed, config, tokenizer: { id: tok.id, json: tok.toJSON() }, extra };
  return writeCheckpoint(join(dir, name, 'checkpoints'), { meta, params });
}

beforeAll(() => {
  const tok = CharTokenizer.fromTexts([TEXT]);
  const classify = (labels: string[]) => ({
    finetune: { task: 'classify', from: 'scratch', labels },
    trainConfig: { textField: 'review', labelField: 'y' },
  });
  const sft = { finetune: { task: 'sft', from: 'scratch' }, trainConfig: { prompt: 'a {w} =', target: ' {a}' } };
  ck.lm = checkpoint('lm', tok, 1, {});
  ck.clsA = checkpoint('clsA', tok, 2, classify(['bad', 'good']), 2);
  ck.clsB = checkpoint('clsB', tok, 3, classify(['bad', 'good']), 2);
  ck.sftA = checkpoint('sftA', tok, 4, sft);
  ck.sftB = checkpoint('sftB', tok, 5, sft);
  ck.other = checkpoint('other', CharTokenizer.fromTexts(['abc def']), 6, sft);
  files.cls = jsonl(
    'cls.jsonl',
    WORDS.flatMap((w) => [
      { review: `the ${w} is good`, y: 'good' },
      { review: `the ${w} is bad`, y: 'bad' },
    ]).concat([{ review: '', y: 'good' }]),
  );
  files.sft = jsonl(
    'sft.jsonl',
    WORDS.map((w, i) => ({ w, a: WORDS[(i + 1) % WORDS.length], answers: [w, `${w} ${w}`] })).concat([
      { w: 'sea', a: '', answers: [] },
    ]),
  );
  files.text = join(dir, 'text.txt');
  writeFileSync(files.text, TEXT);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await destroyRuntime();
});

/** evalMain's stdout (stderr silenced). */
async function run(...argv: string[]): Promise<string> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await evalMain(argv)).toBe(0);
    return out.mock.calls.map((c) => String(c[0])).join('');
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}

const readJsonl = (p: string) =>
  readFileSync(p, 'utf8')
    .split('\n')
    .filter((l) => l)
    .map((l) => JSON.parse(l));

describe('eval --task classify', () => {
  it('reports accuracy, per-class numbers and the confusion matrix, consistent with the predictions', async () => {
    const report = join(dir, 'cls-report');
    const j = JSON.parse(await run('-c', ck.clsA, '-i', files.cls, '--json', '--report', report));
    // The task and the fields come from the checkpoint; the record with an empty text is skipped.
    expect(j.task).toBe('classify');
    expect(j.skipped).toBe(1);
    expect(j.examples).toBe(16);
    expect(j.report.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(16);
    const preds = readJsonl(join(report, 'predictions.jsonl'));
    expect(preds).toHaveLength(16);
    const right = preds.filter((p) => p.prediction === p.reference).length;
    expect(j.report.accuracy).toBeCloseTo(right / 16, 12);
    expect(preds.every((p) => p.scores.correct === (p.prediction === p.reference))).toBe(true);
    for (const p of preds) expect(p.scores.confidence).toBeGreaterThanOrEqual(0.5);
    const written = readdirSync(report).sort();
    expect(written).toEqual(['confusion-1.svg', 'per-class-1.svg', 'predictions.jsonl', 'report.md']);
    const md = readFileSync(join(report, 'report.md'), 'utf8');
    expect(md).toContain('](confusion-1.svg)');
    expect(md).toContain('most confident errors');
    expect(readFileSync(join(report, 'confusion-1.svg'), 'utf8')).toMatch(/^<svg[^>]*>[\s\S]*<\/svg>\n$/);
  });

  it('compares two classifiers: discordant pairs add up to the accuracy difference', async () => {
    const report = join(dir, 'cls-compare');
    const j = JSON.parse(await run('-c', ck.clsA, '-c', ck.clsB, '-i', files.cls, '--json', '--report', report));
    expect(j.checkpoints).toHaveLength(2);
    const [a, b] = j.checkpoints;
    const p = j.paired[0];
    expect((p.otherRightFirstWrong - p.firstRightOtherWrong) / 16).toBeCloseTo(
      b.report.accuracy - a.report.accuracy,
      12,
    );
    const preds = readJsonl(join(report, 'predictions.jsonl'));
    const ok = (k: number) => preds.filter((x) => x.checkpoint === k).map((x) => x.scores.correct);
    const [ra, rb] = [ok(1), ok(2)];
    expect(ra.filter((x, i) => x && !rb[i]).length).toBe(p.firstRightOtherWrong);
    // No blind sheet for classification.
    expect(existsSync(join(report, 'blind.md'))).toBe(false);
    const text = await run('-c', ck.clsA, '-c', ck.clsB, '-i', files.cls);
    expect(text).toMatch(/\[2\] right and \[1\] wrong: \d+/);
    expect(text).toMatch(/^accuracy +\d\.\d{4} +\d\.\d{4} +[+-]\d\.\d{4}$/m);
  });
});

describe('eval --task sft', () => {
  it('generates, scores with BLEU, ROUGE, EM and F1 as the library does, and writes a blind sheet', async () => {
    const report = join(dir, 'sft-report');
    const argv = ['-c', ck.sftA, '-c', ck.sftB, '-i', files.sft, '--maxNewTokens', '6', '--json'];
    const j = JSON.parse(await run(...argv, '--report', report));
    expect(j.task).toBe('sft');
    expect(j.skipped).toBe(1);
    const preds = readJsonl(join(report, 'predictions.jsonl'));
    expect(preds).toHaveLength(16);
    const mine = preds.filter((p) => p.checkpoint === 1);
    // Templates from the checkpoint: prompt "a {w} =", target " {a}".
    expect(mine[0].input).toBe('a whale =');
    expect(mine[0].reference).toBe(' ship');
    const bleu = corpusBleu(
      mine.map((p) => p.prediction),
      mine.map((p) => [p.reference]),
    );
    expect(j.checkpoints[0].bleu).toBeCloseTo(bleu.score, 9);
    for (const p of mine) {
      expect(p.scores.bleu).toBeCloseTo(sentenceBleu(p.prediction, [p.reference]).score, 9);
      expect(p.scores.rougeL).toBeCloseTo(rougeScore(p.reference, p.prediction, ['rougeL']).rougeL!.fmeasure, 12);
      expect(p.scores.exactMatch).toBe(exactMatch(p.prediction, p.reference));
      expect(p.scores.f1).toBeCloseTo(tokenF1(p.prediction, p.reference), 12);
    }
    expect(j.checkpoints[0].throughput.examples).toBe(8);
    expect(j.paired[0].metrics.rougeL.better + j.paired[0].metrics.rougeL.worse + j.paired[0].metrics.rougeL.same).toBe(
      8,
    );
    // Blind sheet: both outputs of each example, labelled 1 and 2; the key maps them back.
    const key = JSON.parse(readFileSync(join(report, 'blind-key.json'), 'utf8'));
    const sheet = readFileSync(join(report, 'blind.md'), 'utf8');
    expect(sheet).not.toContain(ck.sftA);
    expect(key.order).toHaveLength(8);
    for (const o of key.order) expect([...o.outputs].sort()).toEqual([1, 2]);
    const first = key.order[0].outputs[0] as number;
    const ex1 = sheet.slice(sheet.indexOf('## Example 1'), sheet.indexOf('## Example 2'));
    const out1 = ex1.slice(ex1.indexOf('**Output 1:**'));
    expect(out1).toContain(preds.find((p) => p.checkpoint === first && p.line === 1).prediction);
  });

  it('the same checkpoint twice: greedy outputs agree, every paired difference is 0', async () => {
    const j = JSON.parse(await run('-c', ck.sftA, ck.sftA, '-i', files.sft, '--maxNewTokens', '4', '--json'));
    for (const d of Object.values(j.paired[0].metrics) as { same: number; meanDiff: number }[]) {
      expect(d.same).toBe(8);
      expect(d.meanDiff).toBe(0);
    }
  });
});

describe('eval --task sft --references', () => {
  it('scores against every reference of a record: BLEU over all, the best of each other score', async () => {
    const report = join(dir, 'sft-refs');
    const argv = ['-c', ck.sftA, '-i', files.sft, '--maxNewTokens', '4', '--references', 'answers'];
    const j = JSON.parse(await run(...argv, '--json', '--report', report));
    const preds = readJsonl(join(report, 'predictions.jsonl'));
    expect(preds[0].references).toEqual(['whale', 'whale whale']);
    const refs = preds.map((p) => p.references);
    expect(j.bleu).toBeCloseTo(
      corpusBleu(
        preds.map((p) => p.prediction),
        refs,
      ).score,
      9,
    );
    for (const p of preds) {
      const best = Math.max(
        ...p.references.map((r: string) => rougeScore(r, p.prediction, ['rougeL']).rougeL!.fmeasure),
      );
      expect(p.scores.rougeL).toBeCloseTo(best, 12);
      expect(p.scores.f1).toBeCloseTo(Math.max(...p.references.map((r: string) => tokenF1(p.prediction, r))), 12);
    }
  });

  it('a reference field of the wrong shape is an error naming the line', async () => {
    const bad = (name: string, answers: unknown) =>
      jsonl(name, [
        { w: 'a', a: 'b', answers: ['x'] },
        { w: 'c', a: 'd', answers },
      ]);
    const argv = (f: string) => ['-c', ck.sftA, '-i', f, '--references', 'answers'];
    await expect(evalMain(argv(bad('r1.jsonl', [])))).rejects.toThrow(
      /r1\.jsonl:2: --references field "answers" is an empty list/,
    );
    await expect(evalMain(argv(bad('r2.jsonl', 3)))).rejects.toThrow(
      /r2\.jsonl:2: .* must be a string or a list of strings, got 3/,
    );
    await expect(evalMain(argv(bad('r3.jsonl', ['x', 1])))).rejects.toThrow(/r3\.jsonl:2: .*item 1 is 1, not a string/);
  });
});

describe('eval --task lm', () => {
  it('a text file on an sft checkpoint is still lm (loss, perplexity, bits per char)', async () => {
    const j = JSON.parse(await run('-c', ck.sftA, '-i', files.text, '--json'));
    expect(j.task).toBe('lm');
    expect(j.perplexity).toBeCloseTo(Math.exp(j.loss), 6);
    expect(j.bitsPerChar).toBeGreaterThan(0);
    const two = await run('-c', ck.lm, '-c', ck.sftA, '-i', files.text);
    expect(two).toMatch(/^perplexity +\d+\.\d{3} +\d+\.\d{3} +[+-]\d+\.\d+$/m);
  });
});

describe('eval: bad input is one clear error', () => {
  const fails = async (argv: string[], pattern: RegExp) => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const e = await evalMain(argv).then(
        () => null,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(CliError);
      expect((e as Error).message).toMatch(pattern);
    } finally {
      err.mockRestore();
    }
  };

  it('a label the model does not know, naming the line', async () => {
    const f = jsonl('unknown.jsonl', [
      { review: 'x', y: 'good' },
      { review: 'y', y: 'meh' },
    ]);
    await fails(['-c', ck.clsA, '-i', f], /unknown\.jsonl:2: label "meh" is not one the model knows/);
  });

  it('--task classify on a checkpoint without a head; a JSONL input with no recorded task', async () => {
    await fails(['-c', ck.lm, '-i', files.cls, '--task', 'classify'], /no classification head/);
    await fails(['-c', ck.lm, '-i', files.cls], /records no sft or classify task: pass --task/);
  });

  it('a template naming a missing field; no usable records', async () => {
    await fails(['-c', ck.sftA, '-i', files.sft, '--prompt', '{question}'], /sft\.jsonl:1: .*"question"/);
    const empty = jsonl('empty.jsonl', [{ w: 'a', a: '' }]);
    await fails(['-c', ck.sftA, '-i', empty], /no usable records \(0 of 1 records used; skipped: 1 empty a\)/);
  });

  it('checkpoints with different tokenizers cannot be compared', async () => {
    await fails(['-c', ck.sftA, '-c', ck.other, '-i', files.sft], /compared checkpoints must share the tokenizer/);
  });

  it('--report refuses a folder that is not a report and leaves it alone', async () => {
    const mine = join(dir, 'precious');
    mkdirSync(mine);
    writeFileSync(join(mine, 'notes.txt'), 'keep');
    await fails(['-c', ck.clsA, '-i', files.cls, '--report', mine], /does not hold an earlier eval report/);
    expect(readdirSync(mine)).toEqual(['notes.txt']);
  });

  it('through the real CLI: one error line, no stack', () => {
    expectCleanError(
      cli('eval', '-c', ck.lm, '-i', files.cls, '--task', 'classify'),
      /--task classify: .*no classification head/,
    );
  });
});
