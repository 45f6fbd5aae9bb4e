import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../kernels/random.ts';
import {
  BpeTokenizer,
  CharTokenizer,
  Gpt2Tokenizer,
  buildTokenizer,
  loadTokenizer,
  trainBpe,
  type Tokenizer,
} from '../../train/tokenizers/index.ts';

const dir = mkdtempSync(join(tmpdir(), 'tok-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CORPUS = [
  'The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs.',
  "It's a truth universally acknowledged, that a single man in possession of a good fortune must be in want of a wife.",
  'Call me Ishmael. Some years ago, never mind how long precisely, having little or no money in my purse.',
  'Numbers 12345 and 67890, symbols !@#$%^&*() and    spaces\tand\nnew lines.',
  'the the the then there these those thee thy',
];

/** Hard cases: every tokenizer must give them back exactly. */
const TRICKY = [
  '',
  'a',
  ' ',
  '\n\n\n',
  'Hello world',
  'emoji 😀👍🏽 family 👩‍👩‍👧‍👦 flag 🇯🇵 keycap 1️⃣',
  'CJK 日本語のテキスト、中文文本，한국어 텍스트',
  'combining e\u0301 a\u0308 (NFD must stay NFD) and Z\u0351\u0300\u0302algo',
  'RTL: العربية עברית',
  'mixed\ttabs\r\nCRLF  double  spaces   ',
  'special text <|endoftext|> inside',
  '='.repeat(1000) + ' a very long run of one symbol',
  'x'.repeat(300),
  '\u0000\u0001 control \u007f and \uFEFF BOM and \u200B zero-width',
  'math 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑∫√ and astral 𐍈 𓀀',
];

function randomUnicode(rng: Rng, n: number): string {
  let s = '';
  const ranges: [number, number][] = [
    [0x20, 0x7e],
    [0x0a, 0x0a],
    [0xa0, 0x24f],
    [0x300, 0x36f],
    [0x400, 0x4ff],
    [0x4e00, 0x9fff],
    [0xac00, 0xd7a3],
    [0x1f300, 0x1faff],
    [0x10000, 0x10ffff],
  ];
  for (let i = 0; i < n; i++) {
    const [lo, hi] = ranges[rng.unbiasedInt(ranges.length)] as [number, number];
    let cp = lo + rng.unbiasedInt(hi - lo + 1);
    if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41;
    s += String.fromCodePoint(cp);
  }
  return s;
}

function roundTrips(tok: Tokenizer): void {
  for (const text of TRICKY) {
    const ids = tok.encode(text);
    for (const id of ids) {
      expect(Number.isInteger(id) && id >= 0 && id < tok.vocabSize).toBe(true);
      expect(id).not.toBe(tok.eotId);
    }
    expect(tok.decode(ids)).toBe(text);
  }
  expect(tok.encode('')).toEqual([]);
  const rng = new Rng(42, 'sfc32');
  for (let k = 0; k < 20; k++) {
    const text = randomUnicode(rng, 1 + rng.unbiasedInt(80));
    expect(tok.decode(tok.encode(text))).toBe(text);
  }
  expect(tok.decode([tok.eotId])).toBe('<|endoftext|>');
}

describe('gpt2 tokenizer', () => {
  const tok = new Gpt2Tokenizer();

  it('matches GPT-2 ids', () => {
    expect(tok.vocabSize).toBe(50257);
    expect(tok.eotId).toBe(50256);
    expect(tok.encode('Hello world')).toEqual([15496, 995]);
    expect(tok.encode(' the')).toEqual([262]);
    // Special-token text inside a document is ordinary text, never the end-of-text id.
    expect(tok.encode('<|endoftext|>')).not.toContain(50256);
  });

  it('round-trips any text', () => roundTrips(tok));

  it('saves a small file that loadTokenizer reads back', () => {
    const d = join(dir, 'gpt2');
    rmSync(d, { recursive: true, force: true });
    mkdirSync(d);
    tok.save(d);
    expect(JSON.parse(readFileSync(join(d, 'tokenizer.json'), 'utf8'))).toEqual({ type: 'gpt2', version: 1 });
    const back = loadTokenizer(d);
    expect(back.type).toBe('gpt2');
    expect(back.encode('Hello world')).toEqual([15496, 995]);
  });
});

/** Reference BPE trainer: recounts every pair from scratch after each merge (slow, obviously right). */
function naiveBpe(texts: string[], vocabSize: number): [number, number][] {
  const pattern = new RegExp(
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
    'gu',
  );
  const freq = new Map<string, number>();
  for (const t of texts) for (const m of t.matchAll(pattern)) freq.set(m[0], (freq.get(m[0]) ?? 0) + 1);
  let words = [...freq.entries()].map(([w, n]) => ({ syms: [...new TextEncoder().encode(w)], n }));
  const merges: [number, number][] = [];
  while (merges.length < vocabSize - 257) {
    const counts = new Map<string, number>();
    for (const { syms, n } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = `${syms[i]},${syms[i + 1]}`;
        counts.set(k, (counts.get(k) ?? 0) + n);
      }
    }
    let best: [number, number] | undefined;
    let bestCount = 0;
    for (const [k, c] of counts) {
      const [a, b] = k.split(',').map(Number) as [number, number];
      if (c > bestCount || (c === bestCount && best !== undefined && (a < best[0] || (a === best[0] && b < best[1])))) {
        best = [a, b];
        bestCount = c;
      }
    }
    if (best === undefined || bestCount < 2) break;
    const id = 256 + merges.length;
    merges.push(best);
    words = words.map(({ syms, n }) => {
      const out: number[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i + 1 < syms.length && syms[i] === best![0] && syms[i + 1] === best![1]) {
          out.push(id);
          i++;
        } else out.push(syms[i] as number);
      }
      return { syms: out, n };
    });
  }
  return merges;
}

describe('bpe tokenizer', () => {
  const texts = [...CORPUS, ...CORPUS.map((t) => t.toUpperCase()), 'aaaaaaa bbbbbb aaaa ab ab ab'];

  it('learns the same merges as a from-scratch reference trainer (incremental counts are exact)', () => {
    const tok = trainBpe(texts, { vocabSize: 400 });
    expect(tok.merges.map(([a, b]) => [a, b])).toEqual(naiveBpe(texts, 400));
  });

  it('is deterministic and independent of document order', () => {
    const a = trainBpe(texts, { vocabSize: 350 });
    const b = trainBpe(texts, { vocabSize: 350 });
    const c = trainBpe([...texts].reverse(), { vocabSize: 350 });
    expect(b.toJSON()).toEqual(a.toJSON());
    expect(c.toJSON()).toEqual(a.toJSON());
    expect(a.id).toBe(c.id);
  });

  it('reaches the requested vocabulary and compresses', () => {
    const big = Array.from({ length: 30 }, (_, i) => CORPUS.join(' ') + ` variant ${i}`);
    const tok = trainBpe(big, { vocabSize: 450 });
    expect(tok.vocabSize).toBe(450);
    expect(tok.eotId).toBe(449);
    const text = CORPUS[0] as string;
    expect(tok.encode(text).length).toBeLessThan(new TextEncoder().encode(text).length / 3);
  });

  it('stops early when no pair repeats (smaller vocabulary, still valid)', () => {
    const tok = trainBpe(['ab'], { vocabSize: 1000 });
    expect(tok.vocabSize).toBe(257);
    expect(tok.decode(tok.encode('abc ✓'))).toBe('abc ✓');
  });

  it('rejects a vocabulary too small for bytes + end-of-text', () => {
    expect(() => trainBpe(texts, { vocabSize: 256 })).toThrow(/>= 257/);
  });

  it('round-trips any text, including scripts it never saw', () => roundTrips(trainBpe(texts, { vocabSize: 400 })));

  it('saves and loads to an identical tokenizer', () => {
    const tok = trainBpe(texts, { vocabSize: 360 });
    const d = mkdtempSync(join(dir, 'bpe-'));
    tok.save(d);
    const back = loadTokenizer(d);
    expect(back).toBeInstanceOf(BpeTokenizer);
    expect(back.id).toBe(tok.id);
    expect(back.vocabSize).toBe(360);
    for (const t of [...CORPUS, ...TRICKY]) expect(back.encode(t)).toEqual(tok.encode(t));
    // loadTokenizer also takes the file path itself.
    expect(loadTokenizer(join(d, 'tokenizer.json')).id).toBe(tok.id);
  });
});

describe('char tokenizer', () => {
  it('has one id per character seen, plus byte fallback and end-of-text', () => {
    const tok = CharTokenizer.fromTexts(['abcab', 'ç😀']);
    expect(tok.chars).toEqual(['a', 'b', 'c', 'ç', '😀']);
    expect(tok.vocabSize).toBe(256 + 5 + 1);
    expect(tok.eotId).toBe(261);
    expect(tok.encode('abc😀')).toEqual([256, 257, 258, 260]);
    // Unseen characters fall back to their UTF-8 bytes.
    expect(tok.encode('é')).toEqual([0xc3, 0xa9]);
    expect(tok.decode(tok.encode('é'))).toBe('é');
  });

  it('caps the vocabulary to the most frequent characters', () => {
    const tok = buildTokenizer('char', ['aaaabbbccd'], { vocabSize: 257 + 2 });
    expect((tok as CharTokenizer).chars).toEqual(['a', 'b']);
    expect(tok.decode(tok.encode('abcd'))).toBe('abcd');
  });

  it('round-trips any text', () => roundTrips(CharTokenizer.fromTexts(CORPUS)));

  it('saves and loads', () => {
    const tok = CharTokenizer.fromTexts([...CORPUS, ...TRICKY]);
    const d = mkdtempSync(join(dir, 'char-'));
    tok.save(d);
    const back = loadTokenizer(d);
    expect(back.id).toBe(tok.id);
    for (const t of TRICKY) expect(back.encode(t)).toEqual(tok.encode(t));
  });
});

describe('loadTokenizer', () => {
  it('names the problem on a missing or bad file', () => {
    expect(() => loadTokenizer(join(dir, 'nope'))).toThrow(/does not exist/);
    const f = join(dir, 'bad.json');
    writeFileSync(f, '{"type":"wordpiece"}');
    expect(() => loadTokenizer(f)).toThrow(/unknown tokenizer type "wordpiece"/);
    writeFileSync(f, 'not json');
    expect(() => loadTokenizer(f)).toThrow(/not valid JSON/);
  });
});
