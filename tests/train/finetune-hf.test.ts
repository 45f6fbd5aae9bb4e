// `finetune --from hf:<dir>`: a tiny random GPT-2 in the Hugging Face layout (tests/model/hf-fixture.ts)
// as the base of an lm run (its "before" evaluation is the imported model's loss, the checkpoints
// name hf:<abs dir> and the file's sha256, exact resume), of a LoRA run (adapters verified against
// the folder's checksum), and the bad inputs as one line each.
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { listCheckpoints, readCheckpoint } from '../../model/checkpoint.ts';
import { hfAsCheckpoint, loadHfModel } from '../../model/hf.ts';
import { CliError } from '../../train/cli-error.ts';
import { finetuneMain, FINETUNE_SCHEMA } from '../../train/cli/finetune.ts';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { evalBatches } from '../../train/data/shards.ts';
import { evaluateBatches } from '../../train/evaluate.ts';
import { finetune, type FinetuneConfig, type FinetuneOrigin } from '../../train/finetune/run.ts';
import { Gpt2Tokenizer } from '../../train/tokenizers/index.ts';
import { writeHfFixture } from '../model/hf-fixture.ts';
import { lossCurve, tinyConfig } from './fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-finetune-hf-'));
const quiet = { log: () => {} };
const hfDir = join(dir, 'gpt2-tiny');
const text = join(dir, 'notes.txt');
// GPT-2's vocabulary (the gpt2 tokenizer) on a very narrow model.
const SHAPE = { vocab: 50257, ctx: 16, layers: 1, heads: 2, embd: 8 };
const B = 2;
const EVAL_BATCHES = 2;
const VAL_FRACTION = 0.25;

function ftConfig(over: Partial<FinetuneConfig>): FinetuneConfig {
  const d = Object.fromEntries(Object.entries(FINETUNE_SCHEMA).map(([k, s]) => [k, s.default]));
  const tiny = tinyConfig(text, '', { steps: 3, evalEvery: 2, lr: 1e-2, warmupSteps: 1, sampleTokens: 0 });
  const task = { task: 'lm', from: `hf:${hfDir}`, batchSize: B, evalBatches: EVAL_BATCHES, valFraction: VAL_FRACTION };
  return { ...(d as unknown as FinetuneConfig), ...tiny, ...task, ...over } as FinetuneConfig;
}

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const latest = (run: string) => readCheckpoint(listCheckpoints(join(run, 'checkpoints'))[0]!.path);
const originOf = (run: string) => (latest(run).meta.extra as { finetune: FinetuneOrigin }).finetune;

beforeAll(() => {
  writeHfFixture(hfDir, { shape: SHAPE, lmHead: false });
  const corpus = readFileSync(defaultCorpusPath(), 'utf8').slice(30_000, 33_000);
  writeFileSync(text, corpus);
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await destroyRuntime();
});

describe('finetune --from hf:<dir>', () => {
  it('starts from the imported weights and records hf:<abs dir> with the sha256 of model.safetensors', async () => {
    const out = join(dir, 'lm');
    const s = await finetune(ftConfig({ out, steps: 2 }), quiet);
    expect(s.status).toBe('finished');
    expect(s.tokenizer).toBe('gpt2');
    expect(s.model.nEmbd).toBe(SHAPE.embd);
    const from = { path: `hf:${resolve(hfDir)}`, step: 0, sha256: sha256(join(hfDir, 'model.safetensors')) };
    expect(s.origin.from).toEqual(from);
    expect(originOf(out).from).toEqual(from);
    // The evaluation before step 1 is the imported model's loss on the same validation windows.
    const tok = new Gpt2Tokenizer();
    const docs = readFileSync(text, 'utf8').split(/\n\s*\n/);
    const ids = docs.filter((d) => d.trim()).flatMap((d) => [...tok.encode(d), tok.eotId]);
    const val = ids.slice(ids.length - Math.max(1, Math.round(ids.length * VAL_FRACTION)));
    const { model } = await loadHfModel(hfDir);
    const want = await evaluateBatches(model, [...evalBatches(val, B, SHAPE.ctx, EVAL_BATCHES)], B, SHAPE.ctx);
    model.dispose();
    expect(s.before!.step).toBe(0);
    expect(s.before!.valLoss).toBeCloseTo(want, 5);
    expect(Math.abs(want - Math.log(SHAPE.vocab))).toBeLessThan(5); // a real loss, not NaN or 0
  });

  it('resumes exactly (the base comes back from the run, not the folder)', async () => {
    const a = join(dir, 'straight');
    const b = join(dir, 'resumed');
    await finetune(ftConfig({ out: a }), quiet);
    const first = await finetune(ftConfig({ out: b }), { ...quiet, stopAfterSteps: 1 });
    expect(first.status).toBe('stopped');
    const again = await finetune(ftConfig({ out: null, resume: b }), quiet);
    expect(again.status).toBe('finished');
    expect(lossCurve(b)).toEqual(lossCurve(a));
    expect(Array.from(latest(b).params)).toEqual(Array.from(latest(a).params));
    expect(originOf(b).from).toEqual(originOf(a).from);
  });

  it('--lora: adapters name the hf folder by checksum, resume exactly, and refuse a changed folder', async () => {
    const own = join(dir, 'gpt2-lora-base');
    cpSync(hfDir, own, { recursive: true });
    const lora = { from: `hf:${own}`, lora: 'rank=2,alpha=4,targets=c_attn,c_fc' };
    const a = join(dir, 'lora-straight');
    const b = join(dir, 'lora-resumed');
    await finetune(ftConfig({ ...lora, out: a }), quiet);
    expect(await finetune(ftConfig({ ...lora, out: b }), { ...quiet, stopAfterSteps: 1 })).toMatchObject({
      status: 'stopped',
    });
    await finetune(ftConfig({ out: null, resume: b }), quiet);
    expect(lossCurve(b)).toEqual(lossCurve(a));
    const c = latest(a);
    expect(c.lora!.base).toEqual({ path: `hf:${resolve(own)}`, sha256: sha256(join(own, 'model.safetensors')) });
    expect(Array.from(latest(b).lora!.params)).toEqual(Array.from(c.lora!.params));
    // The frozen base is the folder's weights, untouched.
    expect(Array.from(c.params)).toEqual(Array.from(hfAsCheckpoint(own).params));
    const bytes = readFileSync(join(own, 'model.safetensors'));
    bytes[bytes.length - 1]! ^= 1;
    writeFileSync(join(own, 'model.safetensors'), bytes);
    expect(() => latest(a)).toThrow(/adapters belong to base hf:/);
  });
});

describe('finetune --from hf:<dir>: bad input, one line each', () => {
  const run = (from: string) =>
    finetuneMain(['--from', from, '--task', 'lm', '--data', text, '--out', join(dir, 'never'), '--progress', 'off']);
  const cases: [string, () => string, RegExp][] = [
    ['a missing folder', () => `hf:${join(dir, 'nope')}`, /^--from hf:.*nope: .*no such folder$/],
    ['hf: without a folder', () => 'hf:', /^--from hf:<dir>: name the Hugging Face model folder/],
    [
      'a folder without config.json',
      () => {
        const d = join(dir, 'no-config');
        writeHfFixture(d);
        rmSync(join(d, 'config.json'));
        return `hf:${d}`;
      },
      /no config\.json \(not a Hugging Face model folder\)$/,
    ],
    [
      "a vocabulary that is not GPT-2's and no tokenizer",
      () => {
        const d = join(dir, 'small-vocab');
        writeHfFixture(d);
        return `hf:${d}`;
      },
      /vocab_size 37 is not GPT-2's \(50257\) .* its tokenizer is unknown$/,
    ],
  ];
  for (const [name, make, msg] of cases)
    it(name, async () => {
      const err = await run(make()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CliError);
      expect((err as Error).message).toMatch(msg);
      expect((err as Error).message).not.toContain('\n');
    });
});
