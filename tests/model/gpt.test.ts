// The GPU GPT against the float64 reference (model/reference.ts): logits, loss, every parameter
// gradient, a 10-step AdamW trajectory with clipping and accumulation; then overfitting one batch,
// dropout, flat memory, and a bit-exact checkpoint resume through the GPU buffers.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { resolveConfig, type GPTConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { paramLayout } from '../../model/layout.ts';
import { AdamW, readStats, type AdamWConfig } from '../../model/optimizer.ts';
import { refAdamWStep, refForward, refBackward, refLossAndGrads } from '../../model/reference.ts';
import { loadLatestCheckpoint, restoreCheckpoint, saveCheckpoint } from '../../model/checkpoint.ts';
import { trainStep } from '../../model/train-step.ts';
import { assertClose } from '../../kernels/check.ts';
import { assertGradsClose, randomParams } from './random-params.ts';

let rt: E.Runtime;
beforeAll(async () => {
  rt = await E.initEngine();
});
afterAll(async () => {
  await rt.sync();
});

const cfg = resolveConfig({ preset: 'tiny' }); // vocab 32 (padded 64), ctx 8, 2 layers, 2 heads, 16 wide
const layout = paramLayout(cfg);

function batch(seed: number, B: number, T: number, V: number): { ids: Int32Array; tgt: Int32Array } {
  const rng = new E.Rng(seed);
  return {
    ids: Int32Array.from({ length: B * T }, () => rng.int(V)),
    tgt: Int32Array.from({ length: B * T }, () => rng.int(V)),
  };
}

const f64 = (a: Float32Array) => Float64Array.from(a);

function upload(b: { ids: Int32Array; tgt: Int32Array }, B: number, T: number): { ids: E.Tensor; tgt: E.Tensor } {
  return { ids: E.fromArray(b.ids, [B, T], 'i32'), tgt: E.fromArray(b.tgt, [B, T], 'i32') };
}

describe('GPT vs the float64 reference', () => {
  it('logits, loss and every parameter gradient match', async () => {
    const model = GPT.fromParams(cfg, randomParams(layout, 11));
    const flat = await model.params.download();
    const B = 2;
    const T = 8;
    const b = batch(5, B, T, cfg.vocabSize);
    b.tgt[3] = -1; // an ignored target
    model.params.zeroGrads();
    const { logits, loss } = E.tidy(() => {
      const { ids, tgt } = upload(b, B, T);
      const r = model.forward(ids, tgt);
      E.backward(r.loss!);
      return r;
    });
    const ref = refForward(layout, f64(flat), b.ids, B, T, b.tgt);
    const refGrads = refBackward(layout, f64(flat), ref);
    expect(logits.shape).toEqual([B, T, cfg.paddedVocabSize]);
    assertClose(await logits.data(), ref.logits, 'f32Chain', 'logits');
    assertClose([await loss!.item()], [ref.loss!], 'f32Chain', 'loss');
    const grads = await model.params.downloadGrads();
    assertGradsClose(layout, grads, refGrads);
    // The gaps between tensors and the padded vocabulary rows get exactly zero.
    assertClose(grads, refGrads, 'f32Chain', 'flat gradient');
    logits.dispose();
    loss!.dispose();
    model.dispose();
  });

  it('a wider model (head size 64, odd T, vocabulary 100 padded to 128) matches, with poisoned new tensors', async () => {
    const c = resolveConfig({ preset: 'tiny', vocabSize: 100, blockSize: 24, nLayer: 1, nHead: 2, nEmbd: 128 });
    const L = paramLayout(c);
    const model = GPT.fromParams(c, randomParams(L, 15, 0.05));
    const flat = await model.params.download();
    const B = 3;
    const T = 19;
    const b = batch(16, B, T, c.vocabSize);
    rt.poisonNewTensors = true; // an element a kernel forgets to write reads as NaN and fails
    try {
      model.params.zeroGrads();
      const { logits, loss } = E.tidy(() => {
        const { ids, tgt } = upload(b, B, T);
        const r = model.forward(ids, tgt);
        E.backward(r.loss!);
        return r;
      });
      const ref = refLossAndGrads(L, f64(flat), b.ids, b.tgt, B, T);
      assertClose(await logits.data(), ref.logits, 'f32Chain', 'logits');
      assertClose([await loss!.item()], [ref.loss], 'f32Chain', 'loss');
      const grads = await model.params.downloadGrads();
      assertGradsClose(L, grads, ref.grads);
      logits.dispose();
      loss!.dispose();
    } finally {
      rt.poisonNewTensors = false;
    }
    model.dispose();
  });

  it('a shorter sequence (T < blockSize) and B = 1 match too', async () => {
    const model = GPT.fromParams(cfg, randomParams(layout, 12));
    const flat = await model.params.download();
    const b = batch(6, 1, 5, cfg.vocabSize);
    model.params.zeroGrads();
    const loss = E.tidy(() => {
      const { ids, tgt } = upload(b, 1, 5);
      const { loss } = model.forward(ids, tgt);
      E.backward(loss!);
      return loss!;
    });
    const ref = refLossAndGrads(layout, f64(flat), b.ids, b.tgt, 1, 5);
    assertClose([await loss.item()], [ref.loss], 'f32Chain', 'loss');
    assertClose(await model.params.downloadGrads(), ref.grads, 'f32Chain', 'gradients');
    loss.dispose();
    model.dispose();
  });

  it('a 10-step AdamW trajectory (clipping, weight decay, accumulation) matches', async () => {
    const opt: AdamWConfig = { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, maxNorm: 1.0 };
    const lr = (s: number) => 3e-3 * (0.5 + 0.5 * Math.cos((Math.PI * s) / 10));
    const B = 2;
    const T = 8;
    const start = randomParams(layout, 13);
    const model = GPT.fromParams(cfg, start);
    const adam = new AdamW(model.params, opt);
    // Float64 side.
    const p64 = f64(start);
    const m64 = new Float64Array(layout.total);
    const v64 = new Float64Array(layout.total);
    const gpuLoss: number[] = [];
    const gpuNorm: number[] = [];
    const refLoss: number[] = [];
    const refNorm: number[] = [];
    for (let step = 0; step < 10; step++) {
      // Steps 3 and 7 accumulate two micro-batches (gradScale 1/2).
      const micro = step % 4 === 3 ? 2 : 1;
      // The same two batches throughout, so that the loss must go down.
      const batches = Array.from({ length: micro }, (_, k) => batch(100 + ((step + k) % 2), B, T, cfg.vocabSize));
      model.params.zeroGrads();
      const losses = batches.map((b) =>
        E.tidy(() => {
          const { ids, tgt } = upload(b, B, T);
          const { loss } = model.forward(ids, tgt);
          E.backward(loss!);
          return loss!;
        }),
      );
      adam.step({ lr: lr(step), gradScale: 1 / micro });
      const s = await readStats(losses, adam);
      for (const l of losses) l.dispose();
      gpuLoss.push(s.loss);
      gpuNorm.push(s.gradNorm);

      const g64 = new Float64Array(layout.total);
      let lsum = 0;
      for (const b of batches) {
        const r = refLossAndGrads(layout, p64, b.ids, b.tgt, B, T);
        lsum += r.loss;
        for (let i = 0; i < g64.length; i++) g64[i]! += r.grads[i]!;
      }
      refLoss.push(lsum / micro);
      refNorm.push(refAdamWStep(layout, p64, g64, m64, v64, step + 1, { ...opt, lr: lr(step), gradScale: 1 / micro }));
    }
    assertClose(gpuLoss, refLoss, 'f32Chain', 'loss trajectory');
    assertClose(gpuNorm, refNorm, 'f32Chain', 'grad-norm trajectory');
    expect(refNorm.some((n) => n > 1)).toBe(true); // clipping was exercised
    expect(gpuLoss[9]!).toBeLessThan(gpuLoss[0]!);
    assertClose(await model.params.download(), p64, 'f32Chain', 'parameters after 10 steps');
    expect(adam.stepCount).toBe(10);
    adam.dispose();
    model.dispose();
  });
});

describe('training behaviour', () => {
  it('overfits one batch to near-zero loss', async () => {
    const c: GPTConfig = resolveConfig({ preset: 'tiny', nEmbd: 32, nHead: 2 });
    const model = GPT.create(c, { seed: 1 });
    const adam = new AdamW(model.params, { weightDecay: 0 });
    const B = 2;
    const T = 8;
    const b = batch(77, B, T, c.vocabSize);
    const ids = E.keep(E.fromArray(b.ids, [B, T], 'i32'));
    const tgt = E.keep(E.fromArray(b.tgt, [B, T], 'i32'));
    let first = NaN;
    let last = NaN;
    let steps = 0;
    const t0 = performance.now();
    for (; steps < 400; steps++) {
      model.params.zeroGrads();
      const loss = E.tidy(() => {
        const { loss } = model.forward(ids, tgt);
        E.backward(loss!);
        return loss!;
      });
      adam.step({ lr: 1e-2 });
      if (steps === 0 || steps % 20 === 19) {
        last = (await readStats(loss, adam)).loss;
        if (steps === 0) first = last;
      }
      loss.dispose();
      if (last < 0.05) break;
    }
    const ms = performance.now() - t0;
    console.log(
      `overfit: loss ${first.toFixed(3)} -> ${last.toFixed(4)} in ${steps + 1} steps, ${(ms / (steps + 1)).toFixed(1)} ms/step`,
    );
    expect(first).toBeGreaterThan(3); // ~ln(32)
    expect(last).toBeLessThan(0.05);
    ids.dispose();
    tgt.dispose();
    adam.dispose();
    model.dispose();
  });

  it('gradients accumulate across backward calls until zeroGrads', async () => {
    const model = GPT.fromParams(cfg, randomParams(layout, 14));
    const b = batch(8, 2, 4, cfg.vocabSize);
    const run = () =>
      E.tidy(() => {
        const { ids, tgt } = upload(b, 2, 4);
        E.backward(model.forward(ids, tgt).loss!);
      });
    model.params.zeroGrads();
    run();
    const once = await model.params.downloadGrads();
    run();
    const twice = await model.params.downloadGrads();
    assertClose(
      twice,
      once.map((g) => 2 * g),
      'f32',
      'two backward calls',
    );
    // A user calling zeroGrad() on a parameter detaches its view; zeroGrads re-attaches it.
    model.params.get('ln_f.bias').zeroGrad();
    model.params.zeroGrads();
    run();
    assertClose(await model.params.downloadGrads(), once, 'exact', 'after zeroGrads');
    model.dispose();
  });

  it('dropout: seeded in train mode, off in eval mode, and memory stays flat over steps', async () => {
    const c = resolveConfig({ preset: 'tiny', dropout: 0.2 });
    const model = GPT.create(c, { seed: 3 });
    const adam = new AdamW(model.params);
    const b = batch(9, 2, 8, c.vocabSize);
    const lossOf = (o: { train?: boolean; dropoutSeed?: number }) =>
      E.tidy(() => {
        const { ids, tgt } = upload(b, 2, 8);
        return E.noGrad(() => model.forward(ids, tgt, o).loss!);
      });
    const read = async (t: E.Tensor) => {
      const v = await t.item();
      t.dispose();
      return v;
    };
    const a1 = await read(lossOf({ dropoutSeed: 1 }));
    const a2 = await read(lossOf({ dropoutSeed: 1 }));
    const b1 = await read(lossOf({ dropoutSeed: 2 }));
    const e1 = await read(lossOf({ train: false }));
    model.eval();
    const e2 = await read(lossOf({}));
    model.train();
    expect(a1).toBe(a2);
    expect(a1).not.toBe(b1);
    expect(e1).toBe(e2);
    expect(e1).not.toBe(a1);
    // A few training steps with dropout: finite, and no buffer leaks after the first step.
    let inUse = 0;
    for (let s = 0; s < 5; s++) {
      model.params.zeroGrads();
      const loss = E.tidy(() => {
        const { ids, tgt } = upload(b, 2, 8);
        const { loss } = model.forward(ids, tgt, { dropoutSeed: 100 + s });
        E.backward(loss!);
        return loss!;
      });
      adam.step({ lr: 1e-3 });
      const st = await readStats(loss, adam);
      loss.dispose();
      expect(Number.isFinite(st.loss) && Number.isFinite(st.gradNorm)).toBe(true);
      if (s === 1) inUse = rt.pool.buffersInUse;
      if (s > 1) expect(rt.pool.buffersInUse).toBe(inUse);
    }
    adam.dispose();
    model.dispose();
  });

  it('trainStep: accumulation as the manual loop; a non-finite step is skipped, weights untouched', async () => {
    const start = randomParams(layout, 17);
    const a = GPT.fromParams(cfg, start);
    const b = GPT.fromParams(cfg, start);
    const optA = new AdamW(a.params);
    const optB = new AdamW(b.params);
    const data = [batch(40, 2, 8, cfg.vocabSize), batch(41, 2, 8, cfg.vocabSize)];
    const micro = data.map((d) => {
      const t = upload(d, 2, 8);
      return { ids: E.keep(t.ids), targets: E.keep(t.tgt) };
    });
    const r = await trainStep(a, optA, micro, { lr: 1e-2 });
    b.params.zeroGrads();
    const losses = micro.map((m) =>
      E.tidy(() => {
        const { loss } = b.forward(m.ids, m.targets);
        E.backward(loss!);
        return loss!;
      }),
    );
    optB.step({ lr: 1e-2, gradScale: 0.5 });
    const s = await readStats(losses, optB);
    losses.forEach((l) => l.dispose());
    expect(r).toEqual({ ...s, skipped: false });
    expect(
      Buffer.from((await a.params.download()).buffer).equals(Buffer.from((await b.params.download()).buffer)),
    ).toBe(true);
    // Poison one weight: the loss is NaN, the update is not applied.
    const bad = await a.params.download();
    bad[layout.byName.get('ln_f.weight')!.offset] = NaN;
    a.params.upload(bad);
    const skipped = await trainStep(a, optA, micro, { lr: 1e-2, skipNonFinite: true });
    expect(skipped.skipped).toBe(true);
    expect(Number.isNaN(skipped.loss)).toBe(true);
    expect(optA.stepCount).toBe(1);
    const after = await a.params.download();
    expect(Buffer.from(after.buffer).equals(Buffer.from(bad.buffer))).toBe(true);
    const fine = await trainStep(b, optB, micro, { lr: 1e-2, skipNonFinite: true });
    expect(fine.skipped).toBe(false);
    expect(optB.stepCount).toBe(2);
    for (const m of micro) {
      m.ids.dispose();
      m.targets.dispose();
    }
    for (const x of [optA, optB, a, b]) x.dispose();
  });

  it('rejects bad inputs with clear errors', () => {
    const model = GPT.create(cfg);
    E.tidy(() => {
      expect(() => model.forward(E.zeros([1, 4]))).toThrow(/ids must be an i32 tensor \[B, T\]/);
      expect(() => model.forward(E.zeros([4], 'i32'))).toThrow(/ids must be \[B, T\]/);
      expect(() => model.forward(E.zeros([1, 9], 'i32'))).toThrow(/sequence length 9 exceeds the model's blockSize 8/);
      expect(() => model.forward(E.zeros([1, 4], 'i32'), E.zeros([1, 3], 'i32'))).toThrow(
        /targets .* do not match ids \[1, 4\]/,
      );
    });
    expect(() => model.params.get('h.9.ln_1.weight')).toThrow(/no parameter named "h.9.ln_1.weight"/);
    expect(() => new AdamW(model.params, { lr: 1 } as never)).toThrow(/unknown option "lr"/);
    model.dispose();
  });
});

describe('typed parameter views', () => {
  it('model.w reaches every tensor of the layout by its GPT-2 name, the same view as params.get', () => {
    const model = GPT.create(cfg);
    let leaves = 0;
    const walk = (node: unknown): void => {
      if (node instanceof E.Tensor) leaves++;
      else for (const child of Object.values(node as object)) walk(child);
    };
    walk(model.w);
    expect(leaves).toBe(layout.entries.length);
    for (const e of layout.entries) {
      // 'h.1.attn.c_attn.weight' → model.w.h[1].attn.c_attn.weight
      const leaf = e.name.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], model.w);
      expect(leaf, e.name).toBe(model.params.get(e.name));
    }
    expect(model.w.h).toHaveLength(cfg.nLayer);
    expect(model.w.h[1]!.mlp.c_fc.weight.shape).toEqual([cfg.nEmbd, 4 * cfg.nEmbd]);
    expect(model.w.wte.weight.shape).toEqual([cfg.paddedVocabSize, cfg.nEmbd]);
    // @ts-expect-error a misspelled name does not compile
    expect(model.w.h[0]!.attn.c_atn).toBeUndefined();
    // @ts-expect-error nor does a tensor GPT-2 does not have
    expect(model.w.lm_head).toBeUndefined();
    model.dispose();
  });
});

describe('checkpoint through the GPU', () => {
  it('save, restore into a fresh model and optimizer, continue: bit-identical to not stopping', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt-ckpt-'));
    const B = 2;
    const T = 8;
    const step = async (model: GPT, adam: AdamW, s: number) => {
      model.params.zeroGrads();
      const loss = E.tidy(() => {
        const { ids, tgt } = upload(batch(200 + s, B, T, cfg.vocabSize), B, T);
        const { loss } = model.forward(ids, tgt);
        E.backward(loss!);
        return loss!;
      });
      adam.step({ lr: 1e-2 });
      const st = await readStats(loss, adam);
      loss.dispose();
      return st.loss;
    };
    try {
      const a = GPT.create(cfg, { seed: 21 });
      const optA = new AdamW(a.params);
      for (let s = 0; s < 3; s++) await step(a, optA, s);
      await saveCheckpoint(dir, { model: a, optimizer: optA, meta: { step: 3, tokenizer: 'test', rng: { s: 1 } } });
      const cont: number[] = [];
      for (let s = 3; s < 5; s++) cont.push(await step(a, optA, s));

      const ck = loadLatestCheckpoint(dir);
      expect(ck.meta.step).toBe(3);
      const b = GPT.create(ck.meta.config, { seed: 999 });
      const optB = new AdamW(b.params);
      restoreCheckpoint(ck, b, optB);
      expect(optB.stepCount).toBe(3);
      const resumed: number[] = [];
      for (let s = 3; s < 5; s++) resumed.push(await step(b, optB, s));
      expect(resumed).toEqual(cont);
      const pa = await a.params.download();
      const pb = await b.params.download();
      expect(Buffer.from(pa.buffer).equals(Buffer.from(pb.buffer))).toBe(true);
      const sa = await optA.exportState();
      const sb = await optB.exportState();
      expect(Buffer.from(sa.m.buffer).equals(Buffer.from(sb.m.buffer))).toBe(true);
      expect(Buffer.from(sa.v.buffer).equals(Buffer.from(sb.v.buffer))).toBe(true);
      for (const x of [optA, optB, a, b]) x.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
