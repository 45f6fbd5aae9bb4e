// The classification head (config.nClasses > 0): its layout entries, the float64 reference's
// gradients against finite differences, and the GPU model's head + trunk gradients (with and
// without the auxiliary LM loss) against that reference; `forward(..., { hidden: true })` returns
// ln_f's output without running the LM head.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { resolveConfig, validateConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { paramLayout } from '../../model/layout.ts';
import { refClassifyLossAndGrads, refForward } from '../../model/reference.ts';
import { loadLatestCheckpoint, saveCheckpoint } from '../../model/checkpoint.ts';
import { assertClose } from '../../kernels/check.ts';
import { expectClose, numericalGradient } from '../reference/fd.ts';
import { assertGradsClose, randomParams } from './random-params.ts';

let rt: E.Runtime;
beforeAll(async () => {
  rt = await E.initEngine();
});
afterAll(async () => {
  await rt.sync();
});

function classBatch(seed: number, B: number, T: number, V: number, K: number) {
  const rng = new E.Rng(seed);
  return {
    ids: Int32Array.from({ length: B * T }, () => rng.int(V)),
    targets: Int32Array.from({ length: B * T }, () => rng.int(V)),
    last: Int32Array.from({ length: B }, (_, b) => (b === 0 ? T - 1 : rng.int(T))),
    labels: Int32Array.from({ length: B }, () => rng.int(K)),
    B,
    T,
  };
}

describe('classification head layout and config', () => {
  it('score.weight [nClasses, C] and score.bias exist only when nClasses > 0; the weight is decayed', () => {
    const plain = paramLayout(resolveConfig({ preset: 'tiny' }));
    expect(plain.byName.has('score.weight')).toBe(false);
    const cfg = resolveConfig({ preset: 'tiny', nClasses: 3 });
    const L = paramLayout(cfg);
    expect(L.byName.get('score.weight')!.shape).toEqual([3, cfg.nEmbd]);
    expect(L.byName.get('score.weight')!.decay).toBe(true);
    expect(L.byName.get('score.bias')!.shape).toEqual([3]);
    expect(L.byName.get('score.bias')!.decay).toBe(false);
    expect(L.count).toBe(plain.count + 3 * cfg.nEmbd + 3);
    expect(resolveConfig({ preset: 'tiny', nClasses: 0 })).toEqual(resolveConfig({ preset: 'tiny' }));
    expect(() => validateConfig({ ...cfg, nClasses: 1.5 })).toThrow(/nClasses must be a non-negative integer/);
  });
});

describe('gatherRows argument checks', () => {
  it('names the op and the shapes', () => {
    E.tidy(() => {
      const x = E.zeros([2, 3, 4]);
      const pos = E.fromArray(new Int32Array([0, 2]), [2], 'i32');
      expect(() => E.gatherRows(E.zeros([6, 4]), pos)).toThrow(/gatherRows: x must be \[B, T, C\]/);
      expect(() => E.gatherRows(x, E.fromArray(new Int32Array([0, 1, 2]), [3], 'i32'))).toThrow(
        /gatherRows: positions .* must be \[2\]/,
      );
      expect(() => E.gatherRows(x, E.zeros([2]))).toThrow(/gatherRows: expected an i32 or u32 index tensor/);
      expect(E.gatherRows(x, pos).shape).toEqual([2, 4]);
    });
  });
});

describe('classification head, float64 reference', () => {
  it('every gradient (head and trunk, with an auxiliary LM loss) matches central finite differences', () => {
    const cfg = resolveConfig({ preset: 'tiny', vocabSize: 20, blockSize: 6, nEmbd: 8, nHead: 2, nClasses: 3 });
    const L = paramLayout(cfg);
    const params = Float64Array.from(randomParams(L, 3, 0.3));
    const b = classBatch(4, 3, 5, cfg.vocabSize, 3);
    const aux = { targets: b.targets, lmWeight: 0.3 };
    const { grads } = refClassifyLossAndGrads(L, params, b, aux);
    const numeric = numericalGradient(() => refClassifyLossAndGrads(L, params, b, aux).loss, params, 1e-5);
    for (const e of L.entries) {
      expectClose(grads.subarray(e.offset, e.offset + e.size), numeric.subarray(e.offset, e.offset + e.size), {
        rtol: 1e-5,
        atol: 1e-8,
        label: e.name,
      });
    }
    expect(grads.subarray(L.byName.get('score.bias')!.offset).some((v) => v !== 0)).toBe(true);
  });
});

describe('classification head, GPU vs the float64 reference', () => {
  const cfg = resolveConfig({ preset: 'tiny', nClasses: 3 });
  const L = paramLayout(cfg);

  async function compare(lmWeight: number | null, B: number, T: number): Promise<void> {
    const model = GPT.fromParams(cfg, randomParams(L, 21, 0.3));
    const flat = await model.params.download();
    const b = classBatch(9, B, T, cfg.vocabSize, 3);
    model.params.zeroGrads();
    const [logits, loss] = E.tidy(() => {
      const ids = E.fromArray(b.ids, [B, T], 'i32');
      const tgt = lmWeight === null ? null : E.fromArray(b.targets, [B, T], 'i32');
      const r = model.forward(ids, tgt, { hidden: true });
      const scores = model.classify(r.hidden, E.fromArray(b.last, [B], 'i32'));
      let l = E.crossEntropy(scores, E.fromArray(b.labels, [B], 'i32'));
      if (r.loss) l = E.add(l, E.mulScalar(r.loss, lmWeight!));
      E.backward(l);
      return [scores, l];
    });
    const ref = refClassifyLossAndGrads(
      L,
      Float64Array.from(flat),
      b,
      lmWeight === null ? {} : { targets: b.targets, lmWeight },
    );
    expect(logits.shape).toEqual([B, 3]);
    assertClose(await logits.data(), ref.logits, 'f32Chain', 'class logits');
    assertClose([await loss.item()], [ref.loss], 'f32Chain', 'loss');
    const grads = await model.params.downloadGrads();
    assertGradsClose(L, grads, ref.grads);
    logits.dispose();
    loss.dispose();
    model.dispose();
  }

  it('head only: every parameter gradient matches (odd T, sequences ending before T - 1)', async () => {
    await compare(null, 3, 7);
  });

  it('with the auxiliary LM loss (weight 0.5): every parameter gradient matches', async () => {
    await compare(0.5, 2, 8);
  });

  it('forward with hidden: true returns ln_f output [B, T, C] (and logits only with targets)', async () => {
    const model = GPT.fromParams(cfg, randomParams(L, 5));
    const flat = await model.params.download();
    const b = classBatch(2, 2, 5, cfg.vocabSize, 3);
    const r = E.tidy(() => model.forward(E.fromArray(b.ids, [2, 5], 'i32'), null, { hidden: true }));
    expect(r.hidden.shape).toEqual([2, 5, cfg.nEmbd]);
    expect(r.logits).toBeUndefined();
    const ref = refForward(L, Float64Array.from(flat), b.ids, 2, 5);
    assertClose(await r.hidden.data(), ref.lnf, 'f32Chain', 'hidden');
    r.hidden.dispose();
    const plain = GPT.fromParams(
      resolveConfig({ preset: 'tiny' }),
      randomParams(paramLayout(resolveConfig({ preset: 'tiny' })), 5),
    );
    expect(() =>
      E.tidy(() => plain.classify(E.zeros([1, 2, cfg.nEmbd]), E.fromArray(new Int32Array([1]), [1], 'i32'))),
    ).toThrow(/no classification head/);
    plain.dispose();
    model.dispose();
  });
});

describe('classification checkpoint', () => {
  it('saves the head with the model; the config (nClasses) and the weights come back exactly', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpt-cls-ckpt-'));
    try {
      const cfg = resolveConfig({ preset: 'tiny', nClasses: 4 });
      const a = GPT.create(cfg, { seed: 8 });
      await saveCheckpoint(dir, { model: a, meta: { step: 1, tokenizer: 'test', rng: {} } });
      const ck = loadLatestCheckpoint(dir);
      expect(ck.meta.config.nClasses).toBe(4);
      const b = GPT.fromParams(ck.meta.config, ck.params);
      expect(b.w.score!.weight.shape).toEqual([4, cfg.nEmbd]);
      const pa = await a.params.download();
      expect(Buffer.from(ck.params.buffer).equals(Buffer.from(pa.buffer))).toBe(true);
      a.dispose();
      b.dispose();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
