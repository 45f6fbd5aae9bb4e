// LoRA (model/lora.ts, lora-store.ts, lora-reference.ts): the --lora spec and its errors, the
// float64 reference against finite differences, the GPU adapted linear layer (forward and the
// gradients of x, A, B) against that reference, step 0 = the base model, merged = adapted,
// training that leaves the base bit-identical with moments for the adapters only, and the
// adapters' checkpoint: apart from the base, verified against it by checksum.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { assertClose } from '../../kernels/check.ts';
import { loadModel, readCheckpoint, saveCheckpoint, writeCheckpoint } from '../../model/checkpoint.ts';
import { resolveConfig, type GPTConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { paramLayout } from '../../model/layout.ts';
import { loraLayout, loraTargets, mergeLora, parseLora, type LoraConfig } from '../../model/lora.ts';
import { loraLinearBackward, loraLinearForward, type LoraLinearInputs } from '../../model/lora-reference.ts';
import { addLora, LoraAdapters } from '../../model/lora-store.ts';
import { AdamW } from '../../model/optimizer.ts';
import { trainStep } from '../../model/train-step.ts';
import { dot, expectClose, numericalGradient } from '../reference/fd.ts';
import { randomParams } from './random-params.ts';

let rt: E.Runtime;
let tmp: string;
beforeAll(async () => {
  rt = await E.initEngine();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lora-'));
});
afterAll(async () => {
  await rt.sync();
  fs.rmSync(tmp, { recursive: true, force: true });
});

const tiny = (over: Partial<GPTConfig> = {}): GPTConfig => ({ ...resolveConfig({ preset: 'tiny' }), ...over });

describe('the --lora spec', () => {
  it('parses key=value pairs, the targets list running over commas, defaults for the rest', () => {
    expect(parseLora('rank=8,alpha=16,targets=c_attn,c_proj,c_fc,dropout=0.05')).toEqual({
      rank: 8,
      alpha: 16,
      targets: ['c_attn', 'c_proj', 'c_fc'],
      dropout: 0.05,
    });
    expect(parseLora('rank=4')).toEqual({ rank: 4, alpha: 16, targets: ['c_attn', 'c_proj', 'c_fc'], dropout: 0 });
    expect(parseLora('targets=attn.c_proj, rank=2').targets).toEqual(['attn.c_proj']);
  });

  it('bad strings are one-line errors naming the piece', () => {
    expect(() => parseLora('rank=0')).toThrow(/rank must be an integer >= 1, got 0/);
    expect(() => parseLora('rank=2.5')).toThrow(/rank must be an integer/);
    expect(() => parseLora('rank=x')).toThrow(/rank must be a number, got "x"/);
    expect(() => parseLora('alpha=-1')).toThrow(/alpha must be > 0/);
    expect(() => parseLora('dropout=1')).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => parseLora('ranks=8')).toThrow(/unknown key "ranks" \(keys: rank, alpha, targets, dropout\)/);
    expect(() => parseLora('rank=8,c_attn')).toThrow(/"c_attn" is not key=value/);
    expect(() => parseLora('rank=8,,alpha=2')).toThrow(/empty item/);
    expect(() => parseLora('rank=8,rank=4')).toThrow(/key "rank" given twice/);
    expect(() => parseLora('targets=')).toThrow(/targets is empty/);
    expect(() => parseLora('targets=c-attn')).toThrow(/target "c-attn" is not a layer name/);
  });

  it('c_proj matches both projections, attn.c_proj one, h.1.mlp.c_fc one layer; nothing matched is an error', () => {
    const c = tiny();
    const t = (targets: string[]): string[] => loraTargets(c, { ...parseLora('rank=2'), targets });
    expect(t(['c_proj'])).toEqual(['h.0.attn.c_proj', 'h.0.mlp.c_proj', 'h.1.attn.c_proj', 'h.1.mlp.c_proj']);
    expect(t(['attn.c_proj'])).toEqual(['h.0.attn.c_proj', 'h.1.attn.c_proj']);
    expect(t(['h.1.mlp.c_fc', 'c_attn'])).toEqual(['h.0.attn.c_attn', 'h.1.attn.c_attn', 'h.1.mlp.c_fc']);
    expect(() => t(['q_proj'])).toThrow(/target "q_proj" matches no linear layer \(GPT-2's are attn.c_attn, /);
    expect(() => t(['h.5.attn.c_attn'])).toThrow(/matches no linear layer/);
  });

  it('lays out A [in, r] and B [r, out] per layer, the head when the model has one', () => {
    const L = loraLayout(tiny({ nClasses: 3 }), { ...parseLora('rank=4,targets=c_fc') });
    expect(L.entries.map((e) => [e.name, e.shape])).toEqual([
      ['h.0.mlp.c_fc.lora_A', [16, 4]],
      ['h.0.mlp.c_fc.lora_B', [4, 64]],
      ['h.1.mlp.c_fc.lora_A', [16, 4]],
      ['h.1.mlp.c_fc.lora_B', [4, 64]],
      ['score.weight', [3, 16]],
      ['score.bias', [3]],
    ]);
    expect(L.count).toBe(2 * (16 * 4 + 4 * 64) + 3 * 16 + 3);
  });
});

function inputs(seed: number, M: number, IN: number, OUT: number, R: number): LoraLinearInputs {
  const rng = new E.Rng(seed);
  const r = (n: number, s = 0.5) => Float64Array.from(Float32Array.from({ length: n }, () => s * rng.normal()));
  return { x: r(M * IN), W: r(IN * OUT), b: r(OUT), A: r(IN * R), B: r(R * OUT), M, IN, OUT, R, scale: 2 };
}

describe('the adapted linear layer', () => {
  it('float64 reference: the gradients of x, A, B, W, b match finite differences', () => {
    const p = inputs(1, 3, 4, 5, 2);
    const dy = inputs(2, 3, 5, 1, 1).x; // [M, OUT] of random weights
    const f = (): number => dot(loraLinearForward(p).y, dy);
    const g = loraLinearBackward(p, dy);
    for (const [name, analytic] of [
      ['x', g.dx],
      ['A', g.dA],
      ['B', g.dB],
      ['W', g.dW],
      ['b', g.db],
    ] as const)
      expectClose(analytic, numericalGradient(f, p[name]), { rtol: 1e-6, atol: 1e-8, label: `d${name}` });
  });

  it('GPU: y, dx, dA, dB against the reference; the frozen W gets no gradient', async () => {
    const c = tiny();
    const M = 6;
    const lc: LoraConfig = { rank: 4, alpha: 8, targets: ['h.0.attn.c_proj'], dropout: 0 };
    const L = loraLayout(c, lc);
    const p = { ...inputs(3, M, 16, 16, 4), scale: 2 };
    const flat = new Float32Array(L.total);
    flat.set(Float32Array.from(p.A), L.byName.get('h.0.attn.c_proj.lora_A')!.offset);
    flat.set(Float32Array.from(p.B), L.byName.get('h.0.attn.c_proj.lora_B')!.offset);
    const a = LoraAdapters.create(c, lc, { initial: flat });
    const dyRef = inputs(4, M, 16, 1, 1).x;
    const x = E.fromArray(Float32Array.from(p.x), [2, 3, 16]).param('x');
    const W = E.keep(E.fromArray(Float32Array.from(p.W), [16, 16]));
    const b = E.keep(E.fromArray(Float32Array.from(p.b), [16]));
    const y = E.tidy(() => {
      const out = a.adapt('h.0.attn.c_proj', x, E.linear(x, W, b), (t) => t);
      E.backward(E.sum(E.mul(out, E.fromArray(Float32Array.from(dyRef), [2, 3, 16]))));
      return out;
    });
    const ref = loraLinearForward(p);
    const g = loraLinearBackward(p, dyRef);
    assertClose(await y.data(), ref.y, 'f32Reduce', 'y');
    assertClose(await x.grad!.data(), g.dx, 'f32Reduce', 'dx');
    assertClose(await a.get('h.0.attn.c_proj.lora_A').grad!.data(), g.dA, 'f32Reduce', 'dA');
    assertClose(await a.get('h.0.attn.c_proj.lora_B').grad!.data(), g.dB, 'f32Reduce', 'dB');
    expect(W.grad).toBe(null);
    for (const t of [y, x, W, b]) t.dispose();
    a.dispose();
  });
});

function batch(seed: number, c: GPTConfig, B = 2): { ids: E.Tensor; targets: E.Tensor } {
  const rng = new E.Rng(seed);
  const n = B * c.blockSize;
  const ids = Int32Array.from({ length: n }, () => rng.int(c.vocabSize));
  const tgt = Int32Array.from({ length: n }, () => rng.int(c.vocabSize));
  return {
    ids: E.keep(E.fromArray(ids, [B, c.blockSize], 'i32')),
    targets: E.keep(E.fromArray(tgt, [B, c.blockSize], 'i32')),
  };
}

async function logitsOf(model: GPT, b: { ids: E.Tensor }): Promise<Float32Array> {
  const out = E.tidy(() => E.noGrad(() => E.keep(model.forward(b.ids, null, { train: false }).logits)));
  const data = (await out.data()) as Float32Array;
  out.dispose();
  return data;
}

const ALL: LoraConfig = { rank: 4, alpha: 8, targets: ['c_attn', 'c_proj', 'c_fc'], dropout: 0 };

describe('an adapted GPT', () => {
  it('at step 0 gives exactly the base logits; merged weights give the adapted logits', async () => {
    const c = tiny();
    const params = randomParams(paramLayout(c), 5);
    const model = GPT.fromParams(c, params);
    const b = batch(6, c);
    const base = await logitsOf(model, b);
    const a = await addLora(model, ALL, { seed: 1 });
    expect(Array.from(await logitsOf(model, b))).toEqual(Array.from(base));
    // Non-zero B (as after training): the adapted model vs the merged one.
    const L = a.layout;
    const values = await a.download();
    const rng = new E.Rng(9);
    for (const e of L.entries)
      if (e.name.endsWith('lora_B')) for (let i = 0; i < e.size; i++) values[e.offset + i] = 0.2 * rng.normal();
    a.upload(values);
    const adapted = await logitsOf(model, b);
    expect(adapted.some((v, i) => Math.abs(v - base[i]!) > 1e-3)).toBe(true);
    const merged = GPT.fromParams(c, mergeLora(L, values, params));
    assertClose(await logitsOf(merged, b), adapted, 'f32Chain', 'merged vs adapted logits');
    for (const m of [model, merged]) m.dispose();
    a.dispose();
  });

  it('training moves only the adapters: the base stays bit-identical, moments cover the adapters only', async () => {
    const c = tiny({ nClasses: 0, dropout: 0.1 });
    const params = randomParams(paramLayout(c), 7);
    const model = GPT.fromParams(c, params);
    const a = await addLora(model, { ...ALL, dropout: 0.1 }, { seed: 2 });
    const opt = new AdamW(a, { maxNorm: 1 });
    expect(opt.stateBytes).toBe(2 * 4 * a.n);
    expect(a.n).toBeLessThan(model.params.n);
    const before = await a.download();
    for (let step = 0; step < 3; step++) {
      const r = await trainStep(model, opt, [batch(10 + step, c)], { lr: 1e-2 });
      expect(Number.isFinite(r.loss)).toBe(true);
    }
    const after = await model.params.download();
    expect(Buffer.from(after.buffer).equals(Buffer.from(params.buffer))).toBe(true);
    // The base's gradient buffer was never written: backward computed no base gradient.
    expect((await model.params.downloadGrads()).every((g) => g === 0)).toBe(true);
    const trained = await a.download();
    for (const e of a.layout.entries) {
      const moved = trained.subarray(e.offset, e.offset + e.size).some((v, i) => v !== before[e.offset + i]);
      expect(moved, e.name).toBe(true);
    }
    opt.dispose();
    a.dispose();
    model.dispose();
  });
});

describe('LoRA learns', () => {
  it('fits one batch: the loss falls well below its start with the base frozen', async () => {
    const c = tiny();
    const model = GPT.fromParams(c, randomParams(paramLayout(c), 14));
    const a = await addLora(model, { ...ALL, rank: 4 }, { seed: 4 });
    const opt = new AdamW(a, { weightDecay: 0 });
    const b = batch(30, c);
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) losses.push((await trainStep(model, opt, [b], { lr: 3e-2 })).loss);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! - 0.5);
    opt.dispose();
    a.dispose();
    model.dispose();
  });
});

describe('LoRA checkpoints', () => {
  it('store the adapters apart, load them onto the verified base, and refuse another base', async () => {
    const c = tiny({ nClasses: 2 });
    const baseCfg = tiny();
    const baseParams = randomParams(paramLayout(baseCfg), 11);
    const baseDir = writeCheckpoint(path.join(tmp, 'base'), { meta: { step: 5, config: baseCfg }, params: baseParams });
    const sha256 = readCheckpoint(baseDir).sidecar.files['model.safetensors']!.sha256;
    // The model's weights: the base's, with a head the base lacks (as a classify fine-tune starts).
    const L = paramLayout(c);
    const w = randomParams(L, 12);
    for (const e of paramLayout(baseCfg).entries)
      w.set(baseParams.subarray(e.offset, e.offset + e.size), L.byName.get(e.name)!.offset);
    const model = GPT.fromParams(c, w);
    const a = await addLora(model, ALL, { seed: 3, base: { path: baseDir, sha256 } });
    const opt = new AdamW(a);
    await trainStep(model, opt, [batch(20, c)], { lr: 1e-2 });
    const dir = await saveCheckpoint(path.join(tmp, 'run'), { model, optimizer: opt, meta: { step: 1 } });
    expect(fs.readdirSync(dir).sort()).toEqual(['adapters.safetensors', 'checkpoint.json', 'optimizer.safetensors']);
    expect(fs.statSync(path.join(dir, 'adapters.safetensors')).size).toBeLessThan(a.n * 4 + 4096);
    const back = readCheckpoint(dir);
    expect(back.lora!.base).toEqual({ path: baseDir, sha256 });
    expect(Array.from(back.lora!.params)).toEqual(Array.from(await a.download()));
    // The base's weights (the head, which the base lacks, travels with the adapters).
    const now = await model.params.download();
    for (const e of L.entries)
      if (!e.name.startsWith('score.'))
        expect(Array.from(back.params.subarray(e.offset, e.offset + e.size)), e.name).toEqual(
          Array.from(now.subarray(e.offset, e.offset + e.size)),
        );
    expect(back.optimizer!.m.length).toBe(a.n);
    const b = batch(21, c);
    const { model: loaded } = await loadModel(dir);
    model.eval();
    assertClose(await logitsOf(loaded, b), await logitsOf(model, b), 'exact', 'loaded LoRA model');
    // The base replaced by other weights: the adapters no longer belong to it.
    writeCheckpoint(path.join(tmp, 'base'), {
      meta: { step: 5, config: baseCfg },
      params: randomParams(paramLayout(baseCfg), 13),
    });
    expect(() => readCheckpoint(dir)).toThrow(
      /adapters belong to base .*ckpt-00000005 \(sha256 [0-9a-f]{16}…\), got sha256 [0-9a-f]{16}… there/,
    );
    for (const m of [model, loaded]) m.dispose();
    opt.dispose();
    a.dispose();
  });
});
