// Fine-tuning records: templates, line-numbered errors for malformed data, and unusable records
// skipped and counted by reason.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  classifyRecords,
  FinetuneDataError,
  formatReport,
  parseJsonl,
  parseTemplate,
  readClassify,
  readSft,
  sftRecords,
} from '../../train/finetune/records.ts';

const jsonl = (...objs: unknown[]): string => objs.map((o) => JSON.stringify(o)).join('\n') + '\n';

describe('parseJsonl', () => {
  it('numbers rows by file line and skips blank lines', () => {
    const rows = parseJsonl('{"a":1}\n\n  \n{"a":2}\r\n', 'f.jsonl');
    expect(rows.map((r) => r.line)).toEqual([1, 4]);
    expect(rows[1]!.value).toEqual({ a: 2 });
  });

  it('names the file and line of bad JSON and of a non-object', () => {
    expect(() => parseJsonl('{"a":1}\n{"a":\n', 'f.jsonl')).toThrow(/^f\.jsonl:2: not valid JSON/);
    expect(() => parseJsonl('{"a":1}\n\n[1,2]\n', 'f.jsonl')).toThrow(
      'f.jsonl:3: expected a JSON object, got an array',
    );
    expect(() => parseJsonl('"x"', 'f.jsonl')).toThrow(FinetuneDataError);
  });
});

describe('templates', () => {
  it('parses fields, literals and {{ }} escapes', () => {
    const t = parseTemplate('Define: {word}\n{{x}} {gloss}.', '--prompt');
    expect(t.fields).toEqual(['word', 'gloss']);
    expect(t.literals).toEqual(['Define: ', '\n{x} ', '.']);
  });

  it('rejects an unclosed or empty field and a stray brace', () => {
    expect(() => parseTemplate('a {word', '--prompt')).toThrow(/--prompt template "a {word": "{" at 2/);
    expect(() => parseTemplate('a {}', '--target')).toThrow(/--target template/);
    expect(() => parseTemplate('a } b', '--prompt')).toThrow(/unmatched "}" at 2/);
  });
});

describe('sft records', () => {
  it('defaults to {prompt} and {completion}', () => {
    const { records, report } = sftRecords(parseJsonl(jsonl({ prompt: 'Q', completion: 'A' }), 'd'), 'd');
    expect(records).toEqual([{ prompt: 'Q', target: 'A', line: 1 }]);
    expect(report).toMatchObject({ records: 1, used: 1, skipped: 0 });
  });

  it('fills custom templates; numbers become text', () => {
    const rows = parseJsonl(jsonl({ word: 'cat', gloss: 'a feline', n: 3 }), 'd');
    const { records } = sftRecords(rows, 'd', { prompt: 'Define: {word} ({n})\n', target: '{gloss}' });
    expect(records[0]).toMatchObject({ prompt: 'Define: cat (3)\n', target: 'a feline' });
  });

  it('a template naming a field the record lacks is an error naming file, line and field', () => {
    const rows = parseJsonl(jsonl({ word: 'a', gloss: 'b' }, { word: 'c' }), 'defs.jsonl');
    expect(() => sftRecords(rows, 'defs.jsonl', { prompt: '{word}', target: '{gloss}' })).toThrow(
      'defs.jsonl:2: --target template names field "gloss", which this record lacks (fields: word)',
    );
    expect(() => sftRecords(rows, 'defs.jsonl', { prompt: '{wrod}', target: '{gloss}' })).toThrow(
      /defs\.jsonl:1: .*"wrod"/,
    );
  });

  it('skips and counts empty or non-text fields, never silently', () => {
    const rows = parseJsonl(
      jsonl(
        { prompt: 'a', completion: 'b' },
        { prompt: null, completion: 'b' },
        { prompt: 'a', completion: '' },
        { prompt: 'a', completion: {} },
      ),
      'd.jsonl',
    );
    const { records, report } = sftRecords(rows, 'd.jsonl');
    expect(records).toHaveLength(1);
    expect(report).toMatchObject({ records: 4, used: 1, skipped: 3 });
    expect(report.reasons).toEqual({ 'empty prompt': 1, 'empty completion': 1, 'completion is not text': 1 });
    expect(report.examples[0]).toBe('d.jsonl:2: empty prompt');
    expect(formatReport(report)).toBe(
      'd.jsonl: 1 of 4 records used; skipped: 1 empty prompt, 1 empty completion, 1 completion is not text',
    );
  });
});

describe('classify records', () => {
  it('reads string labels and sorts the label set', () => {
    const rows = parseJsonl(jsonl({ text: 'good', label: 'pos' }, { text: 'bad', label: 'neg' }), 'd');
    const data = classifyRecords(rows, 'd');
    expect(data.labels).toEqual(['neg', 'pos']);
    expect(data.records.map((r) => r.label)).toEqual(['pos', 'neg']);
  });

  it('reads integer labels under configurable field names', () => {
    const rows = parseJsonl(jsonl({ s: 'x', y: 10 }, { s: 'y', y: 2 }, { s: 'z', y: 2 }), 'd');
    const data = classifyRecords(rows, 'd', { textField: 's', labelField: 'y' });
    expect(data.labels).toEqual([2, 10]);
    expect(data.records).toHaveLength(3);
  });

  it('a missing label field, a missing text field and mixed label types are errors', () => {
    const noLabel = parseJsonl(jsonl({ text: 'a', label: 1 }, { text: 'b', class: 1 }), 's.jsonl');
    expect(() => classifyRecords(noLabel, 's.jsonl')).toThrow(
      /^s\.jsonl:2: no "label" field for the label \(fields: text, class/,
    );
    const noText = parseJsonl(jsonl({ sentence: 'a', label: 1 }), 's.jsonl');
    expect(() => classifyRecords(noText, 's.jsonl')).toThrow(/^s\.jsonl:1: --textField names field "text"/);
    const mixed = parseJsonl(jsonl({ text: 'a', label: 1 }, { text: 'b', label: 'pos' }), 's.jsonl');
    expect(() => classifyRecords(mixed, 's.jsonl')).toThrow(
      's.jsonl:2: label "pos" is a string, but the label on line 1 is a number',
    );
  });

  it('skips and counts empty texts, missing labels, bad labels and labels outside a given set', () => {
    const rows = parseJsonl(
      jsonl(
        { text: 'ok', label: 'a' },
        { text: '  ', label: 'a' },
        { text: 'x', label: null },
        { text: 'x', label: 1.5 },
        { text: 'x', label: 'c' },
        { text: 'ok', label: 'b' },
      ),
      'd',
    );
    const data = classifyRecords(rows, 'd', { labels: ['b', 'a'] });
    expect(data.labels).toEqual(['b', 'a']);
    expect(data.records.map((r) => r.line)).toEqual([1, 6]);
    expect(data.report.reasons).toEqual({
      'empty text': 1,
      'no label': 1,
      'label neither a string nor an integer': 1,
      'label not in the label set': 1,
    });
    expect(data.report.skipped + data.report.used).toBe(data.report.records);
  });

  it('a record with the pair field (text2 by default) is a sentence pair; null or absent is one text', () => {
    const rows = parseJsonl(
      jsonl(
        { text: 'a', text2: 'b', label: 'next' },
        { text: 'c', label: 'random' },
        { text: 'd', text2: null, label: 'random' },
        { text: 'e', text2: ' ', label: 'next' },
        { text: 'f', text2: 'g', label: 'next' },
      ),
      'p.jsonl',
    );
    const data = classifyRecords(rows, 'p.jsonl');
    expect(data.records.map((r) => [r.text, r.text2])).toEqual([
      ['a', 'b'],
      ['c', undefined],
      ['d', undefined],
      ['f', 'g'],
    ]);
    expect(data.report.reasons).toEqual({ 'empty text2': 1 });
    const named = classifyRecords(parseJsonl(jsonl({ q: 'x', a: 'y', label: 1 }), 'q'), 'q', {
      textField: 'q',
      pairField: 'a',
    });
    expect(named.records[0]).toMatchObject({ text: 'x', text2: 'y' });
  });
});

describe('files', () => {
  it('reads files and names a missing one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-records-'));
    const f = join(dir, 'a.jsonl');
    writeFileSync(f, jsonl({ prompt: 'p', completion: 'c' }, { text: 't', label: 0 }));
    expect(() => readSft(f)).toThrow(`${f}:2: --prompt template names field "prompt"`);
    const g = join(dir, 'b.jsonl');
    writeFileSync(g, jsonl({ text: 't', label: 0 }, { text: '', label: 1 }));
    expect(readClassify(g).report).toMatchObject({ file: g, records: 2, used: 1, skipped: 1 });
    expect(() => readSft(join(dir, 'none.jsonl'))).toThrow(/none\.jsonl: cannot read \(ENOENT\)/);
  });
});
