// One call from task options to tokenized splits: files read, split, tokenized, and every skip
// and truncation reported with the file it came from.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IGNORE_INDEX } from '../../train/finetune/examples.ts';
import { prepareClassifyTask, prepareSftTask } from '../../train/finetune/prepare.ts';
import { CharTokenizer } from '../../train/tokenizers/char.ts';

const tok = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyz :\n']);
const jsonl = (objs: unknown[]): string => objs.map((o) => JSON.stringify(o)).join('\n') + '\n';

function files(named: Record<string, unknown[]>): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'ft-prepare-'));
  return Object.fromEntries(
    Object.entries(named).map(([name, objs]) => {
      writeFileSync(join(dir, name), jsonl(objs));
      return [name, join(dir, name)];
    }),
  );
}

describe('prepareSftTask', () => {
  it('splits by fraction, tokenizes with masked prompts and reports per file and split', () => {
    const rows = Array.from({ length: 10 }, (_, i) => ({ word: 'w'.repeat(i + 1), gloss: i === 3 ? '' : 'a gloss' }));
    const f = files({ 'defs.jsonl': rows });
    const task = prepareSftTask(
      { data: f['defs.jsonl']!, prompt: 'define {word}:', target: '{gloss}', valFraction: 0.2, seed: 1 },
      tok,
      16,
    );
    expect(task.train.records.length + task.val.records.length).toBe(9);
    expect(task.val.records).toHaveLength(2);
    // Only the target ('a gloss', 7 tokens) and its end-of-text count; every prompt position is ignored.
    for (const ex of [...task.train.examples, ...task.val.examples]) {
      expect(ex.targets.filter((t) => t !== IGNORE_INDEX)).toHaveLength(8);
      expect([...ex.targets.subarray(ex.targets.length - 8)]).toEqual([...tok.encode('a gloss'), tok.eotId]);
    }
    expect(task.reports.map((r) => [r.file.replace(/^.*[\\/]/, ''), r.skipped])).toEqual([
      ['defs.jsonl', 1],
      ['defs.jsonl (train)', 0],
      ['defs.jsonl (validation)', 0],
    ]);
    // The longest words no longer fit in 16 positions: truncated from the left and counted.
    const truncated = task.reports.slice(1).reduce((s, r) => s + ('truncated' in r ? r.truncated : 0), 0);
    expect(truncated).toBeGreaterThan(0);
  });
});

describe('prepareClassifyTask', () => {
  it('uses explicit val and test files and the training label set', () => {
    const f = files({
      'train.jsonl': [
        { text: 'good', label: 'pos' },
        { text: 'bad', label: 'neg' },
        { text: '', label: 'neg' },
      ],
      'val.jsonl': [{ text: 'fine', label: 'pos' }],
      'test.jsonl': [{ text: 'awful', label: 'neg' }],
    });
    const task = prepareClassifyTask({ data: f['train.jsonl']!, val: f['val.jsonl'], test: f['test.jsonl'] }, tok, 32);
    expect(task.labels).toEqual(['neg', 'pos']);
    expect(task.train.examples.map((e) => e.label)).toEqual([1, 0]);
    expect(task.val.examples[0]!.label).toBe(1);
    expect(task.test?.examples[0]!.label).toBe(0);
    expect(task.reports[0]).toMatchObject({ used: 2, skipped: 1, reasons: { 'empty text': 1 } });
  });

  it('a test label unseen in training is an error naming the test file and line', () => {
    const f = files({
      'train.jsonl': [
        { text: 'good', label: 'pos' },
        { text: 'bad', label: 'neg' },
      ],
      'val.jsonl': [{ text: 'fine', label: 'pos' }],
      'test.jsonl': [
        { text: 'ok', label: 'pos' },
        { text: 'meh', label: 'neutral' },
      ],
    });
    expect(() =>
      prepareClassifyTask({ data: f['train.jsonl']!, val: f['val.jsonl'], test: f['test.jsonl'] }, tok, 32),
    ).toThrow(`${f['test.jsonl']}:2: test label "neutral" does not occur in the training data`);
  });
});
