// Config parsing: defaults, file + command-line precedence, and errors that name the key.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CliError } from '../../train/cli-error.ts';
import {
  EVAL_SCHEMA,
  GENERATE_SCHEMA,
  TRAIN_SCHEMA,
  formatHelp,
  parseConfig,
  type Schema,
} from '../../train/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-config-'));
const file = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};

function errorOf(fn: () => unknown): CliError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    return e as CliError;
  }
  throw new Error('expected a CliError');
}

describe('parseConfig', () => {
  it('fills defaults and takes --key=value and --key value', () => {
    const { values, sources } = parseConfig(
      TRAIN_SCHEMA,
      ['--data', 'd', '--out=o', '--lr=3e-4', '--batchSize', '4', '--dropout', '0.1'],
      'pretrain',
    );
    expect(values.data).toBe('d');
    expect(values.out).toBe('o');
    expect(values.lr).toBe(3e-4);
    expect(values.batchSize).toBe(4);
    expect(values.dropout).toBe(0.1);
    expect(values.steps).toBe(TRAIN_SCHEMA.steps.default);
    expect(sources.lr).toBe('cli');
    expect(sources.steps).toBe('default');
  });

  it('reads a JSON file and lets the command line override it', () => {
    const f = file('a.json', JSON.stringify({ lr: 0.01, steps: 7, samplePrompt: 'Call me' }));
    const { values, sources } = parseConfig(TRAIN_SCHEMA, ['--config', f, '--steps=9'], 'pretrain');
    expect(values.lr).toBe(0.01);
    expect(values.steps).toBe(9);
    expect(values.samplePrompt).toBe('Call me');
    expect(sources.lr).toBe('file');
    expect(sources.steps).toBe('cli');
  });

  it('booleans: bare flag, explicit value, --no-', () => {
    expect(parseConfig(EVAL_SCHEMA, ['-c', 'x', '-i', 'y', '--json'], 'eval').values.json).toBe(true);
    expect(parseConfig(EVAL_SCHEMA, ['-c', 'x', '-i', 'y', '--json', 'false'], 'eval').values.json).toBe(false);
    expect(parseConfig(EVAL_SCHEMA, ['-c', 'x', '-i', 'y', '--json=true', '--no-json'], 'eval').values.json).toBe(
      false,
    );
  });

  it('kebab-case aliases and negative numbers', () => {
    const { values } = parseConfig(
      GENERATE_SCHEMA,
      ['-c', 'run', '--max-tokens', '12', '--temperature', '0'],
      'generate',
    );
    expect(values.maxTokens).toBe(12);
    expect(values.temperature).toBe(0);
  });

  it('keys in any spelling, aliases and short flags', () => {
    const { values } = parseConfig(GENERATE_SCHEMA, ['-c', 'run', '--max_tokens', '3', '--TOPK', '5'], 'generate');
    expect(values.maxTokens).toBe(3);
    expect(values.topK).toBe(5);
    const schema: Schema<{ out: string | null; quiet: boolean }> = {
      out: { type: 'string', default: null, short: 'o', aliases: ['output'], help: 'o' },
      quiet: { type: 'boolean', default: false, aliases: ['noProgress'], help: 'q' },
    };
    expect(parseConfig(schema, ['--output', 'x', '--no-progress'], 'x').values).toEqual({ out: 'x', quiet: true });
    expect(parseConfig(schema, ['-o', 'y', '--quiet', '--no-quiet'], 'x').values).toEqual({ out: 'y', quiet: false });
  });

  it('list keys: repeated, several words after one flag, positional words, JSON arrays', () => {
    interface L {
      input: string[];
      tag: string[];
      n: number;
    }
    const schema: Schema<L> = {
      input: { type: 'list', default: [], positional: true, short: 'i', help: 'inputs' },
      tag: { type: 'list', default: [], help: 'tags' },
      n: { type: 'int', default: 1, help: 'n' },
    };
    const p = parseConfig(
      schema,
      ['a', '--input', 'b', 'c', '--n', '2', 'd', '-i', 'e', '--tag=x', 'f', '--tag', 'y', 'z'],
      'x',
    );
    expect(p.values).toEqual({ input: ['a', 'b', 'c', 'd', 'e', 'f'], tag: ['x', 'y', 'z'], n: 2 });
    expect(p.positional).toEqual([]);
    expect(p.sources.input).toBe('cli');
    const d = parseConfig(schema, [], 'x');
    expect(d.values.input).toEqual([]);
    expect(d.sources.input).toBe('default');
    const f = file('list.json', JSON.stringify({ tag: ['p', 'q'] }));
    expect(parseConfig(schema, ['--config', f], 'x').values.tag).toEqual(['p', 'q']);
    const g = file('list-bad.json', JSON.stringify({ tag: 'p' }));
    expect(errorOf(() => parseConfig(schema, ['--config', g], 'x')).message).toContain('key "tag" must be a list');
    expect(errorOf(() => parseConfig(schema, ['--tag'], 'x')).message).toContain('--tag needs a value');
  });

  it('passUnknown hands unknown options back as strings instead of failing', () => {
    const p = parseConfig(EVAL_SCHEMA, ['-c', 'x', '-i', 'y', '--M', '512', '--flag', '--K=3', '--json'], 'eval', {
      passUnknown: true,
    });
    expect(p.unknown).toEqual({ M: '512', flag: 'true', K: '3' });
    expect(p.values.json).toBe(true);
    expect(parseConfig(EVAL_SCHEMA, ['-c', 'x', '-i', 'y'], 'eval').unknown).toEqual({});
    expect(() => parseConfig(EVAL_SCHEMA, ['-c', 'x', '-i', 'y', '--M', '512'], 'eval')).toThrow(CliError);
  });

  it('unknown keys name the key (command line and file), with a suggestion', () => {
    let e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--learningRate', '1'], 'pretrain'));
    expect(e.message).toContain('--learningRate');
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--btachSize', '1'], 'pretrain'));
    expect(e.message).toContain('batchSize');
    const f = file('b.json', JSON.stringify({ lr: 0.01, bogusKey: 3 }));
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--config', f], 'pretrain'));
    expect(e.message).toContain('"bogusKey"');
    expect(e.message).toContain(f);
  });

  it('type mismatches name the key', () => {
    let e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--lr', 'fast'], 'pretrain'));
    expect(e.message).toMatch(/--lr must be a number, got "fast"/);
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--batchSize=2.5'], 'pretrain'));
    expect(e.message).toMatch(/--batchSize must be an integer/);
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--batchSize=0'], 'pretrain'));
    expect(e.message).toMatch(/--batchSize must be >= 1/);
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--model', 'huge'], 'pretrain'));
    expect(e.message).toMatch(/--model must be one of/);
    const f = file('c.json', JSON.stringify({ steps: '100' }));
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--config', f], 'pretrain'));
    expect(e.message).toContain('key "steps" must be an integer, got "100"');
    const g = file('d.json', JSON.stringify({ progress: true }));
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--config', g], 'pretrain'));
    expect(e.message).toContain('key "progress"');
  });

  it('bad or missing JSON files are clear errors', () => {
    const f = file('e.json', '{ "lr": 0.1, ');
    let e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--config', f], 'pretrain'));
    expect(e.message).toContain('not valid JSON');
    expect(e.message).toContain(f);
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--config', join(dir, 'nope.json')], 'pretrain'));
    expect(e.message).toContain('no such file');
    const g = file('f.json', '[1, 2]');
    e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--config', g], 'pretrain'));
    expect(e.message).toContain('JSON object');
  });

  it('missing values and required keys', () => {
    let e = errorOf(() => parseConfig(TRAIN_SCHEMA, ['--lr'], 'pretrain'));
    expect(e.message).toContain('--lr needs a value');
    e = errorOf(() => parseConfig(EVAL_SCHEMA, ['--input', 'x.txt'], 'eval'));
    expect(e.message).toContain('--checkpoint is required');
    // --help skips the required check.
    expect(parseConfig(EVAL_SCHEMA, ['--help'], 'eval').help).toBe(true);
  });

  it('help lists every visible key with its default and description', () => {
    const text = formatHelp(TRAIN_SCHEMA, { usage: 'usage: x', description: 'd' });
    for (const [k, s] of Object.entries(TRAIN_SCHEMA)) {
      if (s.hidden) expect(text).not.toContain(`--${k} `);
      else {
        expect(text).toContain(`--${k}`);
        expect(text).toContain(s.help);
      }
    }
    expect(text).toContain('(default 0.001)');
  });

  it('test hooks are options of pretrain(), not keys a user can pass', () => {
    for (const k of ['injectNanSteps', 'stopAfterSteps']) {
      expect(k in TRAIN_SCHEMA).toBe(false);
      expect(errorOf(() => parseConfig(TRAIN_SCHEMA, [`--${k}`, '3'], 'pretrain')).message).toContain(
        `unknown option --${k}`,
      );
    }
  });
});
