// `generate --infill` end to end: pre-training on data prepared with --fimRate (the padded
// vocabulary takes the three sentinels), filling a gap from the command line, and the bad input
// (no gap, two gaps, a model whose tokenizer has no sentinels), each one clear line.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
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
