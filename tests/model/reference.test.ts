// The float64 reference GPT (model/reference.ts), the parameter layout and the initialisation —
// all on the CPU: the whole-model backward against central finite differences, so the oracle the
// GPU model is compared with is itself checked.
import { describe, expect, it } from 'vitest';
import { countParams, resolveConfig, PRESETS, padVocab, validateConfig } from '../../model/config.ts';
import { initParams, paramLayout, PARAM_ALIGN, hostView } from '../../model/layout.ts';
import { refAdamWStep, refBackward, refForward } from '../../model/reference.ts';
import { Rng } from '../../engine/random.ts';
import { expectClose, numericalGradient } from '../reference/fd.ts';

describe('config', () => {
  it('resolves presets, pads the vocabulary to a multiple of 64 and validates', () => {
    const g = resolveConfig({ preset: 'gpt2' });
    expect(g.paddedVocabSize).toBe(50304);
    expect(countParams(g)).toBe(124_475_904); // llm.c's count for GPT-2 small with Vp = 50304
    expect(resolveConfig({ preset: 'tiny', vocabSize: 65 }).paddedVocabSize).toBe(128);
    expect(padVocab(64)).toBe(64);
    expect(() => resolveConfig({ nEmbd: 18, nHead: 4 })).toThrow(/nEmbd \(18\) must be divisible by nHead \(4\)/);
    expect(() => resolveConfig({ nEmbd: 12, nHead: 2 })).toThrow(/head size nEmbd\/nHead = 6 is not supported/);
    expect(() => resolveConfig({ nEmbd: 512, nHead: 2 })).toThrow(/head size .* = 256 is not supported/);
    expect(() => resolveConfig({ nEmbd: 80, nHead: 2 })).toThrow(/head size .* = 40 is not supported/);
    expect(resolveConfig({ nEmbd: 192, nHead: 2 }).nEmbd).toBe(192); // head size 96
    expect(() => resolveConfig({ dropout: 1 })).toThrow(/dropout must be in \[0, 1\)/);
    expect(() => resolveConfig({ nLayer: 1.5 })).toThrow(/nLayer must be a positive integer/);
    expect(() => resolveConfig({ preset: 'huge' as never })).toThrow(/unknown model preset "huge"/);
    expect(() => resolveConfig({ nLayers: 2 } as never)).toThrow(/unknown GPT config key "nLayers"/);
    expect(() => validateConfig({ ...PRESETS.tiny, paddedVocabSize: 16 })).toThrow(
      /paddedVocabSize \(16\) must be >= vocabSize \(32\)/,
    );
  });
});

describe('parameter layout', () => {
  it('aligns every tensor to 256 bytes, puts decayed matrices first, uses GPT-2 names', () => {
    const cfg = resolveConfig({ preset: 'tiny' });
    const L = paramLayout(cfg);
    expect(L.count).toBe(countParams(cfg));
    expect(L.total % PARAM_ALIGN).toBe(0);
    let end = 0;
    for (const e of L.entries) {
      expect(e.offset % PARAM_ALIGN).toBe(0);
      expect(e.offset).toBeGreaterThanOrEqual(end);
      end = e.offset + e.size;
      expect(e.decay).toBe(e.shape.length === 2);
      expect(e.decay).toBe(e.offset < L.decayEnd);
    }
    expect(L.entries[0]!.name).toBe('wte.weight');
    expect(L.byName.get('wte.weight')!.shape).toEqual([64, 16]);
    expect(L.byName.get('h.1.attn.c_attn.weight')!.shape).toEqual([16, 48]);
    expect(L.byName.get('h.0.mlp.c_proj.weight')!.shape).toEqual([64, 16]);
    expect(L.byName.get('ln_f.bias')!.shape).toEqual([16]);
    expect(L.entries.length).toBe(2 + 12 * cfg.nLayer + 2);
  });

  it('initialises like GPT-2, deterministically from the seed', () => {
    const cfg = resolveConfig({ preset: 'tiny', nLayer: 4, nEmbd: 64, nHead: 4 });
    const L = paramLayout(cfg);
    const a = initParams(L, 7);
    const same = (x: Float32Array, y: Float32Array) => Buffer.from(x.buffer).equals(Buffer.from(y.buffer));
    expect(same(initParams(L, 7), a)).toBe(true);
    expect(same(initParams(L, 8), a)).toBe(false);
    const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    expect(std(hostView(a, L, 'h.0.mlp.c_fc.weight'))).toBeCloseTo(0.02, 3);
    expect(std(hostView(a, L, 'h.0.mlp.c_proj.weight'))).toBeCloseTo(0.02 / Math.sqrt(8), 3);
    expect(hostView(a, L, 'h.2.ln_1.weight').every((v) => v === 1)).toBe(true);
    expect(hostView(a, L, 'h.2.mlp.c_fc.bias').every((v) => v === 0)).toBe(true);
    const wte = hostView(a, L, 'wte.weight');
    expect(wte.subarray(cfg.vocabSize * cfg.nEmbd).every((v) => v === 0)).toBe(true); // padded rows
    expect(std(wte.subarray(0, cfg.vocabSize * cfg.nEmbd))).toBeCloseTo(0.02, 2);
  });
});

/** Random parameters with every tensor non-trivial (biases and layernorm affine included). */
function randomParams(L: ReturnType<typeof paramLayout>, seed: number): Float64Array {
  const rng = new Rng(seed);
  const p = new Float64Array(L.total);
  for (const e of L.entries) {
    const v = p.subarray(e.offset, e.offset + e.size);
    const isLnWeight = /ln_.*\.weight$/.test(e.name);
    for (let i = 0; i < v.length; i++) v[i] = (isLnWeight ? 1 : 0) + 0.3 * rng.normal();
    if (e.name === 'wte.weight') v.fill(0, L.config.vocabSize * L.config.nEmbd);
  }
  return p;
}

describe('reference GPT', () => {
  it('every parameter gradient matches central finite differences', () => {
    const cfg = resolveConfig({ preset: 'tiny', vocabSize: 20, blockSize: 6, nEmbd: 8, nHead: 2 });
    const L = paramLayout(cfg);
    const params = randomParams(L, 1);
    const B = 2;
    const T = 5; // < blockSize: the last wpe row must get a zero gradient
    const rng = new Rng(2);
    const ids = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
    const targets = Int32Array.from({ length: B * T }, () => rng.int(cfg.vocabSize));
    targets[3] = -1; // an ignored row
    const fwd = refForward(L, params, ids, B, T, targets);
    const grads = refBackward(L, params, fwd);
    const f = () => refForward(L, params, ids, B, T, targets).loss!;
    // Every element of every tensor (the gaps between tensors too: their gradient must be 0).
    const numeric = numericalGradient(f, params, 1e-5);
    for (const e of L.entries) {
      expectClose(grads.subarray(e.offset, e.offset + e.size), numeric.subarray(e.offset, e.offset + e.size), {
        rtol: 1e-5,
        atol: 1e-8,
        label: e.name,
      });
    }
    expectClose(grads, numeric, { rtol: 1e-5, atol: 1e-8, label: 'flat' });
    const wpe = hostView(grads, L, 'wpe.weight');
    expect(wpe.subarray(T * cfg.nEmbd).every((v) => v === 0)).toBe(true);
    const wte = hostView(grads, L, 'wte.weight');
    expect(wte.subarray(cfg.vocabSize * cfg.nEmbd).every((v) => v === 0)).toBe(true);
  });

  it('logits are causal: changing a later token leaves earlier logits unchanged', () => {
    const cfg = resolveConfig({ preset: 'tiny' });
    const L = paramLayout(cfg);
    const params = randomParams(L, 3);
    const ids = Int32Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
    const a = refForward(L, params, ids, 1, 8).logits;
    ids[5] = 9;
    const b = refForward(L, params, ids, 1, 8).logits;
    const Vp = cfg.paddedVocabSize;
    expect(Array.from(a.subarray(0, 5 * Vp))).toEqual(Array.from(b.subarray(0, 5 * Vp)));
    expect(Array.from(a.subarray(5 * Vp))).not.toEqual(Array.from(b.subarray(5 * Vp)));
  });

  it('AdamW decays only [0, decayEnd) and clips by the global norm', () => {
    const cfg = resolveConfig({ preset: 'tiny' });
    const L = paramLayout(cfg);
    const params = new Float64Array(L.total).fill(1);
    const grads = new Float64Array(L.total); // zero gradient: only the decay moves anything
    const m = new Float64Array(L.total);
    const v = new Float64Array(L.total);
    refAdamWStep(L, params, grads, m, v, 1, {
      lr: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.5,
      maxNorm: 1,
    });
    expect(params[0]).toBeCloseTo(0.95, 12);
    expect(params[L.decayEnd - 1]).toBeCloseTo(0.95, 12);
    expect(params[L.decayEnd]).toBe(1);
    grads.fill(0);
    grads[L.decayEnd] = 30;
    const norm = refAdamWStep(L, params, grads, m, v, 2, {
      lr: 0.1,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0,
      maxNorm: 1,
      gradScale: 0.5,
    });
    expect(norm).toBeCloseTo(15, 12);
    // m after clipping: (1 - beta1) · 30 · 0.5 · (1 / (15 + 1e-6))
    expect(m[L.decayEnd]).toBeCloseTo((0.1 * 15) / (15 + 1e-6), 10);
  });
});
