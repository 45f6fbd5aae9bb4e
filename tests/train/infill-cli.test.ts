// `generate --infill` and `eval --task infill` end to end: pre-training on data prepared with
// --fimRate (the padded vocabulary takes the three sentinels), filling a gap from the command
// line, scoring masked held-out words, and the bad input (no gap, two gaps, a model whose
// tokenizer has no sentinels), each one clear line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { Rng } from '../../kernels/random.ts';
import { maskWords } from '../../train/eval/infill.ts';
import { heldOutDocuments } from '../../train/infill.ts';
import { loadTokenizer } from '../../train/tokenizers/index.ts';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { prepare } from '../../train/data/prepare.ts';
import { pretrain } from '../../train/pretrain.ts';
import { cli, expectCleanError } from './cli-process.ts';
import { tinyConfig, tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-infill-cli-'));
let plainRun = '';
let fimRun = '';

beforeAll(async () => {
  const input = join(work, 'text.txt');
  writeFileSync(input, readFileSync(defaultCorpusPath(), 'utf8').slice(20_000, 50_000));
  const fimData = join(work, 'fim-data');
  await prepare({
    inputs: [input],
    out: fimData,
    tokenizer: 'char',
    docChars: 200,
    valFraction: 0.1,
    fimRate: 0.5,
    progress: 'off',
    log: () => {},
  });
  fimRun = join(work, 'fim-run');
  plainRun = join(work, 'plain-run');
  const short = { steps: 2, evalEvery: 0, sampleTokens: 0 };
  await pretrain(tinyConfig(fimData, fimRun, short), { log: () => {} });
  await pretrain(tinyConfig(await tinyData(), plainRun, short), { log: () => {} });
  await destroyRuntime();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('generate --infill', () => {
  it('a model pre-trained with FIM fills the gap and prints the whole text', () => {
    const tok = JSON.parse(readFileSync(join(fimRun, 'tokenizer.json'), 'utf8'));
    expect(tok.specials).toEqual(['<|fim_prefix|>', '<|fim_middle|>', '<|fim_suffix|>']);
    const r = cli('generate', '-c', fimRun, '--infill', 'Call me [MASK]. Some years', '--maxTokens', '6');
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('Call me ')).toBe(true);
    expect(r.stdout.endsWith('. Some years\n')).toBe(true);
    expect(r.stderr).toMatch(/filled the gap with \d+ tokens/);
    const split = cli('generate', '-c', fimRun, '--prefix', 'Call me ', '--suffix', '. Some years', '-n', '6');
    expect(split.status).toBe(0);
    expect(split.stdout).toBe(r.stdout);
  });

  it('bad input is one clear line each', () => {
    const nowhere = join(work, 'nowhere');
    expectCleanError(cli('generate', '-c', nowhere, '--infill', 'no gap'), /--infill: the text has no gap/);
    expectCleanError(cli('generate', '-c', nowhere, '--infill', 'a [MASK] b [MASK]'), /has 2 gaps/);
    expectCleanError(
      cli('generate', '-c', plainRun, '--infill', 'Call me [MASK].'),
      /this model was not trained for infilling \(no FIM sentinels in its tokenizer\): pre-train it on data prepared with --fimRate/,
    );
  });
});

/** Middle tokens `eval --task infill` must score: the seeded masks of the first `n` documents. */
function expectedMiddleTokens(dataDir: string, n: number, seed: number, blockSize: number): number {
  const tok = loadTokenizer(join(dataDir, 'tokenizer.json'));
  const rng = new Rng(seed, 'sfc32');
  let total = 0;
  for (const doc of heldOutDocuments(dataDir, n)) {
    const parts = maskWords(doc, rng, 3);
    if (parts) total += Math.min(tok.encode(parts.middle).length, blockSize - 3);
  }
  return total;
}

describe('eval --task infill', () => {
  it("scores a FIM model on a prepared folder's held-out documents (JSON and table agree)", () => {
    const fimData = join(work, 'fim-data');
    const args = ['eval', '-c', fimRun, '--task', 'infill', '-i', fimData, '--maxExamples', '4', '--seed', '5'];
    const r = cli(...args, '--maxNewTokens', '4', '--json');
    expect(r.status).toBe(0);
    const run = JSON.parse(r.stdout);
    expect(run.task).toBe('infill');
    expect(run.mode).toBe('psm');
    const c = run.checkpoints[0];
    expect(c.documents).toBe(4);
    expect(c.exactMatch).toBeGreaterThanOrEqual(0);
    expect(c.exactMatch).toBeLessThanOrEqual(1);
    expect(c.middleTokens).toBe(expectedMiddleTokens(fimData, 4, 5, 16));
    // A barely trained char model: about ln(vocabulary) per middle character.
    expect(c.middleLoss).toBeGreaterThan(1);
    expect(c.middleLoss).toBeLessThan(10);
    const table = cli(...args, '--maxNewTokens', '4');
    expect(table.status).toBe(0);
    expect(table.stdout).toContain(`middle loss ${c.middleLoss.toFixed(4)} nats/token over ${c.middleTokens} tokens`);
  });

  it('a model without sentinels is refused, unless --infillMode l2r asks for the baseline', () => {
    const text = join(work, 'paras.txt');
    writeFileSync(text, 'Call me Ishmael.\n\nSome years ago, never mind how long.\n\n  \n\nThe whale.\n');
    expectCleanError(
      cli('eval', '-c', plainRun, '--task', 'infill', '-i', text),
      /this model was not trained for infilling \(no FIM sentinels in its tokenizer\).*--infillMode l2r/,
    );
    const r = cli('eval', '-c', plainRun, '--task', 'infill', '-i', text, '--infillMode', 'l2r', '--json');
    expect(r.status).toBe(0);
    const c = JSON.parse(r.stdout).checkpoints[0];
    expect(JSON.parse(r.stdout).source).toBe('text file (paragraphs)');
    expect(c.documents).toBe(3);
    expect(c.middleTokens).toBeGreaterThan(0);
  });
});
