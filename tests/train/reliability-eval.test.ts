// Issue 13 items 5-7 for `eval` and `generate` as a user runs them (child processes of
// bin/webgpu-gpt.mjs): a tokenizer that is not the checkpoint's is refused, a skipped broken
// checkpoint is reported, inputs `prepare` rejects are rejected.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { prepare } from '../../train/data/prepare.ts';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { pretrain } from '../../train/pretrain.ts';
import { cli, expectCleanError } from './cli-process.ts';
import { tinyConfig, tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-rel-eval-'));
let run = '';
let text = '';
/** A char tokenizer trained on other text: another id, a vocabulary no larger than the model's. */
let otherTok = '';

beforeAll(async () => {
  const data = await tinyData();
  run = join(work, 'run');
  await pretrain(tinyConfig(data, run, { steps: 2, evalEvery: 1, sampleTokens: 0 }), { log: () => {} });
  await destroyRuntime();
  text = join(work, 'text.txt');
  writeFileSync(text, 'It was the whale, the white whale, that the captain hunted across the sea.\n'.repeat(4));
  const other = join(work, 'other.txt');
  // Few distinct characters: a smaller vocabulary than the model's, so only the id tells them apart.
  writeFileSync(
    other,
    readFileSync(defaultCorpusPath(), 'utf8')
      .slice(200_000, 203_000)
      .replace(/[^a-z \n]/g, ''),
  );
  await prepare({
    inputs: [other],
    out: join(work, 'other'),
    tokenizer: 'char',
    docChars: 500,
    valFraction: 0.1,
    progress: 'off',
    log: () => {},
  });
  otherTok = join(work, 'other', 'tokenizer.json');
}, 120_000);
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("eval and generate refuse a tokenizer that is not the checkpoint's", () => {
  it('eval --tokenizer <another tokenizer> is an error naming both, unless allowed', () => {
    const r = cli('eval', '--checkpoint', run, '--input', text, '--tokenizer', otherTok);
    expectCleanError(
      r,
      /--tokenizer .*other.*tokenizer\.json is tokenizer char-\S+ \(vocabulary \d+\) but checkpoint .* was trained with char-\S+ \(vocabulary \d+\)/,
    );
    expect(r.stdout).not.toMatch(/loss/);
    const ok = cli('eval', '--checkpoint', run, '--input', text, '--tokenizer', otherTok, '--allowTokenizerMismatch');
    expect(ok.status).toBe(0);
    expect(ok.stderr).toMatch(/^warning: --tokenizer .* is tokenizer char-/m);
    expect(ok.stdout).toMatch(/^loss /m);
  });

  it("generate --tokenizer <another tokenizer> is an error too; the run's own tokenizer is fine", () => {
    const r = cli('generate', '--checkpoint', run, '--prompt', 'the', '--maxTokens', '2', '--tokenizer', otherTok);
    expectCleanError(r, /is tokenizer char-\S+ .* but checkpoint .* was trained with/);
    const same = cli(
      'generate',
      '--checkpoint',
      run,
      '--prompt',
      'the',
      '--maxTokens',
      '2',
      '--tokenizer',
      join(run, 'tokenizer.json'),
    );
    expect(same.status).toBe(0);
    expect(same.stderr).not.toMatch(/warning/);
  });
});

describe('eval and generate on a run folder with problems', () => {
  it('warn when they fall back past a broken newer checkpoint, as pretrain does', () => {
    const copy = join(work, 'broken-newest');
    cpSync(run, copy, { recursive: true });
    const newest = join(copy, 'checkpoints', 'ckpt-00000002', 'model.safetensors');
    writeFileSync(newest, readFileSync(newest).subarray(0, 100));
    const e = cli('eval', '--checkpoint', copy, '--input', text);
    expect(e.status).toBe(0);
    expect(e.stderr).toMatch(
      /^warning: skipped a broken checkpoint: .*ckpt-00000002: model\.safetensors is truncated/m,
    );
    expect(e.stdout).toMatch(/ckpt-00000001 \(step 1\)/);
    const g = cli('generate', '--checkpoint', copy, '--prompt', 'the', '--maxTokens', '1');
    expect(g.status).toBe(0);
    expect(g.stderr).toMatch(/^warning: skipped a broken checkpoint: .*ckpt-00000002/m);
  });

  it('a corrupt run config.json does not matter: the checkpoint carries the config', () => {
    const copy = join(work, 'corrupt-config');
    cpSync(run, copy, { recursive: true });
    writeFileSync(join(copy, 'config.json'), '{"train": {');
    const e = cli('eval', '--checkpoint', copy, '--input', text, '--json');
    expect(e.status).toBe(0);
    expect(JSON.parse(e.stdout).step).toBe(2);
  });

  it('eval refuses binary files and invalid UTF-8, which prepare rejects too', () => {
    const bin = join(work, 'binary.txt');
    writeFileSync(bin, Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0, 0, 0, 0, 0, 0x41, 0x42, 0x43]));
    expectCleanError(
      cli('eval', '--checkpoint', run, '--input', bin),
      /--input .*binary\.txt: looks like a binary file/,
    );
    const bad = join(work, 'latin1.txt');
    writeFileSync(
      bad,
      Buffer.concat([Buffer.from('the whale\nthe sea '), Buffer.from([0xe9, 0x74, 0xe9]), Buffer.from('\n')]),
    );
    expectCleanError(
      cli('eval', '--checkpoint', run, '--input', bad),
      /--input .*latin1\.txt: invalid UTF-8 at line 2/,
    );
  });
});

describe('a model too large for the adapter', () => {
  it('pretrain --nLayer 1000000 fails at once with one line saying what fits (it hung for minutes)', async () => {
    const r = cli('pretrain', '--data', await tinyData(), '--out', join(work, 'huge'), '--nLayer', '1000000');
    expectCleanError(r, /nLayer 1000000, .* parameters .* maxBufferSize .*: at most nLayer \d+ fits at this width/);
  });
});
