// Perplexity and bits per token/char/byte from a summed NLL (hand-computed values).
import { describe, expect, it } from 'vitest';
import { countBytes, countChars, lmMetrics } from '../../train/eval/perplexity.ts';
import { MetricInputError } from '../../train/eval/text.ts';

describe('lmMetrics', () => {
  it('a uniform model over V symbols has perplexity V and log2 V bits per token', () => {
    // Every token with p = 1/50257: NLL = N ln 50257.
    const N = 1000;
    const m = lmMetrics({ nll: N * Math.log(50257), tokens: N, chars: 4 * N, bytes: 5 * N });
    expect(m.loss).toBeCloseTo(Math.log(50257), 12);
    expect(m.perplexity).toBeCloseTo(50257, 6);
    expect(m.bitsPerToken).toBeCloseTo(Math.log2(50257), 12);
    expect(m.bitsPerChar).toBeCloseTo(Math.log2(50257) / 4, 12);
    expect(m.bitsPerByte).toBeCloseTo(Math.log2(50257) / 5, 12);
  });

  it('one nat per token: perplexity e, 1/ln 2 bits per token', () => {
    const m = lmMetrics({ nll: 10, tokens: 10 });
    expect(m.perplexity).toBeCloseTo(Math.E, 14);
    expect(m.bitsPerToken).toBeCloseTo(1 / Math.LN2, 14);
    expect(m.bitsPerChar).toBeNull();
    expect(m.bitsPerByte).toBeNull();
  });

  it('refuses what would be NaN or Infinity instead of returning it', () => {
    expect(() => lmMetrics({ nll: 1, tokens: 0 })).toThrow(MetricInputError);
    expect(() => lmMetrics({ nll: NaN, tokens: 3 })).toThrow(/finite/);
    expect(() => lmMetrics({ nll: 1, tokens: 3, chars: 0 })).toThrow(/chars must be a positive count/);
  });
});

describe('countChars / countBytes', () => {
  it('counts code points and UTF-8 bytes', () => {
    expect(countChars('héllo😀')).toBe(6); // the emoji is one character, two UTF-16 units
    expect(countBytes('héllo😀')).toBe(1 + 2 + 1 + 1 + 1 + 4);
  });
});
