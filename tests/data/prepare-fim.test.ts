// `prepare --fimRate`: at rate 0 the output is byte for byte what it was without FIM; above 0 the
// tokenizer has the sentinels, that share of the train documents is rearranged (each one's inverse
// is a document of the corpus) and validation stays plain text.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '../../kernels/random.ts';
import { parsePrepareArgs } from '../../train/cli/prepare.ts';
import { CliError } from '../../train/cli-error.ts';
import { loadPrepared } from '../../train/data/dataset.ts';
import { parseFim, unarrangeFim } from '../../train/data/fim.ts';
import { prepare, type PrepareOptions } from '../../train/data/prepare.ts';
import { formatReport } from '../../train/data/report.ts';
import { fimIds } from '../../train/tokenizers/index.ts';

const root = mkdtempSync(join(tmpdir(), 'prepare-fim-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const quiet = { progress: 'off' as const, log: (): void => {} };

const WORDS = 'sea ship whale wind sail rope deck crew storm calm night day old man boy sang ran saw 日本 😀'.split(
  ' ',
);
const corpus = join(root, 'corpus.txt');
{
  const rng = new Rng(5, 'sfc32');
  const paras = Array.from({ length: 60 }, (_, p) => {
    const ws = Array.from({ length: 12 + rng.unbiasedInt(20) }, () => WORDS[rng.unbiasedInt(WORDS.length)]);
    return `Paragraph ${p}: ${ws.join(' ')}.`;
  });
  writeFileSync(corpus, paras.join('\n\n'));
}

const FILES = ['train.bin', 'val.bin', 'tokenizer.json'];
const run = async (name: string, extra: Partial<PrepareOptions>): Promise<string> => {
  const out = join(root, name);
  mkdirSync(out);
  await prepare({ inputs: [corpus], out, vocabSize: 300, docChars: 200, ...quiet, ...extra });
  return out;
};
const splitDocs = (ids: ArrayLike<number>, eot: number): number[][] => {
  const docs: number[][] = [[]];
  for (const id of Array.from(ids)) {
    if (id === eot) docs.push([]);
    else docs[docs.length - 1]!.push(id);
  }
  return docs.slice(0, -1);
};

describe('prepare --fimRate', () => {
  it('rate 0 writes the same bytes as no FIM at all (shards, tokenizer, report options)', async () => {
    const plain = await run('plain', {});
    const zero = await run('zero', { fimRate: 0, fimMode: 'spm' });
    for (const f of FILES) expect(readFileSync(join(zero, f)).equals(readFileSync(join(plain, f)))).toBe(true);
    const report = (d: string): Record<string, unknown> => JSON.parse(readFileSync(join(d, 'report.json'), 'utf8'));
    expect(report(zero).options).toEqual(report(plain).options);
  });

  it('rate 0.5: sentinels in the tokenizer, half the train documents rearranged, val plain', async () => {
    const plain = loadPrepared(join(root, 'plain'));
    const out = await run('half', { fimRate: 0.5 });
    const data = loadPrepared(out);
    const tok = data.tokenizer;
    const s = fimIds(tok)!;
    expect(s).not.toBeNull();
    expect(tok.vocabSize).toBe(plain.tokenizer.vocabSize + 3);
    expect(data.report.options.fim).toEqual({ rate: 0.5, mode: 'psm', fragmentChars: 0 });
    expect(formatReport(data.report)).toContain('50.0% of the train documents rearranged (PSM)');
    // Same split and same merges: the val shard holds the same ids, never a sentinel.
    expect([...data.val]).toEqual([...plain.val]);
    const plainTrain = splitDocs(plain.train, tok.eotId).map((d) => plain.tokenizer.decode(d));
    const docs = splitDocs(data.train, tok.eotId);
    expect(docs).toHaveLength(plainTrain.length);
    const fimDocs = docs.filter((d) => parseFim(d, s) !== null);
    expect(fimDocs.length).toBeGreaterThan(docs.length * 0.25);
    expect(fimDocs.length).toBeLessThan(docs.length * 0.75);
    docs.forEach((d, i) => expect(tok.decode(unarrangeFim(d, s))).toBe(plainTrain[i]));
  });

  it('spm mode puts the suffix first; the same seed gives the same shards', async () => {
    const a = await run('spm-a', { fimRate: 1, fimMode: 'spm' });
    const b = await run('spm-b', { fimRate: 1, fimMode: 'spm' });
    expect(readFileSync(join(a, 'train.bin')).equals(readFileSync(join(b, 'train.bin')))).toBe(true);
    const data = loadPrepared(a);
    const s = fimIds(data.tokenizer)!;
    for (const d of splitDocs(data.train, data.tokenizer.eotId)) expect(d.slice(0, 2)).toEqual([s.prefix, s.suffix]);
  });

  it('--fimChars: fragments of each document are rearranged apart, each ended by end-of-text', async () => {
    const plain = loadPrepared(join(root, 'plain'));
    const data = loadPrepared(await run('frag', { fimRate: 0.5, fimChars: 40 }));
    const tok = data.tokenizer;
    const s = fimIds(tok)!;
    expect(formatReport(data.report)).toContain('50.0% of the train fragments (of ~40 characters) rearranged');
    const pieces = splitDocs(data.train, tok.eotId);
    const fim = pieces.filter((d) => parseFim(d, s) !== null);
    expect(fim.length).toBeGreaterThan(plain.report.splits.train.docs);
    // A fragment of ~40 characters is far shorter than a document of up to 200.
    for (const d of fim) expect(tok.decode(unarrangeFim(d, s)).length).toBeLessThan(80);
    // Read back piece by piece, the train split is the plain one's text.
    const text = pieces.map((d) => tok.decode(unarrangeFim(d, s))).join('');
    const plainText = splitDocs(plain.train, tok.eotId)
      .map((d) => plain.tokenizer.decode(d))
      .join('');
    expect(text).toBe(plainText);
  });

  it('reads --fimRate and --fimMode from the command line and refuses bad values', async () => {
    const p = parsePrepareArgs(['--out', 'x', '--fim-rate', '0.5', '--fimMode', 'spm', '--fimChars', '300']);
    expect(p.options).toMatchObject({ fimRate: 0.5, fimMode: 'spm', fimChars: 300 });
    expect(parsePrepareArgs(['--out', 'x']).options).toMatchObject({ fimRate: 0, fimMode: 'psm', fimChars: 0 });
    await expect(run('bad-chars', { fimRate: 0.5, fimChars: -1 })).rejects.toThrow(
      /--fimChars must be an integer >= 0/,
    );
    expect(() => parsePrepareArgs(['--out', 'x', '--fimMode', 'msp'])).toThrow(CliError);
    await expect(run('bad-rate', { fimRate: 1.5 })).rejects.toThrow(/--fimRate must be a number in \[0, 1\]/);
    await expect(run('bad-mode', { fimRate: 0.5, fimMode: 'x' as 'psm' })).rejects.toThrow(
      /--fimMode must be psm or spm/,
    );
  });
});
