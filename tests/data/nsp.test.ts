// `prepare --task nsp`: the pairs (next pairs are consecutive sentences of one document, random
// ones come from another document of the same split, exactly half are next, seeded), the split by
// whole documents, the files written and their counts, and every bad input as one clear line.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { Rng } from '../../kernels/random.ts';
import { CliError } from '../../train/cli-error.ts';
import { parsePrepareArgs, prepareMain } from '../../train/cli/prepare.ts';
import {
  makeNspPairs,
  mobyDickNsp,
  NSP_REPORT_FILE,
  prepareNsp,
  splitNspDocuments,
  type NspPair,
} from '../../train/data/nsp.ts';
import { readClassify } from '../../train/finetune/records.ts';

const root = mkdtempSync(join(tmpdir(), 'nsp-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(root, `case-${n++}`);
const quiet = { log: (): void => {} };

/** `docs` documents of `len` sentences each; sentence text names its document and position. */
function docsOf(docs: number, len: number): string[][] {
  return Array.from({ length: docs }, (_, d) => Array.from({ length: len }, (_, i) => `Doc ${d} sentence ${i}.`));
}

const where = (docs: string[][], s: string): { doc: number; i: number } => {
  const doc = docs.findIndex((d) => d.includes(s));
  return { doc, i: docs[doc]!.indexOf(s) };
};

function readPairs(file: string): NspPair[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as NspPair);
}

describe('makeNspPairs', () => {
  it('one pair per consecutive sentences: next is the following one, random from another document', () => {
    const docs = docsOf(5, 7);
    const pairs = makeNspPairs(docs, new Rng(1, 'sfc32'));
    expect(pairs).toHaveLength(5 * 6);
    for (const p of pairs) {
      const a = where(docs, p.text);
      const b = where(docs, p.text2);
      if (p.label === 'next') expect(b).toEqual({ doc: a.doc, i: a.i + 1 });
      else expect(b.doc).not.toBe(a.doc);
    }
  });

  it('exactly half the pairs are next (rounded down), and the seed decides which', () => {
    const docs = docsOf(4, 6); // 20 anchors
    const a = makeNspPairs(docs, new Rng(7, 'sfc32'));
    expect(a.filter((p) => p.label === 'next')).toHaveLength(10);
    expect(makeNspPairs(docs, new Rng(7, 'sfc32'))).toEqual(a);
    expect(makeNspPairs(docs, new Rng(8, 'sfc32'))).not.toEqual(a);
    const odd = makeNspPairs(docsOf(3, 4).concat([['Lone one.']]), new Rng(7, 'sfc32')); // 9 anchors
    expect(odd.filter((p) => p.label === 'next')).toHaveLength(4);
  });

  it('maxSentenceChars: both sentences of a pair and every random sentence are that short', () => {
    const docs = [
      ['Short a.', 'Short b.', 'A much longer sentence that is over the limit.', 'Short c.', 'Short d.'],
      ['Tiny x.', 'Another sentence far too long for the limit here.', 'Tiny y.'],
    ];
    const pairs = makeNspPairs(docs, new Rng(3, 'sfc32'), 10);
    expect(pairs.map((p) => p.text)).toEqual(['Short a.', 'Short c.']);
    for (const p of pairs) expect(p.text2.length).toBeLessThanOrEqual(10);
  });

  it('gives no pairs without two consecutive sentences, or without a second document', () => {
    expect(makeNspPairs([['One.'], ['Two.']], new Rng(1, 'sfc32'))).toEqual([]);
    expect(makeNspPairs([['One.', 'Two.']], new Rng(1, 'sfc32'))).toEqual([]);
  });
});

describe('splitNspDocuments', () => {
  it('whole documents, disjoint, seeded; val and test get round(f·n), at least 2', () => {
    const s = splitNspDocuments(40, 0.1, 5, 'x');
    expect([s.val.length, s.test.length, s.train.length]).toEqual([4, 4, 32]);
    expect([...s.train, ...s.val, ...s.test].sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(splitNspDocuments(40, 0.1, 5, 'x')).toEqual(s);
    expect(splitNspDocuments(40, 0.1, 6, 'x')).not.toEqual(s);
    const small = splitNspDocuments(6, 0.01, 5, 'x');
    expect([small.val.length, small.test.length, small.train.length]).toEqual([2, 2, 2]);
    expect(splitNspDocuments(3, 0, 5, 'x').train).toHaveLength(3);
  });

  it('too few documents to hold out is one clear error', () => {
    expect(() => splitNspDocuments(5, 0.1, 5, 'in.txt')).toThrow(
      /needs at least 6 documents, got 5 in in\.txt \(pass --valFraction 0/,
    );
  });
});

/** A JSONL corpus: one document per line, `len` sentences each. */
function jsonlCorpus(docs: number, len: number): string {
  const dir = fresh();
  mkdirSync(dir);
  const file = join(dir, 'docs.jsonl');
  writeFileSync(
    file,
    docsOf(docs, len)
      .map((d) => JSON.stringify({ body: d.join(' ') }) + '\n')
      .join(''),
  );
  return file;
}

describe('prepareNsp', () => {
  it('writes train/val/test JSONL that finetune --task classify reads as pairs, and the counts', () => {
    const input = jsonlCorpus(20, 5);
    const out = fresh();
    const r = prepareNsp({ inputs: [input], out, textField: 'body', valFraction: 0.1, seed: 3, ...quiet });
    expect(r.documents).toBe(20);
    expect(r.sentences).toBe(100);
    expect([r.splits.train.documents, r.splits.val.documents, r.splits.test.documents]).toEqual([16, 2, 2]);
    expect([r.splits.train.pairs, r.splits.val.pairs, r.splits.test.pairs]).toEqual([64, 8, 8]);
    expect(r.splits.test).toMatchObject({ next: 4, random: 4 });
    const docOf = (s: string): string => s.split(' ')[1]!;
    const trainDocs = new Set(readPairs(join(out, 'train.jsonl')).map((p) => docOf(p.text)));
    for (const name of ['val', 'test']) {
      const pairs = readPairs(join(out, `${name}.jsonl`));
      for (const p of pairs) expect(trainDocs.has(docOf(p.text)) || trainDocs.has(docOf(p.text2))).toBe(false);
    }
    const data = readClassify(join(out, 'train.jsonl'));
    expect(data.labels).toEqual(['next', 'random']);
    expect(data.records[0]!.text2).toBeDefined();
    expect(JSON.parse(readFileSync(join(out, NSP_REPORT_FILE), 'utf8')).splits.train.pairs).toBe(64);
  });

  it('valFraction 0 writes the train split only', () => {
    const out = fresh();
    const r = prepareNsp({ inputs: [jsonlCorpus(2, 3)], out, textField: 'body', valFraction: 0, ...quiet });
    expect(r.splits.train.pairs).toBe(4);
    expect(existsSync(join(out, 'train.jsonl'))).toBe(true);
    expect(existsSync(join(out, 'val.jsonl'))).toBe(false);
  });

  it('plain text without chapters is cut into --docChars documents', () => {
    const dir = fresh();
    mkdirSync(dir);
    const file = join(dir, 'a.txt');
    writeFileSync(
      file,
      docsOf(8, 4)
        .map((d) => d.join(' '))
        .join('\n\n'),
    );
    const r = prepareNsp({ inputs: [file], out: fresh(), docChars: 1, valFraction: 0.1, ...quiet });
    expect(r.documents).toBe(8);
    expect(r.splits.train.pairs + r.splits.val.pairs + r.splits.test.pairs).toBe(8 * 3);
  });

  it('mobyDickNsp: the demo data, chapters as documents, 14 + 14 held out', () => {
    const r = mobyDickNsp(fresh(), { seed: 1 });
    expect(r.documents).toBe(135);
    expect([r.splits.val.documents, r.splits.test.documents]).toEqual([14, 14]);
    expect(r.splits.test.pairs).toBeGreaterThan(300);
    expect(Math.abs(r.splits.test.next - r.splits.test.random)).toBeLessThanOrEqual(1);
  });
});

describe('prepare --task nsp: bad input, one line each', () => {
  const run = (inputs: string[], extra: object = {}): unknown => {
    try {
      prepareNsp({ inputs, out: fresh(), valFraction: 0, ...quiet, ...extra });
    } catch (e) {
      return e;
    }
    return null;
  };

  it('fewer than two documents', () => {
    const input = jsonlCorpus(1, 5);
    const e = run([input], { textField: 'body' });
    expect(e).toBeInstanceOf(CliError);
    expect((e as Error).message).toBe(
      `prepare --task nsp needs at least two documents to draw random sentences from; got 1 in ${input}`,
    );
  });

  it('no document with two sentences', () => {
    const input = jsonlCorpus(4, 1);
    const e = run([input], { textField: 'body' }) as Error;
    expect(e).toBeInstanceOf(CliError);
    expect(e.message).toMatch(/needs a document with at least two consecutive sentences .*none of the 4 documents in/);
    expect(e.message).not.toContain('\n');
  });

  it('no two consecutive sentences within --maxSentenceChars', () => {
    const e = run([jsonlCorpus(3, 3)], { textField: 'body', maxSentenceChars: 5 }) as Error;
    expect(e.message).toMatch(/of at most --maxSentenceChars 5 characters/);
  });

  it('the CLI: options that do not apply to nsp, and a failed run leaving --out untouched', async () => {
    expect(() => parsePrepareArgs(['--task', 'nsp', '--tokenizer', 'char', '--out', 'x'])).toThrow(
      /--tokenizer does not apply to --task nsp/,
    );
    expect(() => parsePrepareArgs(['--maxSentenceChars', '80', '--out', 'x'])).toThrow(/--task nsp only/);
    const out = fresh();
    await expect(
      prepareMain(['--task', 'nsp', jsonlCorpus(1, 3), '--textField', 'body', '--out', out]),
    ).rejects.toThrow(/got 1 in/);
    expect(existsSync(out)).toBe(false);
  });

  it('the CLI prints the counts and the finetune command', async () => {
    const out = fresh();
    let printed = '';
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      printed += String(chunk);
      return true;
    });
    try {
      await prepareMain(['--task', 'nsp', jsonlCorpus(10, 4), '--textField', 'body', '--out', out, '--quiet']);
    } finally {
      write.mockRestore();
    }
    expect(printed).toMatch(/nsp: 10 documents, 40 sentences/);
    expect(printed).toMatch(/test +2 documents +6 pairs \(3 next, 3 random\)/);
    expect(printed).toContain(`--task classify --data ${join(out, 'train.jsonl')}`);
  });
});
