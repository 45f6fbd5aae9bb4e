// Infilling: the gap marker, the masked spans and exact match (pure), the prompt layout, and the
// model-running part on a tiny random GPT: the middle loss equals the log-likelihood read from the
// full logits, and scoring runs and counts exact matches as the pure function does.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as E from '../../engine/index.ts';
import { Rng } from '../../kernels/random.ts';
import { resolveConfig } from '../../model/config.ts';
import { GPT } from '../../model/gpt.ts';
import { paramLayout } from '../../model/layout.ts';
import { CliError } from '../../train/cli-error.ts';
import { infillExactMatch, maskWords, normalizeWords, summarizeInfill } from '../../train/eval/infill.ts';
import {
  NOT_TRAINED_FOR_INFILL,
  infill,
  infillPrompt,
  middleLoss,
  nearGap,
  scoreInfill,
  splitAtGap,
} from '../../train/infill.ts';
import { CharTokenizer, fimIds, withFimSentinels } from '../../train/tokenizers/index.ts';
import { randomParams } from '../model/random-params.ts';

const DOCS = [
  'Call me Ishmael. Some years ago, never mind how long.',
  'The whale, the whale! Thar she blows.',
  'a b',
  '   ',
  'one',
];
const base = CharTokenizer.fromTexts(DOCS);
const tok = withFimSentinels(base);
const s = fimIds(tok)!;

describe('infilling, pure parts', () => {
  it('finds exactly one gap marker, or says what is wrong in one line', () => {
    expect(splitAtGap('text with a [MASK] in it')).toEqual({ prefix: 'text with a ', suffix: ' in it' });
    expect(splitAtGap('[MASK]')).toEqual({ prefix: '', suffix: '' });
    expect(() => splitAtGap('no gap here')).toThrow(CliError);
    expect(() => splitAtGap('no gap here')).toThrow(/has no gap: mark the missing part with \[MASK\]/);
    expect(() => splitAtGap('two [MASK] gaps [MASK]')).toThrow(/has 2 gaps; mark exactly one/);
  });

  it('masks one to three whole words, seeded, with the space before them', () => {
    const rng = new Rng(1, 'sfc32');
    const lengths = new Set<number>();
    for (let k = 0; k < 200; k++) {
      const doc = DOCS[k % 2]!;
      const p = maskWords(doc, rng)!;
      expect(p.prefix + p.middle + p.suffix).toBe(doc);
      const words = normalizeWords(p.middle).split(' ');
      lengths.add(words.length);
      expect(doc.split(/\s+/)).toEqual(expect.arrayContaining(words));
      expect(p.prefix === '' || /\S$/.test(p.prefix)).toBe(true);
      expect(p.suffix === '' || /^\s/.test(p.suffix)).toBe(true);
    }
    expect([...lengths].sort()).toEqual([1, 2, 3]);
    expect(maskWords('   ', rng)).toBeNull();
    expect(maskWords('one', rng)).toEqual({ prefix: '', middle: 'one', suffix: '' });
    const again = (seed: number): unknown[] => {
      const r = new Rng(seed, 'sfc32');
      return DOCS.map((d) => maskWords(d, r));
    };
    expect(again(4)).toEqual(again(4));
  });

  it('exact match compares the words, not the whitespace around them', () => {
    expect(infillExactMatch(' the whale', 'the whale')).toBe(true);
    expect(infillExactMatch('the  whale\n', ' the whale')).toBe(true);
    expect(infillExactMatch('the whale,', 'the whale')).toBe(false);
    expect(infillExactMatch('The whale', 'the whale')).toBe(false);
    expect(infillExactMatch('the', 'the whale')).toBe(false);
    expect(infillExactMatch('', '')).toBe(true);
    const item = (exact: boolean, nll: number, tokens: number) =>
      ({ prefix: '', middle: '', suffix: '', predicted: '', exact, nll, tokens }) as const;
    expect(summarizeInfill([item(true, 2, 2), item(false, 6, 2), item(false, 0, 0), item(true, 1, 1)])).toEqual({
      documents: 4,
      exactMatch: 0.5,
      middleLoss: 9 / 5,
      middleTokens: 5,
    });
    expect(summarizeInfill([]).documents).toBe(0);
  });

  it('builds the PSM and SPM prompts, keeping the tokens next to the gap when it must cut', () => {
    const P = base.encode('Call me');
    const S = base.encode(' Ishmael.');
    const e = tok.eotId;
    expect(infillPrompt(tok, 'Call me', ' Ishmael.', 100)).toEqual([e, s.prefix, ...P, s.suffix, ...S, s.middle]);
    expect(infillPrompt(tok, 'Call me', ' Ishmael.', 100, 'spm')).toEqual([
      e,
      s.prefix,
      s.suffix,
      ...S,
      s.middle,
      ...P,
    ]);
    // Room for 8 tokens besides end-of-text and the sentinels: 4 + 4, the prefix's last and the
    // suffix's first.
    expect(infillPrompt(tok, 'Call me', ' Ishmael.', 12)).toEqual([
      e,
      s.prefix,
      ...P.slice(-4),
      s.suffix,
      ...S.slice(0, 4),
      s.middle,
    ]);
    // A short suffix leaves its room to the prefix.
    expect(infillPrompt(tok, 'Call me', '.', 12)).toEqual([
      e,
      s.prefix,
      ...P.slice(-7),
      s.suffix,
      ...base.encode('.'),
      s.middle,
    ]);
    expect(() => infillPrompt(base, 'a', 'b', 10)).toThrow(NOT_TRAINED_FOR_INFILL);
    // The left-to-right baseline: any tokenizer, end-of-text then the prefix's last tokens.
    expect(infillPrompt(base, 'Call me', ' Ishmael.', 100, 'l2r')).toEqual([base.eotId, ...P]);
    expect(infillPrompt(base, 'Call me', ' Ishmael.', 4, 'l2r')).toEqual([base.eotId, ...P.slice(-3)]);
  });
});

describe('infilling with a model', () => {
  let rt: E.Runtime;
  beforeAll(async () => {
    rt = await E.initEngine();
  });
  afterAll(async () => {
    await rt.sync();
  });
  const cfg = resolveConfig({ preset: 'tiny', vocabSize: tok.vocabSize, blockSize: 16 });
  const model = (): GPT => GPT.fromParams(cfg, randomParams(paramLayout(cfg), 5, 0.3, 3)).eval();

  it('the middle loss is the log-likelihood of the middle tokens after the prompt', async () => {
    const m = model();
    const parts = { prefix: 'Call me', middle: ' Ishmael', suffix: '. Some' };
    const { nll, tokens } = await middleLoss(m, tok, parts);
    const mid = tok.encode(parts.middle);
    expect(tokens).toBe(mid.length);
    const prompt = infillPrompt(tok, parts.prefix, parts.suffix, cfg.blockSize + 1 - mid.length);
    const seq = [...prompt, ...mid];
    const logits = E.tidy(
      () => m.forward(E.fromArray(Int32Array.from(seq.slice(0, -1)), [1, seq.length - 1], 'i32')).logits,
    );
    const L = (await logits.data()) as Float32Array;
    logits.dispose();
    const V = cfg.vocabSize;
    const Vp = cfg.paddedVocabSize;
    let want = 0;
    for (let i = prompt.length - 1; i < seq.length - 1; i++) {
      const row = Array.from(L.subarray(i * Vp, i * Vp + V));
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, x) => a + Math.exp(x - max), 0));
      want += lse - row[seq[i + 1]!]!;
    }
    expect(nll).toBeCloseTo(want, 3);
    m.dispose();
  });

  it('infills greedily and scores held-out documents (exact match as the pure function says)', async () => {
    const m = model();
    const a = await infill(m, tok, 'Call me ', '. Some', { maxTokens: 5 });
    const b = await infill(m, tok, 'Call me ', '. Some', { maxTokens: 5 });
    expect(a.tokens).toEqual(b.tokens);
    expect(a.tokens.length).toBeLessThanOrEqual(5);
    expect(a.tokens.every((id) => id < base.vocabSize && id !== tok.eotId)).toBe(true);
    const score = await scoreInfill(m, tok, DOCS, { seed: 3, maxTokens: 4 });
    expect(score.documents).toBe(4); // '   ' has no word
    expect(score.items).toHaveLength(4);
    for (const it of score.items) expect(it.exact).toBe(infillExactMatch(it.predicted, it.middle));
    expect(score.exactMatch).toBe(score.items.filter((it) => it.exact).length / 4);
    expect(Number.isFinite(score.middleLoss)).toBe(true);
    expect(score.middleLoss).toBeGreaterThan(0);
    const again = await scoreInfill(m, tok, DOCS, { seed: 3, maxTokens: 4 });
    expect(again.items.map((it) => it.middle)).toEqual(score.items.map((it) => it.middle));
    await expect(scoreInfill(m, base, DOCS, { seed: 3 })).rejects.toThrow(NOT_TRAINED_FOR_INFILL);
    // The baseline runs on a tokenizer without sentinels; its filling is cut to the masked word count.
    const l2r = await scoreInfill(m, base, DOCS, { seed: 3, maxTokens: 12, mode: 'l2r' });
    expect(l2r.items.map((it) => it.middle)).toEqual(score.items.map((it) => it.middle));
    for (const it of l2r.items) {
      expect(normalizeWords(it.predicted).split(' ').length).toBeLessThanOrEqual(
        normalizeWords(it.middle).split(' ').length,
      );
      expect(it.exact).toBe(infillExactMatch(it.predicted, it.middle));
    }
    expect(l2r.middleTokens).toBe(score.middleTokens);
    m.dispose();
  });
});

describe('nearGap', () => {
  it('keeps whole words next to the gap, at most n characters of each side', () => {
    const p = { prefix: 'It was the best of ', middle: 'times,', suffix: ' it was the worst' };
    expect(nearGap(p, 8)).toEqual({ prefix: 'best of ', middle: 'times,', suffix: ' it was ' });
    expect(nearGap(p, 7)).toEqual({ prefix: ' of ', middle: 'times,', suffix: ' it was' });
    expect(nearGap(p, 100)).toEqual(p);
    expect(nearGap(p, 1)).toEqual({ prefix: ' ', middle: 'times,', suffix: ' ' });
  });
});
