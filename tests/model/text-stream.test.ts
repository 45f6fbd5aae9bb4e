// model/generate.ts TextStream: streamed text equals decoding the whole output, characters split
// across byte-level tokens are never written in halves, and each token costs O(1) decoding
// (issue 13: re-decoding the whole output made long generations slow down).
import { describe, expect, it } from 'vitest';
import { TextStream } from '../../model/generate.ts';
import { CharTokenizer } from '../../train/tokenizers/index.ts';

// ASCII only: every other character falls back to its UTF-8 bytes, one token each.
const tok = CharTokenizer.fromTexts(['the whale and the sea. '], undefined);

function stream(ids: number[]): { chunks: string[]; decoded: number } {
  const chunks: string[] = [];
  let decoded = 0;
  const counting = {
    decode: (xs: ArrayLike<number>) => {
      decoded += xs.length;
      return tok.decode(xs);
    },
  };
  const s = new TextStream(counting, (c) => chunks.push(c));
  for (const id of ids) s.push(id);
  s.flush();
  return { chunks, decoded };
}

describe('TextStream', () => {
  it('writes exactly the decoded text, never half a multi-byte character', () => {
    const text = 'the whale — é, ü, 鯨 and 🐋 at the sea. ';
    const ids = tok.encode(text);
    expect(ids.length).toBeGreaterThan([...text].length); // some characters are split across tokens
    const { chunks } = stream(ids);
    expect(chunks.join('')).toBe(text);
    for (const c of chunks) expect(c).not.toContain('\uFFFD');
  });

  it('invalid bytes come out as U+FFFD where a whole decode puts them', () => {
    const a = tok.encode('the ');
    const ids = [...a, 0xff, ...a, 0xe2, 0x82, ...a, 0xf0];
    expect(stream(ids).chunks.join('')).toBe(tok.decode(ids));
  });

  it('decodes each token a bounded number of times, however long the output', () => {
    const ids = tok.encode('the whale — é 🐋 and the sea. '.repeat(200));
    const { chunks, decoded } = stream(ids);
    expect(chunks.join('')).toBe(tok.decode(ids));
    expect(decoded).toBeLessThan(8 * ids.length);
  });
});
