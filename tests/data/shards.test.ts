import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  BatchSampler,
  SHARD_HEADER_BYTES,
  evalBatchCount,
  evalBatches,
  readShard,
  writeShard,
} from '../../train/data/shards.ts';
import { splitByDocument } from '../../train/data/split.ts';
import { unigramCrossEntropy, unigramEntropy } from '../../train/data/stats.ts';

const dir = mkdtempSync(join(tmpdir(), 'shard-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const arange = (n: number, mod = Infinity): Uint32Array =>
  Uint32Array.from({ length: n }, (_, i) => (mod === Infinity ? i : i % mod));

describe('shard files', () => {
  it('write a 256-byte little-endian header then uint16 tokens', () => {
    const path = join(dir, 'a.bin');
    const tokens = [5, 1, 2047, 0, 7, 2047];
    writeShard(path, tokens, { vocabSize: 2048, eotId: 2047, tokenizerId: 'bpe-2048-deadbeef', docCount: 2 });
    const raw = readFileSync(path);
    expect(raw.length).toBe(SHARD_HEADER_BYTES + tokens.length * 2);
    expect(raw.subarray(0, 8).toString('latin1')).toBe('WGPTTOK\0');
    expect(raw.readUInt32LE(8)).toBe(1); // version
    expect(raw.readUInt32LE(12)).toBe(2); // bytes per token
    expect(raw.readUInt32LE(16)).toBe(2048);
    expect(raw.readUInt32LE(20)).toBe(2047);
    expect(raw.readBigUInt64LE(24)).toBe(6n);
    expect(raw.readUInt32LE(32)).toBe(2);
    expect(raw.subarray(40, 57).toString('latin1')).toBe('bpe-2048-deadbeef');
    expect(raw.readUInt16LE(256 + 2 * 2)).toBe(2047);

    const { header, tokens: back } = readShard(path);
    expect(header).toEqual({
      version: 1,
      tokenBytes: 2,
      vocabSize: 2048,
      eotId: 2047,
      tokenCount: 6,
      docCount: 2,
      tokenizerId: 'bpe-2048-deadbeef',
    });
    expect(back).toBeInstanceOf(Uint16Array);
    expect([...back]).toEqual(tokens);
  });

  it('use uint32 when the vocabulary does not fit 16 bits', () => {
    const path = join(dir, 'b.bin');
    writeShard(path, [70000, 3, 69999], { vocabSize: 70001, eotId: 70000, tokenizerId: 'x', docCount: 1 });
    const { header, tokens } = readShard(path);
    expect(header.tokenBytes).toBe(4);
    expect(tokens).toBeInstanceOf(Uint32Array);
    expect([...tokens]).toEqual([70000, 3, 69999]);
    // 65536 still fits uint16 (ids 0..65535).
    writeShard(path, [65535], { vocabSize: 65536, eotId: 65535, tokenizerId: 'x', docCount: 1 });
    expect(readShard(path).header.tokenBytes).toBe(2);
  });

  it('hold an empty split', () => {
    const path = join(dir, 'empty.bin');
    writeShard(path, [], { vocabSize: 300, eotId: 299, tokenizerId: 'char-300-0', docCount: 0 });
    expect(readShard(path).tokens.length).toBe(0);
  });

  it('reject ids outside the vocabulary, bad magic and truncation', () => {
    expect(() =>
      writeShard(join(dir, 'c.bin'), [300], { vocabSize: 300, eotId: 299, tokenizerId: 'x', docCount: 1 }),
    ).toThrow(/outside the vocabulary/);
    const path = join(dir, 'd.bin');
    writeShard(path, [1, 2, 3], { vocabSize: 10, eotId: 9, tokenizerId: 'x', docCount: 1 });
    const raw = readFileSync(path);
    writeFileSync(path, raw.subarray(0, raw.length - 1));
    expect(() => readShard(path)).toThrow(/truncated/);
    const bad = Buffer.from(raw);
    bad[0] = 0x58;
    writeFileSync(path, bad);
    expect(() => readShard(path)).toThrow(/bad magic/);
    expect(() => readShard(join(dir, 'missing.bin'))).toThrow(/cannot read shard/);
  });
});

describe('BatchSampler', () => {
  const tokens = arange(1000);

  it('gives contiguous (B, T+1) windows split into inputs and shifted targets', () => {
    const s = new BatchSampler(tokens, 4, 16, 1);
    for (let k = 0; k < 10; k++) {
      const { inp, tgt } = s.next();
      expect(inp.length).toBe(64);
      expect(tgt.length).toBe(64);
      for (let b = 0; b < 4; b++) {
        const start = inp[b * 16] as number;
        expect(start + 16).toBeLessThan(1000); // the last target exists
        for (let t = 0; t < 16; t++) {
          expect(inp[b * 16 + t]).toBe(start + t);
          expect(tgt[b * 16 + t]).toBe(start + t + 1);
        }
      }
    }
  });

  it('covers the whole stream, including the first and last windows', () => {
    const small = arange(12);
    const s = new BatchSampler(small, 8, 4, 3);
    const starts = new Set<number>();
    for (let k = 0; k < 50; k++) {
      const { inp } = s.next();
      for (let b = 0; b < 8; b++) starts.add(inp[b * 4] as number);
    }
    expect([...starts].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('is seeded and resumes exactly from state()', () => {
    const a = new BatchSampler(tokens, 2, 8, 7);
    const b = new BatchSampler(tokens, 2, 8, 7);
    const c = new BatchSampler(tokens, 2, 8, 8);
    expect(a.next()).toEqual(b.next());
    expect(a.next().inp).not.toEqual(c.next().inp);
    const saved = JSON.parse(JSON.stringify(a.state()));
    const expected = [a.next(), a.next(), a.next()];
    const resumed = new BatchSampler(tokens, 2, 8, 7);
    resumed.setState(saved);
    expect(resumed.steps).toBe(2);
    expect([resumed.next(), resumed.next(), resumed.next()]).toEqual(expected);
    expect(() => c.setState(saved)).toThrow(/seed/);
  });

  it('rejects streams shorter than one window', () => {
    expect(() => new BatchSampler(arange(8), 1, 8, 0)).toThrow(/too few/);
    expect(() => new BatchSampler(arange(9), 1, 8, 0)).not.toThrow();
  });
});

describe('evalBatches', () => {
  it('yields deterministic non-overlapping windows that predict every token once', () => {
    const tokens = arange(101);
    const T = 10;
    const batches = [...evalBatches(tokens, 3, T)];
    expect(batches.length).toBe(evalBatchCount(101, 3, T));
    expect(batches.length).toBe(4); // 10 windows in batches of 3
    const targets: number[] = [];
    for (const { tgt, rows } of batches) for (let i = 0; i < rows * T; i++) targets.push(tgt[i] as number);
    expect(targets).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    const last = batches[3]!;
    expect(last.rows).toBe(1);
    // The last batch is filled up by wrapping around to the first windows.
    expect(last.inp[T]).toBe(0);
    expect([...evalBatches(tokens, 3, T)]).toEqual(batches);
  });

  it('honours maxBatches and rejects a stream without one window', () => {
    expect([...evalBatches(arange(1000), 2, 10, 3)].length).toBe(3);
    expect(() => [...evalBatches(arange(5), 1, 8)]).toThrow(/too few/);
  });
});

describe('split by document', () => {
  it('is reproducible, seeded, and close to the requested share of characters', () => {
    const lengths = Array.from({ length: 300 }, (_, i) => 1000 + ((i * 7919) % 3000));
    const a = splitByDocument(lengths, 0.05, 1);
    expect(splitByDocument(lengths, 0.05, 1)).toEqual(a);
    expect(splitByDocument(lengths, 0.05, 2)).not.toEqual(a);
    const total = lengths.reduce((s, x) => s + x, 0);
    const val = lengths.reduce((s, x, i) => s + (a[i] ? x : 0), 0);
    expect(Math.abs(val / total - 0.05)).toBeLessThan(0.01);
  });

  it('keeps at least one document on each side, and none in val for fraction 0', () => {
    expect(splitByDocument([100, 100], 0.01, 1).filter(Boolean).length).toBe(1);
    expect(splitByDocument([100, 100], 0.99, 1).filter(Boolean).length).toBe(1);
    expect(splitByDocument([100], 0.5, 1)).toEqual([false]);
    expect(splitByDocument([1, 2, 3], 0, 1)).toEqual([false, false, false]);
  });
});

describe('statistics', () => {
  it('computes unigram entropy in nats', () => {
    expect(unigramEntropy([5, 5])).toBeCloseTo(Math.log(2), 12);
    expect(unigramEntropy([1, 1, 1, 1, 0])).toBeCloseTo(Math.log(4), 12);
    expect(unigramEntropy([7, 0])).toBe(0);
    expect(unigramEntropy([])).toBe(0);
  });

  it('computes the smoothed cross-entropy of one stream under another', () => {
    expect(unigramCrossEntropy([3, 3], [5, 5], 0)).toBeCloseTo(Math.log(2), 12);
    expect(Number.isFinite(unigramCrossEntropy([1, 1], [5, 0]))).toBe(true);
  });
});
