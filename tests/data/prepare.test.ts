import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { CliError } from '../../train/cli-error.ts';
import { loadPrepared } from '../../train/data/dataset.ts';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { decodeUtf8, firstInvalidUtf8, normalizeText, splitTextDocuments } from '../../train/data/inputs.ts';
import { PREPARE_HELP, parsePrepareArgs, prepareMain } from '../../train/cli/prepare.ts';
import { prepare, type PrepareOptions } from '../../train/data/prepare.ts';
import { formatReport, type PrepareReport } from '../../train/data/report.ts';
import { loadTokenizer } from '../../train/tokenizers/index.ts';
import { Rng } from '../../kernels/random.ts';
import { readShard } from '../../train/data/shards.ts';
import { unigramEntropy } from '../../train/data/stats.ts';

const root = mkdtempSync(join(tmpdir(), 'prepare-test-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => {
  const d = join(root, `case-${n++}`);
  mkdirSync(d);
  return d;
};
const quiet = { progress: 'off' as const, log: (): void => {} };

function paragraph(seed: number, words = 60): string {
  const vocab =
    'sea ship whale wind sail rope deck crew storm calm night day old man boy sang ran saw heard dark'.split(' ');
  const rng = new Rng(seed, 'sfc32');
  const ws = Array.from({ length: words }, () => vocab[rng.unbiasedInt(vocab.length)]);
  return `Paragraph ${seed}: ${ws.join(' ')}.`;
}

/** A small corpus with a folder of txt + md files, a JSONL file, and one of each cleanup problem. */
function makeCorpus(): { dir: string; texts: string } {
  const dir = fresh();
  const texts = join(dir, 'texts');
  mkdirSync(join(texts, 'sub'), { recursive: true });
  writeFileSync(join(texts, 'a.txt'), Array.from({ length: 12 }, (_, i) => paragraph(i)).join('\n\n\n'));
  writeFileSync(
    join(texts, 'sub', 'b.md'),
    `# Notes\r\n\r\n${paragraph(100)}\r\nMail me at ann@example.com please.\r\n`,
  );
  writeFileSync(join(texts, 'dup.txt'), paragraph(3)); // exact duplicate of a paragraph of a.txt? (packed: no)
  writeFileSync(join(texts, 'ignored.csv'), 'x,y\n1,2\n');
  const jsonl = [
    { text: paragraph(200) },
    { text: paragraph(200) }, // exact duplicate
    { text: paragraph(200).replace('sea', 'ocean') }, // near duplicate
    { text: '<p>Hello <b>HTML</b> world, this is a web page with &amp; entities.</p>' },
    { text: 'tiny' },
    { text: '1234 5678 9999 0000 1111 2222 3333' },
    { text: `Cafe\u0301 ${paragraph(300)}` }, // NFD: normalised to NFC
  ]
    .map((o) => JSON.stringify(o))
    .join('\n');
  writeFileSync(join(dir, 'web.jsonl'), jsonl + '\n');
  return { dir, texts };
}

function tokensOf(out: string, file: string): number[] {
  return [...readShard(join(out, file)).tokens];
}

describe('prepare end to end', () => {
  const { dir, texts } = makeCorpus();
  const out = join(dir, 'out');
  let report: PrepareReport;

  it('writes shards, tokenizer and report', async () => {
    report = await prepare({
      inputs: [texts, join(dir, 'web.jsonl')],
      out,
      tokenizer: 'bpe',
      vocabSize: 300,
      docChars: 600,
      valFraction: 0.2,
      ...quiet,
    });
    expect(readdirSync(out).sort()).toEqual(['report.json', 'tokenizer.json', 'train.bin', 'val.bin']);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'))).toEqual(report);
    // No temporary folders left beside the output.
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('reads folders recursively (.txt, .md, .jsonl only) and counts per source', () => {
    expect(report.inputs.files).toBe(4); // a.txt, dup.txt, sub/b.md, web.jsonl; not the .csv
    const sources = report.sources.map((s) => s.source);
    expect(sources).toEqual([join(texts, 'a.txt'), join(texts, 'dup.txt'), join(texts, 'sub'), join(dir, 'web.jsonl')]);
    const share = report.sources.reduce((s, x) => s + x.tokenShare, 0);
    expect(share).toBeCloseTo(1, 4);
    expect(report.sources.reduce((s, x) => s + x.tokens, 0)).toBe(report.tokens);
  });

  it('applies and counts every cleanup rule', () => {
    expect(report.rules.exactDup.docsRemoved).toBe(1);
    expect(report.rules.nearDup.docsRemoved).toBe(1);
    expect(report.rules.markup.docsChanged).toBe(1);
    expect(report.rules.tooShort.docsRemoved).toBe(1);
    expect(report.rules.nonLetter.docsRemoved).toBe(1);
    expect(report.rules.anonymize.docsChanged).toBe(1);
    expect(report.anonymized.email).toBe(1);
    expect(report.docsOut).toBe(report.docsIn - 4);
    expect(report.docsOut).toBe(report.splits.train.docs + report.splits.val.docs);
    expect(report.charsOut).toBe(report.splits.train.chars + report.splits.val.chars);
  });

  it('stores documents separated by end-of-text, decodable by the saved tokenizer', () => {
    const tok = loadTokenizer(out);
    expect(tok.id).toBe(report.tokenizer.id);
    const train = tokensOf(out, 'train.bin');
    const val = tokensOf(out, 'val.bin');
    expect(train.length).toBe(report.splits.train.tokens);
    expect(val.length).toBe(report.splits.val.tokens);
    expect(train.filter((t) => t === tok.eotId).length).toBe(report.splits.train.docs);
    expect(train[train.length - 1]).toBe(tok.eotId);
    const header = readShard(join(out, 'train.bin')).header;
    expect(header).toMatchObject({
      vocabSize: 300,
      eotId: 299,
      tokenizerId: tok.id,
      docCount: report.splits.train.docs,
      tokenBytes: 2,
    });
    const docs = [...tok.decode(train).split('<|endoftext|>'), ...tok.decode(val).split('<|endoftext|>')].filter(
      (d) => d !== '',
    );
    expect(docs.length).toBe(report.docsOut);
    const all = docs.join('\n');
    expect(all).toContain('Hello HTML world, this is a web page with & entities.');
    expect(all).toContain('Mail me at <EMAIL> please.');
    expect(all).toContain('Caf\u00e9 Paragraph 300'); // NFC
    expect(all).not.toContain('\r');
    expect(all).not.toContain('tiny');
  });

  it('reports unigram entropy computed from the shards', () => {
    const count = (ids: number[]): Float64Array => {
      const c = new Float64Array(300);
      for (const id of ids) c[id]! += 1;
      return c;
    };
    const train = tokensOf(out, 'train.bin');
    const val = tokensOf(out, 'val.bin');
    expect(report.trainUnigramEntropy).toBeCloseTo(unigramEntropy(count(train)), 5);
    expect(report.unigramEntropy).toBeCloseTo(unigramEntropy(count([...train, ...val])), 5);
    expect(report.unigramEntropy).toBeGreaterThan(0);
    expect(report.valUnigramCrossEntropy).toBeGreaterThan(0);
  });

  it('is reproducible and replaces its previous output', async () => {
    const before = readFileSync(join(out, 'train.bin'));
    const again = await prepare({
      inputs: [texts, join(dir, 'web.jsonl')],
      out,
      tokenizer: 'bpe',
      vocabSize: 300,
      docChars: 600,
      valFraction: 0.2,
      ...quiet,
    });
    expect(readFileSync(join(out, 'train.bin')).equals(before)).toBe(true);
    expect(again.splits).toEqual(report.splits);
    const otherSeed = await prepare({
      inputs: [texts, join(dir, 'web.jsonl')],
      out,
      tokenizer: 'bpe',
      vocabSize: 300,
      docChars: 600,
      valFraction: 0.2,
      seed: 9,
      ...quiet,
    });
    expect(otherSeed.docsOut).toBe(report.docsOut);
    expect(readdirSync(dir).filter((f) => f.startsWith('.'))).toEqual([]);
  });

  it('switches rules off', async () => {
    const r = await prepare({
      inputs: [join(dir, 'web.jsonl')],
      out: join(dir, 'out-raw'),
      tokenizer: 'char',
      rules: { noise: false, exactDup: false, nearDup: false, anonymize: false },
      ...quiet,
    });
    expect(r.docsOut).toBe(r.docsIn);
    for (const rule of Object.values(r.rules)) {
      expect(rule.enabled).toBe(false);
      expect(rule.docsRemoved + rule.docsChanged).toBe(0);
    }
    expect(formatReport(r)).toMatch(/exactDup\s+no/);
  });

  it('works with every tokenizer and loads each back', async () => {
    for (const kind of ['gpt2', 'char'] as const) {
      const o = join(dir, `out-${kind}`);
      const r = await prepare({ inputs: [texts], out: o, tokenizer: kind, docChars: 600, ...quiet });
      const tok = loadTokenizer(o);
      expect(tok.type).toBe(kind);
      expect(r.tokenizer.vocabSize).toBe(tok.vocabSize);
      const ids = tokensOf(o, 'train.bin');
      expect(tok.decode(ids)).toContain('Paragraph');
      if (kind === 'gpt2') expect(readShard(join(o, 'train.bin')).header.eotId).toBe(50256);
    }
  });
});

describe('text normalisation', () => {
  it('unifies line endings, drops a BOM, composes to NFC and repairs lone surrogates', () => {
    expect(normalizeText('\uFEFFa\r\nb\rc\n')).toBe('a\nb\nc\n');
    expect(normalizeText('Cafe\u0301')).toBe('Caf\u00e9');
    expect(normalizeText('x\uD800y\uDC00z 😀')).toBe('x\uFFFDy\uFFFDz 😀');
  });
});

describe('plain-text documents', () => {
  it('are paragraphs packed up to docChars, or whole files with docChars 0', () => {
    const text = 'p1 line a\np1 line b\n\n\n  \np2\n\np3 is longer than the others';
    expect(splitTextDocuments(text, 0)).toEqual([text]);
    expect(splitTextDocuments(text, 1000)).toEqual(['p1 line a\np1 line b\n\np2\n\np3 is longer than the others']);
    expect(splitTextDocuments(text, 25)).toEqual(['p1 line a\np1 line b\n\np2', 'p3 is longer than the others']);
    expect(splitTextDocuments('\n\n   \n', 100)).toEqual([]);
  });
});

describe('bad input', () => {
  const good = (dir: string): string => {
    const p = join(dir, 'good.txt');
    writeFileSync(p, `${paragraph(1)}\n\n${paragraph(2)}\n\n${paragraph(3)}`);
    return p;
  };
  const run = (dir: string, inputs: string[], extra: Partial<PrepareOptions> = {}): Promise<PrepareReport> =>
    prepare({ inputs, out: join(dir, 'out'), tokenizer: 'char', docChars: 100, ...quiet, ...extra });

  it('a missing path is an error naming it', async () => {
    const dir = fresh();
    const missing = join(dir, 'nope.txt');
    await expect(run(dir, [good(dir), missing])).rejects.toThrow(new CliError(`input not found: ${missing}`));
    expect(existsSync(join(dir, 'out'))).toBe(false);
  });

  it('an empty corpus is an error', async () => {
    const dir = fresh();
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '\n\n  \n');
    await expect(run(dir, [empty])).rejects.toThrow(/empty corpus: the 1 input file\(s\) contain no text/);
    const folder = join(dir, 'folder');
    mkdirSync(folder);
    writeFileSync(join(folder, 'data.bin'), 'x');
    await expect(run(dir, [folder])).rejects.toThrow(/no \.txt, \.md or \.jsonl files found under the folder/);
    await expect(run(dir, [])).rejects.toThrow(CliError);
    // Everything removed by cleanup is an empty corpus too, with the rules named.
    const short = join(dir, 'short.txt');
    writeFileSync(short, 'hi');
    await expect(run(dir, [short])).rejects.toThrow(/all 1 documents were removed \(tooShort: 1\)/);
    expect(readdirSync(dir).sort()).toEqual(['empty.txt', 'folder', 'short.txt']);
  });

  it('a binary file is skipped and counted (an error with --strict)', async () => {
    const dir = fresh();
    const bin = join(dir, 'image.txt');
    writeFileSync(bin, Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x00, 0x1a, 0x0a, 0x00, 0x01]));
    const lines: string[] = [];
    const r = await run(dir, [good(dir), bin], { log: (l) => lines.push(l) });
    expect(r.skipped.binaryFile).toBe(1);
    expect(r.skipped.examples[0]).toContain(bin);
    expect(lines.join('\n')).toContain(`${bin}: binary file`);
    await expect(run(dir, [good(dir), bin], { strict: true })).rejects.toThrow(`${bin}: binary file`);
  });

  it('invalid UTF-8 is skipped with file and line (an error with --strict)', async () => {
    const dir = fresh();
    const bad = join(dir, 'latin1.txt');
    writeFileSync(
      bad,
      Buffer.concat([Buffer.from(`${paragraph(9)}\nsecond line caf`), Buffer.from([0xe9]), Buffer.from(' au lait\n')]),
    );
    const r = await run(dir, [good(dir), bad]);
    expect(r.skipped.invalidUtf8).toBe(1);
    expect(r.skipped.examples[0]).toMatch(
      new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:2: invalid UTF-8`),
    );
    await expect(run(dir, [bad, good(dir)], { strict: true })).rejects.toThrow(`${bad}:2: invalid UTF-8`);
  });

  it('a malformed JSONL line is skipped with file and line; the other lines are kept', async () => {
    const dir = fresh();
    const f = join(dir, 'data.jsonl');
    writeFileSync(
      f,
      [
        JSON.stringify({ text: paragraph(1) }),
        '{"text": "unterminated',
        JSON.stringify({ body: paragraph(2) }),
        JSON.stringify({ text: paragraph(3) }),
      ].join('\n'),
    );
    const r = await run(dir, [f]);
    expect(r.docsIn).toBe(2);
    expect(r.skipped.malformedJson).toBe(1);
    expect(r.skipped.missingTextField).toBe(1);
    expect(r.skipped.examples).toEqual([
      expect.stringMatching(new RegExp(`data\\.jsonl:2: malformed JSON`)),
      expect.stringMatching(new RegExp(`data\\.jsonl:3: no string field "text"`)),
    ]);
    await expect(run(dir, [f], { strict: true })).rejects.toThrow(`${f}:2: malformed JSON`);
    await expect(run(dir, [f], { strict: true })).rejects.not.toThrow(/skipped/);
    expect(r.warnings[0]).toMatch(/data\.jsonl:2: malformed JSON .*; the line is skipped$/);
    // --textField picks another field.
    const r2 = await run(dir, [f], { textField: 'body' });
    expect(r2.docsIn).toBe(1);
  });

  it('finds the first invalid UTF-8 byte', () => {
    const enc = new TextEncoder();
    expect(firstInvalidUtf8(enc.encode('héllo 😀 世界'))).toBe(-1);
    expect(firstInvalidUtf8(Uint8Array.from([0x61, 0xc3]))).toBe(1); // truncated sequence
    expect(firstInvalidUtf8(Uint8Array.from([0x61, 0xc0, 0x80]))).toBe(1); // overlong
    expect(firstInvalidUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toBe(0); // surrogate
    expect(firstInvalidUtf8(Uint8Array.from([0xf4, 0x90, 0x80, 0x80]))).toBe(0); // > U+10FFFF
    expect(decodeUtf8(Uint8Array.from([0x61, 0x0a, 0x0a, 0xff]))).toEqual({ ok: false, line: 3, offset: 3 });
  });
});

describe('atomic output', () => {
  it('a failure before the rename leaves no output and no temporary folder', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'in.txt'), paragraph(1) + '\n\n' + paragraph(2));
    let seen: string[] = [];
    await expect(
      prepare({
        inputs: [join(dir, 'in.txt')],
        out: join(dir, 'out'),
        tokenizer: 'char',
        ...quiet,
        beforeCommit: (tmp) => {
          seen = readdirSync(tmp).sort();
          expect(existsSync(join(dir, 'out'))).toBe(false);
          throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    expect(seen).toEqual(['report.json', 'tokenizer.json', 'train.bin', 'val.bin']);
    expect(readdirSync(dir)).toEqual(['in.txt']);
  });

  it('a failed re-run keeps the previous output intact', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'in.txt'), paragraph(1) + '\n\n' + paragraph(2));
    const opts = { inputs: [join(dir, 'in.txt')], out: join(dir, 'out'), tokenizer: 'char' as const, ...quiet };
    await prepare(opts);
    const before = readFileSync(join(dir, 'out', 'train.bin'));
    await expect(
      prepare({
        ...opts,
        tokenizer: 'bpe',
        vocabSize: 300,
        beforeCommit: () => {
          throw new Error('disk full');
        },
      }),
    ).rejects.toThrow('disk full');
    expect(readFileSync(join(dir, 'out', 'train.bin')).equals(before)).toBe(true);
    expect(loadTokenizer(join(dir, 'out')).type).toBe('char');
    expect(readdirSync(dir).sort()).toEqual(['in.txt', 'out']);
  });

  it('refuses to overwrite a folder that is not a prepare output', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'in.txt'), paragraph(1));
    mkdirSync(join(dir, 'out'));
    writeFileSync(join(dir, 'out', 'precious.txt'), 'keep me');
    await expect(
      prepare({ inputs: [join(dir, 'in.txt')], out: join(dir, 'out'), tokenizer: 'char', ...quiet }),
    ).rejects.toThrow(/refusing to overwrite/);
    expect(readdirSync(join(dir, 'out'))).toEqual(['precious.txt']);
  });

  it('loadPrepared notices shards and a tokenizer that do not belong together', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'in.txt'), paragraph(1) + '\n\n' + paragraph(2));
    await prepare({ inputs: [join(dir, 'in.txt')], out: join(dir, 'a'), tokenizer: 'char', ...quiet });
    await prepare({ inputs: [join(dir, 'in.txt')], out: join(dir, 'b'), tokenizer: 'bpe', vocabSize: 300, ...quiet });
    expect(loadPrepared(join(dir, 'a')).tokenizer.type).toBe('char');
    writeFileSync(join(dir, 'a', 'tokenizer.json'), readFileSync(join(dir, 'b', 'tokenizer.json')));
    expect(() => loadPrepared(join(dir, 'a'))).toThrow(/was written with tokenizer char-/);
    expect(() => loadPrepared(dir)).toThrow(/not a prepared-data folder/);
  });

  it('removes temporary folders left by an interrupted run', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'in.txt'), paragraph(1));
    // pid 2^22 + 1 is above Linux's largest possible pid_max (2^22): a dead process.
    const stale = join(dir, `.out.prepare-tmp-4194305-1`);
    mkdirSync(stale);
    writeFileSync(join(stale, 'train.bin'), 'half');
    await prepare({ inputs: [join(dir, 'in.txt')], out: join(dir, 'out'), tokenizer: 'char', ...quiet });
    expect(readdirSync(dir).sort()).toEqual(['in.txt', 'out']);
  });
});

describe('command line', () => {
  it('parses flags in camelCase, kebab-case and with =', () => {
    const p = parsePrepareArgs([
      '--input',
      'a.txt',
      'b',
      '-i',
      'c.jsonl',
      '--out=outdir',
      '--tokenizer',
      'char',
      '--vocab-size',
      '300',
      '--valFraction=0.1',
      '--text_field',
      'body',
      '--nearDupThreshold',
      '0.9',
      '--no-near-dup',
      '--no-noise',
      '--no-anonymize',
      '--strict',
      '--quiet',
      '--seed',
      '5',
    ]);
    expect(p.options).toMatchObject({
      inputs: ['a.txt', 'b', 'c.jsonl'],
      out: 'outdir',
      tokenizer: 'char',
      vocabSize: 300,
      valFraction: 0.1,
      textField: 'body',
      nearDupThreshold: 0.9,
      strict: true,
      seed: 5,
      rules: { nearDup: false, noise: false, anonymize: false },
    });
    expect(p.quiet).toBe(true);
  });

  it('accepts every alias of the old hand-written parser, and inputs in command-line order', () => {
    const p = parsePrepareArgs([
      'a.txt',
      '--inputs',
      'b',
      'c',
      'd.md',
      '--output',
      'o',
      '--vocab=400',
      '--val',
      '0.2',
      '--threshold',
      '0.7',
      '--noprogress',
      '--no-control',
      '--no-html',
      '--no-short',
      '--no-anonymise',
      '--no-dedup',
      '--no-nonletter',
      '--no-boilerplate',
      '--no-too-short',
      '--minChars',
      '5',
      '--min-letter-fraction',
      '0.25',
      '--doc-chars',
      '0',
    ]);
    expect(p.options).toMatchObject({
      inputs: ['a.txt', 'b', 'c', 'd.md'],
      out: 'o',
      vocabSize: 400,
      valFraction: 0.2,
      nearDupThreshold: 0.7,
      minChars: 5,
      minLetterFraction: 0.25,
      docChars: 0,
      rules: {
        controlChars: false,
        markup: false,
        tooShort: false,
        anonymize: false,
        exactDup: false,
        nonLetter: false,
        boilerplate: false,
      },
    });
    expect(p.quiet).toBe(true);
    expect(parsePrepareArgs(['-o', 'x', '-q', '-i', 'y']).options).toMatchObject({ out: 'x', inputs: ['y'] });
    // Only rules given on the command line are passed on, so --no-noise is not undone by defaults.
    expect(parsePrepareArgs(['-o', 'x', '--no-noise', '--markup']).options.rules).toEqual({
      noise: false,
      markup: true,
    });
    expect(parsePrepareArgs(['-o', 'x']).options.rules).toEqual({});
    expect(parsePrepareArgs(['-h']).help).toBe(true);
  });

  it('help lists every flag, the rules as --no-<rule>', () => {
    for (const flag of ['--input, -i <path>...', '--out, -o <dir>', '--tokenizer <gpt2|bpe|char>', '--no-nearDup']) {
      expect(PREPARE_HELP).toContain(flag);
    }
    expect(PREPARE_HELP).toContain('(default 0.05)');
    expect(PREPARE_HELP).not.toContain('--exactDup');
  });

  it('reports bad arguments as CliError', () => {
    expect(() => parsePrepareArgs(['--out', 'x', '--tokenizer', 'wordpiece'])).toThrow(
      /--tokenizer must be one of gpt2, bpe, char, got "wordpiece"/,
    );
    expect(() => parsePrepareArgs(['--out', 'x', '--bogus'])).toThrow(CliError);
    expect(() => parsePrepareArgs(['--out', 'x', '--vocabSize', 'many'])).toThrow(
      /--vocabSize must be an integer, got "many"/,
    );
    expect(() => parsePrepareArgs(['-i', 'a.txt'])).toThrow(/--out/);
    expect(() => parsePrepareArgs(['--out'])).toThrow(/--out needs a value/);
  });

  it('defaults to the Moby-Dick corpus without --input', () => {
    const p = parsePrepareArgs(['--out', 'x']);
    expect(p.usedDefaultCorpus).toBe(true);
    expect(p.options.inputs).toEqual([defaultCorpusPath()]);
  });

  it('rejects option values out of range', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'in.txt'), paragraph(1));
    const base = { inputs: [join(dir, 'in.txt')], out: join(dir, 'out'), ...quiet };
    await expect(prepare({ ...base, valFraction: 1.5 })).rejects.toThrow(/--valFraction must be a number in \[0, 1\)/);
    await expect(prepare({ ...base, tokenizer: 'gpt2', vocabSize: 1000 })).rejects.toThrow(
      /does not apply to the gpt2/,
    );
    await expect(prepare({ ...base, vocabSize: 100 })).rejects.toThrow(/--vocabSize must be an integer from 257/);
    await expect(prepare({ ...base, nearDupThreshold: 0 })).rejects.toThrow(CliError);
  });

  it('prints help and the report', async () => {
    const writes: string[] = [];
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      writes.push(String(chunk));
      return true;
    });
    const errSpy = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await prepareMain(['--help']);
      expect(writes.join('')).toContain('usage: webgpu-gpt prepare');
      writes.length = 0;
      const dir = fresh();
      writeFileSync(join(dir, 'in.txt'), paragraph(1) + '\n\n' + paragraph(2));
      await prepareMain(['--input', join(dir, 'in.txt'), '--out', join(dir, 'out'), '--tokenizer', 'char', '--quiet']);
      const text = writes.join('');
      expect(text).toContain('cleanup');
      expect(text).toMatch(/unigram entropy [0-9.]+ nats\/token/);
      expect(text).toContain('sources');
    } finally {
      spy.mockRestore();
      errSpy.mockRestore();
    }
  });
});

describe('default corpus (Moby-Dick)', () => {
  const moby = defaultCorpusPath();

  it('is the plain text of the book', () => {
    const text = readFileSync(moby, 'utf8');
    expect(text.length).toBeGreaterThan(1_000_000);
    expect(text).toContain('Call me Ishmael.');
  });

  it.each(['bpe', 'char', 'gpt2'] as const)('prepares with the %s tokenizer', async (kind) => {
    const out = join(fresh(), 'moby');
    const r = await prepare({ inputs: [moby], out, tokenizer: kind, ...quiet });
    expect(r.docsIn).toBeGreaterThan(200);
    expect(r.docsOut).toBe(r.docsIn); // a clean book: nothing removed
    const valShare = r.splits.val.chars / r.charsOut;
    expect(valShare).toBeGreaterThan(0.04);
    expect(valShare).toBeLessThan(0.06);
    expect(r.splits.val.tokens).toBeGreaterThan(1000);
    expect(r.tokenizer.vocabSize).toBe(kind === 'bpe' ? 2048 : kind === 'gpt2' ? 50257 : r.tokenizer.vocabSize);
    // Entropy in nats: well below log(vocab), above zero.
    expect(r.trainUnigramEntropy).toBeGreaterThan(2);
    expect(r.trainUnigramEntropy).toBeLessThan(Math.log(r.tokenizer.vocabSize));
    const data = loadPrepared(out);
    expect(data.tokenizer.id).toBe(r.tokenizer.id);
    expect(data.train.length).toBe(r.splits.train.tokens);
    expect(data.unigramLoss).toBe(r.trainUnigramEntropy);
    expect(data.tokenizer.decode(data.val.subarray(0, 200))).toMatch(/[a-z]+ [a-z]+/);
  });
});
