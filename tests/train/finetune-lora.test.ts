// `finetune --lora` end to end with a tiny pre-trained run: adapters-only checkpoints that name
// their base, exact resume, the base untouched, classify / eval / generate on a LoRA run,
// `convert --merge` (same logits as the adapted model, atomic output), and the bad inputs.
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import * as E from '../../engine/index.ts';
import { assertClose } from '../../kernels/check.ts';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { listCheckpoints, loadModel, readCheckpoint } from '../../model/checkpoint.ts';
import { countParams } from '../../model/config.ts';
import type { GPT } from '../../model/gpt.ts';
import { CliError } from '../../train/cli-error.ts';
import { classifyMain } from '../../train/cli/classify.ts';
import { convertMain } from '../../train/cli/convert.ts';
import { evalMain } from '../../train/cli/eval.ts';
import { generateMain } from '../../train/cli/generate.ts';
import { FINETUNE_SCHEMA } from '../../train/cli/finetune.ts';
import { pretrain } from '../../train/pretrain.ts';
import { finetune, type FinetuneConfig } from '../../train/finetune/run.ts';
import { lossCurve, tinyConfig, tinyData } from './fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-lora-'));
const quiet = { log: () => {} };
let data = '';
let base = '';
let classify = '';
const LORA = 'rank=4,alpha=8,targets=c_attn,c_proj,c_fc,dropout=0.1';

const WORDS = ['whale', 'ship', 'sea', 'sail', 'boat', 'harpoon', 'captain', 'deck', 'mast', 'wave'];

function ftConfig(over: Partial<FinetuneConfig>): FinetuneConfig {
  const d = Object.fromEntries(Object.entries(FINETUNE_SCHEMA).map(([k, s]) => [k, s.default]));
  const tiny = tinyConfig(data, '', { steps: 4, evalEvery: 2, lr: 1e-2, warmupSteps: 1, sampleTokens: 0 });
  const task = { task: 'classify', data: classify, lora: LORA };
  return { ...(d as unknown as FinetuneConfig), ...tiny, from: base, valFraction: 0.25, ...task, ...over };
}

const latest = (run: string) => readCheckpoint(listCheckpoints(join(run, 'checkpoints'))[0]!.path);

beforeAll(async () => {
  data = await tinyData();
  base = join(dir, 'base');
  await pretrain(tinyConfig(data, base), quiet);
  classify = join(dir, 'classify.jsonl');
  const rows = WORDS.flatMap((w) => [
    { text: `the ${w} is good`, label: 'pos' },
    { text: `the ${w} is bad`, label: 'neg' },
  ]);
  writeFileSync(classify, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await destroyRuntime();
});

const printed = async (run: () => Promise<number>): Promise<string> => {
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    expect(await run()).toBe(0);
    return spy.mock.calls.map((c) => String(c[0])).join('');
  } finally {
    spy.mockRestore();
    err.mockRestore();
  }
};

async function logits(model: GPT, ids: number[]): Promise<Float32Array> {
  const t = E.keep(E.fromArray(Int32Array.from(ids), [1, ids.length], 'i32'));
  const out = E.tidy(() => E.noGrad(() => E.keep(model.forward(t, null).logits)));
  const d = (await out.data()) as Float32Array;
  out.dispose();
  t.dispose();
  return d;
}

describe('finetune --lora', () => {
  const run = () => join(dir, 'lora');

  it('trains adapters and a head only; checkpoints hold them apart from the base they name', async () => {
    const lines: string[] = [];
    const s = await finetune(ftConfig({ out: run() }), { log: (l) => lines.push(l) });
    expect(s.status).toBe('finished');
    expect(
      lines.some((l) => /^lora: rank 4, alpha 8 \(scale 2\), dropout 0.1 on \d+ layers .*trainable parameters/.test(l)),
    ).toBe(true);
    expect(s.trainable!.params).toBeLessThan(countParams(s.model) / 2);
    expect(s.trainable!.optimizerStateBytes).toBeLessThan((8 * countParams(s.model)) / 2);
    const c = latest(run());
    expect(readdirSync(c.path).sort()).toEqual(['adapters.safetensors', 'checkpoint.json', 'optimizer.safetensors']);
    const b = latest(base);
    expect(c.lora!.base).toEqual({ path: b.path, sha256: b.sidecar.files['model.safetensors']!.sha256 });
    // The base weights (read back through the run's checkpoint) are the base run's, bit for bit.
    for (const e of b.layout.entries) {
      const o = c.layout.byName.get(e.name)!.offset;
      expect(
        Buffer.from(c.params.slice(o, o + e.size).buffer).equals(
          Buffer.from(b.params.slice(e.offset, e.offset + e.size).buffer),
        ),
        e.name,
      ).toBe(true);
    }
    expect(c.lora!.params.some((v, i) => v !== 0 && i >= 0)).toBe(true);
  });

  it('resumes exactly (adapter dropout included)', async () => {
    const a = join(dir, 'lora-straight');
    const b = join(dir, 'lora-resumed');
    await finetune(ftConfig({ steps: 6, out: a }), quiet);
    const first = await finetune(ftConfig({ steps: 6, out: b }), { ...quiet, stopAfterSteps: 3 });
    expect(first.status).toBe('stopped');
    await finetune(ftConfig({ steps: 6, out: null, resume: b }), quiet);
    expect(lossCurve(b)).toEqual(lossCurve(a));
    expect(Array.from(latest(b).lora!.params)).toEqual(Array.from(latest(a).lora!.params));
  });

  it('classify, eval and generate read a LoRA run (through the verified base)', async () => {
    const out = await printed(() => classifyMain(['--checkpoint', run(), '--text', 'the ship is good']));
    expect(out).toMatch(/^(neg|pos)\t(0\.[5-9]\d*|1\.0+)\n$/);
    const text = join(dir, 'eval.txt');
    writeFileSync(text, 'the ship is good. the sea is bad. '.repeat(20));
    const ev = await printed(() => evalMain(['--checkpoint', run(), '--input', text, '--json']));
    expect(Number.isFinite(JSON.parse(ev).loss)).toBe(true);
    const gen = await printed(() => generateMain(['--checkpoint', run(), '--prompt', 'the ', '--maxTokens', '4']));
    expect(gen.startsWith('the ')).toBe(true);
  });

  it('convert --merge writes plain weights with the adapted logits; classify agrees', async () => {
    const merged = join(dir, 'merged');
    const msg = await printed(() => convertMain(['--from', run(), '--merge', '--out', merged]));
    expect(msg).toMatch(/^merged the adapters of .* \(rank 4, alpha 8 .*\) into /);
    const m = latest(merged);
    expect(m.lora ?? null).toBe(null);
    expect(existsSync(join(m.path, 'model.safetensors'))).toBe(true);
    const { model: adapted } = await loadModel(run());
    const { model: plain } = await loadModel(merged);
    const ids = [1, 5, 9, 2, 7, 3];
    assertClose(await logits(plain, ids), await logits(adapted, ids), 'f32Chain', 'merged vs adapted logits');
    adapted.dispose();
    plain.dispose();
    const a = await printed(() => classifyMain(['--checkpoint', run(), '--text', 'the deck is bad']));
    const b = await printed(() => classifyMain(['--checkpoint', merged, '--text', 'the deck is bad']));
    expect(b.split('\t')[0]).toBe(a.split('\t')[0]);
    expect(Number(b.split('\t')[1])).toBeCloseTo(Number(a.split('\t')[1]), 4);
  });

  it('convert refuses to merge a plain run, or to export a LoRA run unmerged; no partial folder', async () => {
    const out = join(dir, 'nothing');
    await expect(convertMain(['--from', base, '--merge', '--out', out])).rejects.toThrow(
      /--from .*base: not a LoRA checkpoint \(it has no adapters to merge\)/,
    );
    await expect(convertMain(['--from', run(), '--to', 'hf', '--out', out])).rejects.toThrow(
      /a LoRA checkpoint \(adapters apart from their base\); add --merge/,
    );
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).some((n) => n.startsWith('nothing'))).toBe(false);
  });
});

describe('finetune --lora bad input: one-line errors', () => {
  const fails = async (over: Partial<FinetuneConfig>, msg: RegExp): Promise<void> => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const err = await finetune(ftConfig({ out, ...over }), quiet).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(msg);
    expect((err as Error).message).not.toContain('\n');
    expect(existsSync(out)).toBe(false);
  };

  it('targets that match nothing, a bad spec, --from scratch, --freeze beside it, a LoRA base', async () => {
    await fails(
      { lora: 'rank=4,targets=q_proj' },
      /^--lora rank=4,targets=q_proj: target "q_proj" matches no linear layer/,
    );
    await fails({ lora: 'rank=0' }, /^--lora rank=0: rank must be an integer >= 1, got 0$/);
    await fails({ lora: 'size=3' }, /^--lora size=3: unknown key "size"/);
    await fails({ from: 'scratch', model: 'tiny' }, /^--lora adapts pre-trained weights/);
    await fails({ freeze: 'wte' }, /^--freeze with --lora/);
    await fails({ from: join(dir, 'lora') }, /a LoRA checkpoint; merge it first \(webgpu-gpt convert/);
  });

  it('adapters whose base changed since: the run cannot be read, naming the base and both checksums', async () => {
    const other = join(dir, 'other-base');
    await pretrain(tinyConfig(data, other, { steps: 6, seed: 5 }), quiet);
    const run = join(dir, 'lora-moved');
    await finetune(ftConfig({ from: other, steps: 2, out: run }), quiet);
    const b = latest(other);
    // Another checkpoint (valid in itself) where the adapters' base was.
    cpSync(latest(base).path, b.path, { recursive: true, force: true });
    await expect(classifyMain(['--checkpoint', run, '--text', 'the sea'])).rejects.toThrow(
      /^--checkpoint .*lora-moved: checkpoint .*: adapters belong to base .*other-base.*ckpt-\d+ \(sha256 [0-9a-f]{16}…\), got sha256 [0-9a-f]{16}… there$/,
    );
  });
});
