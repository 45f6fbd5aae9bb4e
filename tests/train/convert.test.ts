// `webgpu-gpt convert`: a Hugging Face GPT-2 folder into a run folder that the checkpoint loader
// reads, a run folder out to the Hugging Face layout and back bit-identically (with this project's
// BPE tokenizer surviving the trip), `eval --checkpoint hf:<dir>` through the real CLI, and bad
// input as one error line with no output folder left behind.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCheckpoint, writeCheckpoint } from '../../model/checkpoint.ts';
import { resolveConfig } from '../../model/config.ts';
import { readHfCheckpoint } from '../../model/hf.ts';
import { initParams, paramLayout } from '../../model/layout.ts';
import { CliError } from '../../train/cli-error.ts';
import { convertMain } from '../../train/cli/convert.ts';
import { checkpointTokenizer } from '../../train/cli/eval.ts';
import { CharTokenizer, trainBpe } from '../../train/tokenizers/index.ts';
import { writeHfFixture } from '../model/hf-fixture.ts';
import { ROOT } from './fixture.ts';

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'convert-test-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => path.join(tmp, `d${n++}`);

const sameBits = (a: Float32Array, b: Float32Array): boolean =>
  Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));

async function convert(...args: string[]): Promise<void> {
  const write = process.stdout.write;
  process.stdout.write = () => true;
  try {
    await convertMain(args);
  } finally {
    process.stdout.write = write;
  }
}

describe('convert', () => {
  it('--from hf:<dir> writes a run folder whose checkpoint holds the imported weights', async () => {
    const hf = fresh();
    writeHfFixture(hf, { dtype: 'BF16' });
    const run = fresh();
    await convert('--from', `hf:${hf}`, '--out', run);
    const ck = resolveCheckpoint(run);
    expect(ck.meta.step).toBe(0);
    expect(sameBits(ck.params, readHfCheckpoint(hf).params)).toBe(true);
    expect(ck.meta.tokenizer).toBeUndefined(); // a 37-token vocabulary is no known tokenizer
    expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
  });

  it('run → hf → run is bit-identical, and the BPE tokenizer comes back', async () => {
    const tok = trainBpe(['the whale, the white whale; the sea and the ship. '.repeat(20)], { vocabSize: 280 });
    const cfg = resolveConfig({ preset: 'tiny', vocabSize: tok.vocabSize });
    const params = initParams(paramLayout(cfg), 7);
    const run = fresh();
    writeCheckpoint(path.join(run, 'checkpoints'), {
      meta: { step: 12, config: cfg, tokenizer: { id: tok.id, json: tok.toJSON() } },
      params,
    });
    const hf = fresh();
    await convert('--from', run, '--to', 'hf', '--out', hf);
    expect(fs.readdirSync(hf).sort()).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
      'webgpu-gpt-tokenizer.json',
    ]);
    const back = fresh();
    await convert('--from', `hf:${hf}`, '--out', back);
    const ck = resolveCheckpoint(back);
    expect(sameBits(ck.params, params)).toBe(true);
    expect(ck.meta.config).toEqual({ ...cfg, dropout: 0 });
    expect(checkpointTokenizer(ck, { override: null }).id).toBe(tok.id);
  });

  it('a char-tokenizer run exports the weights only, and its own tokenizer still comes back', async () => {
    const tok = CharTokenizer.fromTexts(['call me ishmael']);
    const cfg = resolveConfig({ preset: 'tiny', vocabSize: tok.vocabSize });
    const run = fresh();
    writeCheckpoint(path.join(run, 'checkpoints'), {
      meta: { step: 3, config: cfg, tokenizer: { id: tok.id, json: tok.toJSON() } },
      params: initParams(paramLayout(cfg), 2),
    });
    const hf = fresh();
    await convert('--from', run, '--to', 'hf', '--out', hf);
    expect(fs.readdirSync(hf).sort()).toEqual(['config.json', 'model.safetensors', 'webgpu-gpt-tokenizer.json']);
    const back = fresh();
    await convert('--from', `hf:${hf}`, '--out', back);
    expect(checkpointTokenizer(resolveCheckpoint(back), { override: null }).id).toBe(tok.id);
  });

  it('eval --checkpoint hf:<dir> reads a GPT-2-vocabulary folder through the CLI (gpt2 tokenizer)', () => {
    const hf = fresh();
    writeHfFixture(hf, { shape: { vocab: 50257 }, dtype: 'F16', lmHead: false });
    const text = path.join(tmp, 'text.txt');
    fs.writeFileSync(text, 'It was the whale, the white whale, that the captain hunted.\n'.repeat(3));
    const r = spawnSync(
      process.execPath,
      [path.join(ROOT, 'bin', 'webgpu-gpt.mjs'), 'eval', '--checkpoint', `hf:${hf}`, '--input', text, '--json'],
      {
        encoding: 'utf8',
        env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
        timeout: 180_000,
      },
    );
    expect(r.stderr).not.toMatch(/error/);
    expect(r.status).toBe(0);
    const res = JSON.parse(r.stdout.trim().split('\n').pop()!);
    expect(res.tokens).toBeGreaterThan(30);
    expect(Number.isFinite(res.loss)).toBe(true);
  }, 200_000);
});

describe('convert: bad input is one error line and no output folder', () => {
  const hfCases: { label: string; make: (d: string) => void; error: RegExp }[] = [
    {
      label: 'no config.json',
      make: (d) => (writeHfFixture(d), fs.rmSync(path.join(d, 'config.json'))),
      error: /no config\.json/,
    },
    {
      label: 'model_type',
      make: (d) => writeHfFixture(d, { config: { model_type: 'bert' } }),
      error: /model_type is "bert"/,
    },
    {
      label: 'truncated header',
      make: (d) => {
        writeHfFixture(d);
        const f = path.join(d, 'model.safetensors');
        fs.writeFileSync(f, fs.readFileSync(f).subarray(0, 200));
      },
      error: /truncated or corrupt/,
    },
    {
      label: 'shape',
      make: (d) => writeHfFixture(d, { config: { n_positions: 16 } }),
      error: /"wpe\.weight" has shape \[8, 16\]/,
    },
    { label: 'dtype', make: (d) => writeHfFixture(d, { dtype: 'I8' }), error: /dtype I8/ },
    {
      label: 'missing tensor',
      make: (d) => writeHfFixture(d, { edit: (ts) => ts.splice(1, 1) }),
      error: /tensor "wpe\.weight" is missing/,
    },
  ];
  for (const c of hfCases) {
    it(c.label, async () => {
      const hf = fresh();
      c.make(hf);
      const out = fresh();
      const err = await convertMain(['--from', `hf:${hf}`, '--out', out]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CliError);
      expect((err as Error).message).toMatch(/^--from hf:/);
      expect((err as Error).message).toMatch(c.error);
      expect((err as Error).message).not.toContain('\n');
      expect(fs.existsSync(out)).toBe(false);
      expect(fs.readdirSync(tmp).filter((f) => f.includes('.tmp-'))).toEqual([]);
    });
  }

  it('an existing non-empty --out, and converting to the format it already is', async () => {
    const hf = fresh();
    writeHfFixture(hf);
    const out = fresh();
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'keep.txt'), 'mine');
    await expect(convertMain(['--from', `hf:${hf}`, '--out', out])).rejects.toThrow(
      /already exists and is not an empty folder/,
    );
    expect(fs.readdirSync(out)).toEqual(['keep.txt']);
    await expect(convertMain(['--from', hf, '--out', fresh()])).rejects.toThrow(/already a webgpu-gpt checkpoint/);
    await expect(convertMain(['--from', `hf:${hf}`, '--to', 'hf', '--out', fresh()])).rejects.toThrow(
      /nothing to convert/,
    );
  });
});
