// Generation: the KV-cache path (GPT.forward with a cache) against the float64 reference (logits
// at every position, fused decode kernel and composed ops) and against uncached generation (the
// same tokens, greedy and seeded sampling, inside and past the context window), plus the sampler
// itself and streaming.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { resolveConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { paramLayout } from '../../model/layout.ts';
import { refForward } from '../../model/reference.ts';
import { generate, sampleToken } from '../../model/generate.ts';
import { KVCache } from '../../model/kv-cache.ts';
import { assertClose } from '../../kernels/check.ts';
import { randomParams } from './random-params.ts';

let rt: E.Runtime;
beforeAll(async () => {
  rt = await E.initEngine();
});
afterAll(async () => {
  await rt.sync();
});

const cfg = resolveConfig({ preset: 'tiny' });
const layout = paramLayout(cfg);

describe('sampler', () => {
  it('greedy, top-k, top-p and temperature', () => {
    const logits = [0.1, 2.0, 1.9, -3, 2.0];
    const rng = new E.Rng(1);
    expect(sampleToken(logits, 5, { temperature: 0 }, rng)).toBe(1); // ties: lower id
    expect(sampleToken(logits, 4, { temperature: 0 }, rng)).toBe(1);
    expect(sampleToken([0, 0, 5, 9], 3, { temperature: 0 }, rng)).toBe(2); // padding never chosen
    for (let i = 0; i < 20; i++) expect(sampleToken(logits, 5, { topK: 1 }, rng)).toBe(1);
    for (let i = 0; i < 20; i++) expect(sampleToken(logits, 5, { topP: 0.01 }, rng)).toBe(1);
    for (let i = 0; i < 50; i++) expect([1, 4]).toContain(sampleToken(logits, 5, { topK: 2 }, rng));
    // Frequencies follow softmax(logits / T).
    const counts = new Array<number>(3).fill(0);
    const l3 = [0, Math.log(2), Math.log(7)];
    const r = new E.Rng(7);
    for (let i = 0; i < 20000; i++) counts[sampleToken(l3, 3, {}, r)]!++;
    expect(counts[0]! / 20000).toBeCloseTo(0.1, 1);
    expect(counts[2]! / 20000).toBeCloseTo(0.7, 1);
    const hot = new Array<number>(3).fill(0);
    for (let i = 0; i < 20000; i++) hot[sampleToken(l3, 3, { temperature: 100 }, r)]!++;
    expect(hot[0]! / 20000).toBeCloseTo(1 / 3, 1);
    expect(() => sampleToken(logits, 5, { topP: 0 }, rng)).toThrow(/topP must be in \(0, 1\]/);
    expect(() => sampleToken(logits, 5, { temperature: -1 }, rng)).toThrow(/temperature must be >= 0/);
  });
});

describe('KV cache', () => {
  it('cached logits (prefill, then one token at a time) match the float64 reference', async () => {
    const flat = randomParams(layout, 31, 0.3, 3);
    const model = GPT.fromParams(cfg, flat).eval();
    const seq = [3, 17, 5, 30, 2, 9, 11, 0];
    const ref = refForward(layout, Float64Array.from(flat), Int32Array.from(seq), 1, seq.length).logits;
    const Vp = cfg.paddedVocabSize;
    for (const attention of ['decode-kernel', 'composed'] as const) {
      const cache = new KVCache(cfg, { B: 1, attention });
      const prefill = 3;
      for (let t = prefill - 1; t < seq.length; t++) {
        const chunk = t === prefill - 1 ? seq.slice(0, prefill) : [seq[t]!];
        const logits = E.tidy(() =>
          E.keep(model.forward(E.fromArray(Int32Array.from(chunk), [1, chunk.length], 'i32'), null, { cache }).logits),
        );
        expect(logits.shape).toEqual([1, 1, Vp]);
        assertClose(
          await logits.data(),
          ref.subarray(t * Vp, (t + 1) * Vp),
          'f32Chain',
          `position ${t} (${attention})`,
        );
        logits.dispose();
      }
      expect(cache.pos).toBe(seq.length);
      cache.dispose();
    }
    model.dispose();
  });

  it('a cached forward refuses targets, another batch size and positions past the cache', () => {
    const model = GPT.fromParams(cfg, randomParams(layout, 34, 0.3, 3));
    const cache = new KVCache(cfg, { maxT: 4 });
    E.tidy(() => {
      const ids = (n: number, B = 1) => E.fromArray(new Int32Array(B * n).fill(1), [B, n], 'i32');
      expect(() => model.forward(ids(2), ids(2), { cache })).toThrow(/targets cannot be given with a KV cache/);
      expect(() => model.forward(ids(2, 2), null, { cache })).toThrow(/batch 2 does not match the KV cache's 1/);
      model.forward(ids(3), null, { cache });
      expect(cache.pos).toBe(3);
      expect(() => model.forward(ids(2), null, { cache })).toThrow(
        /3 cached \+ 2 new positions exceed the KV cache's 4/,
      );
      expect(cache.pos).toBe(3);
    });
    expect(() => new KVCache(cfg, { maxT: cfg.blockSize + 1 })).toThrow(/maxT 9 exceeds blockSize 8/);
    cache.dispose();
    model.dispose();
  });

  it('cached and uncached generation give the same tokens (greedy and seeded sampling)', async () => {
    const model = GPT.fromParams(cfg, randomParams(layout, 32, 0.3, 3));
    const prompt = [1, 2, 3];
    const cases = [
      { name: 'greedy', o: { temperature: 0 } },
      { name: 'sampled', o: { temperature: 1, seed: 5 } },
      { name: 'top-k/top-p', o: { temperature: 0.8, topK: 10, topP: 0.9, seed: 6 } },
    ];
    for (const c of cases) {
      // Inside the window (3 + 5 = blockSize), then well past it with slide 1 (exactly the
      // uncached sliding window).
      for (const extra of [{ maxTokens: 5 }, { maxTokens: 20, slide: 1 }]) {
        const cached = await generate(model, prompt, { ...c.o, ...extra });
        const uncached = await generate(model, prompt, { ...c.o, ...extra, cache: false });
        const composed = await generate(model, prompt, { ...c.o, ...extra, attention: 'composed' });
        expect(cached.tokens, `${c.name} ${extra.maxTokens}`).toEqual(uncached.tokens);
        expect(composed.tokens, `${c.name} ${extra.maxTokens} composed`).toEqual(cached.tokens);
        expect(cached.tokens).toHaveLength(extra.maxTokens);
      }
    }
    const again = await generate(model, prompt, { maxTokens: 20, seed: 5 });
    expect(again.tokens).toEqual((await generate(model, prompt, { maxTokens: 20, seed: 5 })).tokens);
    expect(again.tokens).not.toEqual((await generate(model, prompt, { maxTokens: 20, seed: 8 })).tokens);
    // The default slide (a quarter window) also runs past the window.
    const long = await generate(model, prompt, { maxTokens: 30, seed: 2 });
    expect(long.tokens).toHaveLength(30);
    expect(long.tokens.every((t) => t >= 0 && t < cfg.vocabSize)).toBe(true);
    model.dispose();
  });

  it('streams tokens, stops on a stop token or when the callback says so', async () => {
    const model = GPT.fromParams(cfg, randomParams(layout, 33, 0.3, 3));
    await generate(model, [4], { maxTokens: 12, seed: 1 }); // warm the pool
    const inUse = rt.pool.buffersInUse;
    const seen: number[] = [];
    const r = await generate(model, [4], { maxTokens: 6, seed: 1, onToken: (id) => void seen.push(id) });
    expect(seen).toEqual(r.tokens);
    expect(r.reason).toBe('maxTokens');
    const stopped = await generate(model, [4], { maxTokens: 6, seed: 1, onToken: (_id, i) => i < 2 });
    expect(stopped.tokens).toEqual(r.tokens.slice(0, 3));
    expect(stopped.reason).toBe('callback');
    const s = await generate(model, [4], { maxTokens: 6, seed: 1, stop: [r.tokens[2]!] });
    expect(s.reason).toBe('stop');
    expect(s.tokens).toEqual(r.tokens.slice(0, r.tokens.indexOf(r.tokens[2]!)));
    expect(rt.pool.buffersInUse).toBe(inUse); // the cache and every intermediate were released
    await expect(generate(model, [], { maxTokens: 1 })).rejects.toThrow(/at least one token/);
    await expect(generate(model, [40], { maxTokens: 1 })).rejects.toThrow(/prompt token 40 is outside \[0, 32\)/);
    model.dispose();
  });
});
