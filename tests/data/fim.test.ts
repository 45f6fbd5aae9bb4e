// Fill-in-the-middle: the sentinel tokens (never produced by ordinary text, recorded in
// tokenizer.json), the rearrangement and its inverse on random documents, cuts never inside a
// character.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../kernels/random.ts';
import { padVocab } from '../../model/config.ts';
import {
  arrangeFim,
  cutPoints,
  encodeFimDocument,
  encodeParts,
  fragments,
  parseFim,
  randomSplit,
  splitAt,
  unarrangeFim,
} from '../../train/data/fim.ts';
import {
  CharTokenizer,
  EOT_TEXT,
  FIM_MIDDLE,
  FIM_PREFIX,
  FIM_SUFFIX,
  Gpt2Tokenizer,
  SpecialTokenizer,
  encodeWithSpecials,
  fimIds,
  loadTokenizer,
  trainBpe,
  withFimSentinels,
  type Tokenizer,
} from '../../train/tokenizers/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'fim-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CORPUS = [
  'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money.',
  'The whale, the whale! Thar she blows, a hump like a snow-hill!',
  'emoji 😀👍🏽 and CJK 日本語のテキスト mixed with text',
];
const bpe = trainBpe(CORPUS, { vocabSize: 300 });
const BASES: [string, Tokenizer][] = [
  ['bpe', bpe],
  ['char', CharTokenizer.fromTexts(CORPUS)],
  ['gpt2', new Gpt2Tokenizer()],
];

/** Text made of ASCII words, emoji (surrogate pairs, ZWJ sequences), CJK and combining marks. */
function randomDoc(rng: Rng): string {
  const pieces = ['whale', ' ', 'sea', '😀', '👩‍👩‍👧', '日本', '語', 'e\u0301', '\n', '𝔘', ',', 'Ishmael'];
  const n = rng.unbiasedInt(12);
  let s = '';
  for (let i = 0; i < n; i++) s += pieces[rng.unbiasedInt(pieces.length)];
  return s;
}

describe('FIM sentinels', () => {
  it.each(BASES)(
    '%s: the vocabulary grows by three ids after end-of-text, and the padded one still fits',
    (_, base) => {
      const tok = withFimSentinels(base);
      expect(tok.vocabSize).toBe(base.vocabSize + 3);
      expect(tok.eotId).toBe(base.eotId);
      expect(fimIds(tok)).toEqual({ prefix: base.vocabSize, middle: base.vocabSize + 1, suffix: base.vocabSize + 2 });
      expect(fimIds(base)).toBeNull();
      expect(tok.id).toBe(`${base.id}+fim`);
      expect(padVocab(tok.vocabSize)).toBeGreaterThanOrEqual(tok.vocabSize);
    },
  );

  it.each(BASES)(
    '%s: text holding the sentinel strings encodes to ordinary tokens unless they are allowed',
    (_, base) => {
      const tok = withFimSentinels(base);
      const text = `a ${FIM_PREFIX} b ${FIM_SUFFIX} c ${FIM_MIDDLE} d ${EOT_TEXT}`;
      const ids = tok.encode(text);
      expect(ids.every((id) => id < base.vocabSize && id !== base.eotId)).toBe(true);
      expect(ids).toEqual(base.encode(text));
      expect(tok.decode(ids)).toBe(text);
      const s = fimIds(tok)!;
      const allowed = encodeWithSpecials(tok, text, [FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE, EOT_TEXT]);
      expect(allowed.filter((id) => id >= base.vocabSize || id === base.eotId)).toEqual([
        s.prefix,
        s.suffix,
        s.middle,
        base.eotId,
      ]);
      expect(tok.decode(allowed)).toBe(text);
      // Only what is named: the prefix sentinel alone.
      const one = encodeWithSpecials(tok, text, [FIM_PREFIX]);
      expect(one.filter((id) => id >= base.vocabSize)).toEqual([s.prefix]);
      // A tokenizer without sentinels cannot be asked for them.
      expect(encodeWithSpecials(base, text, [FIM_PREFIX])).toEqual(base.encode(text));
    },
  );

  it.each(BASES)('%s: tokenizer.json records the sentinels and loads back the same tokenizer', (name, base) => {
    const tok = withFimSentinels(base);
    const d = mkdtempSync(join(dir, `${name}-`));
    tok.save(d);
    const back = loadTokenizer(d);
    expect(back).toBeInstanceOf(SpecialTokenizer);
    expect(back.id).toBe(tok.id);
    expect(back.vocabSize).toBe(tok.vocabSize);
    expect(back.toJSON()).toEqual(tok.toJSON());
    expect(back.toJSON().specials).toEqual([FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX]);
    const ids = [...tok.encode('Call me'), fimIds(tok)!.middle, ...tok.encode(' Ishmael')];
    expect(back.decode(ids)).toBe(`Call me${FIM_MIDDLE} Ishmael`);
    // The plain tokenizer's file is unchanged: no specials key.
    expect('specials' in base.toJSON()).toBe(false);
  });

  it('refuses malformed special tokens and ids outside the vocabulary', () => {
    expect(() => new SpecialTokenizer(bpe, ['fim'])).toThrow(/not a <\|name\|>/);
    expect(() => new SpecialTokenizer(bpe, [EOT_TEXT])).toThrow(/not a <\|name\|>/);
    expect(() => new SpecialTokenizer(bpe, [FIM_PREFIX, FIM_PREFIX])).toThrow(/duplicates/);
    expect(() => withFimSentinels(bpe).decode([bpe.vocabSize + 3])).toThrow(/out of range/);
  });
});

describe('FIM transform', () => {
  it('cut points are code point boundaries: never inside a surrogate pair', () => {
    expect(cutPoints('')).toEqual([0]);
    expect(cutPoints('a😀b')).toEqual([0, 1, 3, 4]);
    expect(cutPoints('日本')).toEqual([0, 1, 2]);
    // A lone surrogate is a character of its own.
    expect(cutPoints('\ud83d')).toEqual([0, 1]);
    expect(splitAt('a😀b', 1, 2)).toEqual({ prefix: 'a', middle: '😀', suffix: 'b' });
    expect(() => splitAt('ab', 2, 1)).toThrow(RangeError);
    expect(() => splitAt('ab', 0, 3)).toThrow(RangeError);
  });

  it('random splits cover empty prefix, middle and suffix and cut only between characters', () => {
    const rng = new Rng(7, 'sfc32');
    const seen = { emptyPrefix: 0, emptyMiddle: 0, emptySuffix: 0 };
    for (let k = 0; k < 400; k++) {
      const doc = k % 50 === 0 ? '' : randomDoc(rng);
      const p = randomSplit(doc, rng);
      expect(p.prefix + p.middle + p.suffix).toBe(doc);
      for (const part of [p.prefix, p.middle, p.suffix]) {
        expect(part).not.toMatch(/^[\udc00-\udfff]/);
        expect(part).not.toMatch(/[\ud800-\udbff]$/);
      }
      if (p.prefix === '') seen.emptyPrefix++;
      if (p.middle === '') seen.emptyMiddle++;
      if (p.suffix === '') seen.emptySuffix++;
    }
    expect(seen.emptyPrefix).toBeGreaterThan(0);
    expect(seen.emptyMiddle).toBeGreaterThan(0);
    expect(seen.emptySuffix).toBeGreaterThan(0);
  });

  it('arranges PSM and SPM exactly as the paper does', () => {
    const s = { prefix: 100, middle: 101, suffix: 102 };
    const p = { prefix: [1, 2], middle: [3], suffix: [4, 5] };
    expect(arrangeFim(p, s, 'psm')).toEqual([100, 1, 2, 102, 4, 5, 101, 3]);
    expect(arrangeFim(p, s, 'spm')).toEqual([100, 102, 4, 5, 101, 1, 2, 3]);
    expect(parseFim([100, 1, 2, 102, 4, 5, 101, 3], s)).toEqual({
      mode: 'psm',
      prefix: [1, 2],
      suffix: [4, 5],
      middle: [3],
    });
    expect(parseFim([100, 102, 4, 5, 101, 1, 2, 3], s)).toEqual({
      mode: 'spm',
      suffix: [4, 5],
      prefixMiddle: [1, 2, 3],
    });
    expect(parseFim([1, 2, 3], s)).toBeNull();
    expect(parseFim([100, 1, 101, 2, 102], s)).toBeNull();
    expect(unarrangeFim([1, 2, 3], s)).toEqual([1, 2, 3]);
  });

  it.each(BASES)('%s: rearrangement and inverse give every random document back, both modes', (_, base) => {
    const tok = withFimSentinels(base);
    const s = fimIds(tok)!;
    const rng = new Rng(11, 'sfc32');
    for (let k = 0; k < 150; k++) {
      const doc = randomDoc(rng);
      const parts = randomSplit(doc, rng);
      const ids = encodeParts(tok, parts);
      for (const mode of ['psm', 'spm'] as const) {
        const seq = arrangeFim(ids, s, mode);
        expect(seq.filter((id) => id >= base.vocabSize)).toHaveLength(3);
        expect(tok.decode(unarrangeFim(seq, s))).toBe(doc);
        const f = parseFim(seq, s)!;
        if (f.mode === 'psm') {
          expect(tok.decode(f.prefix)).toBe(parts.prefix);
          expect(tok.decode(f.middle)).toBe(parts.middle);
          expect(tok.decode(f.suffix)).toBe(parts.suffix);
        } else {
          expect(tok.decode(f.prefixMiddle)).toBe(parts.prefix + parts.middle);
        }
      }
    }
  });

  it('encodes a document with FIM at the given rate, seeded; rate 0 is plain encoding and draws nothing', () => {
    const tok = withFimSentinels(bpe);
    const s = fimIds(tok)!;
    const docs = Array.from({ length: 200 }, (_, i) => `${CORPUS[i % 3]} ${i}`);
    const run = (rate: number, seed: number): number[][] => {
      const rng = new Rng(seed, 'sfc32');
      return docs.map((d) => encodeFimDocument(tok, s, d, rng, { rate, mode: 'psm' }));
    };
    const rng = new Rng(3, 'sfc32');
    const before = rng.getState();
    expect(docs.map((d) => encodeFimDocument(tok, s, d, rng, { rate: 0, mode: 'psm' }))).toEqual(
      docs.map((d) => bpe.encode(d)),
    );
    expect(rng.getState()).toEqual(before);
    const half = run(0.5, 1);
    expect(run(0.5, 1)).toEqual(half);
    expect(run(0.5, 2)).not.toEqual(half);
    const rearranged = half.filter((ids) => ids[0] === s.prefix).length;
    expect(rearranged).toBeGreaterThan(70);
    expect(rearranged).toBeLessThan(130);
    half.forEach((ids, i) => expect(tok.decode(unarrangeFim(ids, s))).toBe(docs[i]));
    expect(run(1, 1).every((ids) => ids[0] === s.prefix)).toBe(true);
  });

  it('cuts documents into fragments at word starts, never longer than asked unless one word is', () => {
    expect(fragments('', 5)).toEqual(['']);
    expect(fragments('short', 10)).toEqual(['short']);
    expect(fragments('aa bb cc dd', 6)).toEqual(['aa bb ', 'cc dd']);
    expect(fragments('a verylongword b', 4)).toEqual(['a ', 'verylongword ', 'b']);
    const rng = new Rng(2, 'sfc32');
    for (let k = 0; k < 100; k++) {
      const doc = Array.from({ length: 30 }, () => randomDoc(rng)).join(' ');
      const parts = fragments(doc, 20);
      expect(parts.join('')).toBe(doc);
      for (const p of parts.slice(0, -1)) expect(/\s$/u.test(p) || p.length > 20).toBe(true);
      for (const p of parts) if (/\s\S/u.test(p.slice(0, -1))) expect(p.length).toBeLessThanOrEqual(20);
    }
  });

  it('with fragmentChars each fragment is a FIM candidate ended by end-of-text; rate 0 is still plain', () => {
    const tok = withFimSentinels(bpe);
    const s = fimIds(tok)!;
    const doc = CORPUS.join(' ');
    const plain = encodeFimDocument(tok, s, doc, new Rng(1, 'sfc32'), { rate: 0, mode: 'psm', fragmentChars: 20 });
    expect(plain).toEqual(bpe.encode(doc));
    for (const rate of [0.5, 1]) {
      for (let seed = 0; seed < 20; seed++) {
        const ids = encodeFimDocument(tok, s, doc, new Rng(seed, 'sfc32'), { rate, mode: 'spm', fragmentChars: 20 });
        const segments: number[][] = [[]];
        for (const id of ids)
          if (id === tok.eotId) segments.push([]);
          else segments[segments.length - 1]!.push(id);
        expect(segments.every((seg) => seg.length > 0)).toBe(true);
        expect(segments.map((seg) => tok.decode(unarrangeFim(seg, s))).join('')).toBe(doc);
        const fim = segments.filter((seg) => parseFim(seg, s) !== null).length;
        expect(fim).toBeGreaterThan(0);
        if (rate === 1) expect(fim).toBe(fragments(doc, 20).length);
      }
    }
  });
});
