// Parameter freezing (model/optimizer.ts): the freeze spec's patterns, and frozen tensors that stay
// bit-identical over optimizer steps with their moments untouched, while the rest trains as
// without freezing except that the norm (and so clipping) sees only the unfrozen gradients.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { resolveConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { alignUp, paramLayout } from '../../model/layout.ts';
import { AdamW, frozenTensors } from '../../model/optimizer.ts';

let rt: E.Runtime;
beforeAll(async () => {
  rt = await E.initEngine();
});
afterAll(async () => {
  await rt.sync();
});

describe('freeze patterns', () => {
  const L = paramLayout(resolveConfig({ preset: 'tiny', nLayer: 4, nClasses: 2 }));

  it('selects whole names, dotted prefixes, layer ranges and * components', () => {
    const picked = frozenTensors(L, 'wte,wpe,h.0-1');
    expect(picked).toContain('wte.weight');
    expect(picked).toContain('wpe.weight');
    expect(picked.filter((n) => n.startsWith('h.0.')).length).toBe(12);
    expect(picked.filter((n) => n.startsWith('h.1.')).length).toBe(12);
    expect(picked.some((n) => n.startsWith('h.2.') || n.startsWith('h.3.') || n.startsWith('ln_f'))).toBe(false);
    expect(picked.length).toBe(2 + 24);
    expect(frozenTensors(L, ['h.*.ln_1'])).toEqual(
      [0, 1, 2, 3].flatMap((l) => [`h.${l}.ln_1.weight`, `h.${l}.ln_1.bias`]).sort((a, b) => order(a) - order(b)),
    );
    expect(frozenTensors(L, 'h.2.attn.c_attn.weight, ln_f')).toEqual([
      'h.2.attn.c_attn.weight',
      'ln_f.weight',
      'ln_f.bias',
    ]);
    // `h.1` is layer 1, not layers 1x; `wt` is not a prefix of a name component.
    expect(frozenTensors(L, 'h.1').every((n) => n.startsWith('h.1.'))).toBe(true);
    expect(frozenTensors(L, '')).toEqual([]);
  });

  it('a pattern that matches nothing, or a malformed one, is a one-line error naming it', () => {
    expect(() => frozenTensors(L, 'wte,h.9')).toThrow(
      /freeze: pattern "h.9" matches no parameter \(this model has wte, wpe, score, ln_f, h.0-3\)/,
    );
    expect(() => frozenTensors(L, 'wt')).toThrow(/pattern "wt" matches no parameter/);
    expect(() => frozenTensors(L, 'h.3-1')).toThrow(/empty layer range/);
    expect(() => frozenTensors(L, 'h.[0]')).toThrow(/invalid pattern/);
    expect(() => frozenTensors(L, 'h.0*')).toThrow(/invalid component/);
  });

  function order(name: string): number {
    return L.byName.get(name)!.offset;
  }
});

describe('frozen tensors during training', () => {
  it('stay bit-identical with zero moments over steps; the others train; the norm counts only trainable gradients', async () => {
    const cfg = resolveConfig({ preset: 'tiny', nLayer: 3 });
    const model = GPT.create(cfg, { seed: 3 });
    const L = model.params.layout;
    const opt = new AdamW(model.params, { maxNorm: 0.5 }, { freeze: 'wte,h.1,ln_f.bias' });
    expect(opt.frozen).toContain('wte.weight');
    // Frozen tensors have no moments at all on the device (exportState fills them in as zeros).
    const frozenFloats = L.entries.filter((e) => opt.frozen.includes(e.name)).reduce((n, e) => n + alignUp(e.size), 0);
    expect(opt.stateBytes).toBe(2 * 4 * (L.total - frozenFloats));
    const before = await model.params.download();
    const rng = new E.Rng(7);
    let norm = 0;
    let grads: Float32Array = new Float32Array(0);
    for (let step = 0; step < 3; step++) {
      model.params.zeroGrads();
      E.tidy(() => {
        const ids = E.fromArray(
          Int32Array.from({ length: 16 }, () => rng.int(cfg.vocabSize)),
          [2, 8],
          'i32',
        );
        const tgt = E.fromArray(
          Int32Array.from({ length: 16 }, () => rng.int(cfg.vocabSize)),
          [2, 8],
          'i32',
        );
        E.backward(model.forward(ids, tgt).loss!);
      });
      opt.step({ lr: 1e-2 });
      norm = await opt.readGradNorm();
      grads = await model.params.downloadGrads();
    }
    const after = await model.params.download();
    const { m, v } = await opt.exportState();
    const frozen = new Set(opt.frozen);
    let sumsq = 0;
    for (const e of L.entries) {
      const r = (a: Float32Array) => a.subarray(e.offset, e.offset + e.size);
      if (frozen.has(e.name)) {
        const bytes = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
        expect(bytes(r(after)).equals(bytes(r(before))), e.name).toBe(true);
        expect(Array.from(r(after)), e.name).toEqual(Array.from(r(before)));
        expect(r(m).every((x) => x === 0) && r(v).every((x) => x === 0), `${e.name} moments`).toBe(true);
        expect(
          r(grads).every((x) => x === 0),
          `${e.name} gradient`,
        ).toBe(true);
      } else {
        expect(
          r(after).some((x, i) => x !== r(before)[i]),
          `${e.name} trains`,
        ).toBe(true);
        expect(
          r(v).some((x) => x !== 0),
          `${e.name} moments`,
        ).toBe(true);
        for (const g of r(grads)) sumsq += g * g;
      }
    }
    expect(norm).toBeCloseTo(Math.sqrt(sumsq), 5);
    opt.dispose();
    model.dispose();
  });

  it('without clipping, one step updates the unfrozen tensors bit-identically to an unfrozen optimizer (weight decay ranges included)', async () => {
    const cfg = resolveConfig({ preset: 'tiny' });
    const run = async (freeze?: string) => {
      const model = GPT.create(cfg, { seed: 4 });
      const opt = new AdamW(model.params, { maxNorm: 0, weightDecay: 0.5 }, { freeze });
      const rng = new E.Rng(1);
      model.params.zeroGrads();
      E.tidy(() => {
        const ids = E.fromArray(
          Int32Array.from({ length: 8 }, () => rng.int(cfg.vocabSize)),
          [1, 8],
          'i32',
        );
        E.backward(model.forward(ids, ids).loss!);
      });
      opt.step({ lr: 1e-2 });
      const out = await model.params.download();
      opt.dispose();
      model.dispose();
      return out;
    };
    const all = await run();
    const some = await run('wpe,h.0.attn,ln_f.weight');
    const L = paramLayout(cfg);
    const frozen = new Set(frozenTensors(L, 'wpe,h.0.attn,ln_f.weight'));
    for (const e of L.entries) {
      if (frozen.has(e.name)) continue;
      const r = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset + e.offset * 4, e.size * 4);
      expect(r(some).equals(r(all)), e.name).toBe(true);
    }
  });
});
