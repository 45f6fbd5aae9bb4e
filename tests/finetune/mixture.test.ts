// Multi-task mixing: the mix file's checks (errors name the key) and the sampler's proportions
// (within a binomial tolerance), determinism and exact resume.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseMix, readMix, TaskSampler } from '../../train/finetune/mixture.ts';

describe('mix file', () => {
  it('reads tasks, resolves paths against the mix file and fills defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ft-mix-'));
    const file = join(dir, 'mix.json');
    const tasks = [
      { kind: 'classify', data: 'sentiment.jsonl', weight: 2, labelField: 'class', labels: ['neg', 'pos'] },
      {
        name: 'define',
        kind: 'sft',
        data: 'sub/defs.jsonl',
        prompt: 'Define: {word}\n',
        target: '{gloss}',
        val: 'v.jsonl',
      },
      { kind: 'lm', data: '/abs/reviews.txt', weight: 0.5 },
    ];
    writeFileSync(file, JSON.stringify({ tasks }));
    const mix = readMix(file);
    expect(mix.map((t) => [t.name, t.kind, t.weight])).toEqual([
      ['sentiment', 'classify', 2],
      ['define', 'sft', 1],
      ['reviews', 'lm', 0.5],
    ]);
    expect(mix[1]!.data).toBe(join(dir, 'sub/defs.jsonl'));
    expect(mix[1]!.val).toBe(join(dir, 'v.jsonl'));
    expect(mix[2]!.data).toBe('/abs/reviews.txt');
    expect(mix[0]!.labels).toEqual(['neg', 'pos']);
  });

  it('errors name the file and the key', () => {
    const bad =
      (task: unknown): (() => unknown) =>
      () =>
        parseMix({ tasks: [{ kind: 'lm', data: 'a.txt' }, task] }, 'mix.json');
    expect(bad({ kind: 'lm', data: 'b', weight: 0 })).toThrow(
      'mix.json: tasks[1].weight must be a positive number, got 0',
    );
    expect(bad({ kind: 'lm', data: 'b', wieght: 1 })).toThrow(/mix\.json: tasks\[1\] has unknown key "wieght"/);
    expect(bad({ kind: 'qa', data: 'b' })).toThrow(
      'mix.json: tasks[1].kind must be one of lm, sft, classify, got "qa"',
    );
    expect(bad({ kind: 'sft' })).toThrow('mix.json: tasks[1].data is required');
    expect(bad({ kind: 'lm', data: 'b', prompt: '{x}' })).toThrow(
      'mix.json: tasks[1].prompt does not apply to a lm task',
    );
    expect(bad({ kind: 'classify', data: 'b', labels: [1.5] })).toThrow(
      'mix.json: tasks[1].labels must hold strings or integers',
    );
    expect(bad({ kind: 'lm', data: 'x/a.txt' })).toThrow('mix.json: tasks[1].name "a" is used twice');
    expect(() => parseMix({ tasks: [] }, 'mix.json')).toThrow(/mix\.json: expected \{"tasks"/);
    expect(() => readMix('/nonexistent/mix.json')).toThrow(/mix\.json: cannot read the mix file \(ENOENT\)/);
  });
});

describe('TaskSampler', () => {
  it('draws tasks in proportion to their weights, within a binomial tolerance', () => {
    const weights = [1, 2, 7];
    const n = 20000;
    const sampler = new TaskSampler(weights, 1234);
    const counts = [0, 0, 0];
    for (let i = 0; i < n; i++) counts[sampler.next()]!++;
    weights.forEach((w, i) => {
      const p = w / 10;
      // 5 standard deviations: a correct sampler fails this about once in 1.7 million runs.
      expect(Math.abs(counts[i]! - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    });
  });

  it('draws neighbouring tasks independently (runs of one task are as long as chance makes them)', () => {
    // The sampler draws one float per draw number: correlated neighbouring streams once gave seed
    // 1337 twelve draws of the same task in a row. Over 40 seeds × 200 draws with equal weights,
    // the share of draws equal to the previous one is 0.5 ± 0.0079 (sd); 5 sd bounds it.
    let same = 0;
    let pairs = 0;
    for (let seed = 1320; seed < 1360; seed++) {
      const sampler = new TaskSampler([1, 1], seed);
      let prev = sampler.next();
      for (let i = 1; i < 200; i++) {
        const t = sampler.next();
        if (t === prev) same++;
        pairs++;
        prev = t;
      }
    }
    expect(Math.abs(same / pairs - 0.5)).toBeLessThan(5 * Math.sqrt(0.25 / pairs));
    const first = new TaskSampler([1, 1], 1337);
    expect(new Set(Array.from({ length: 12 }, () => first.next())).size).toBe(2);
  });

  it('is deterministic for a seed, differs across seeds and resumes exactly', () => {
    const draw = (s: TaskSampler, k: number): number[] => Array.from({ length: k }, () => s.next());
    const a = draw(new TaskSampler([1, 1], 9), 64);
    expect(draw(new TaskSampler([1, 1], 9), 64)).toEqual(a);
    expect(draw(new TaskSampler([1, 1], 10), 64)).not.toEqual(a);
    const s = new TaskSampler([1, 1], 9);
    draw(s, 20);
    const state = JSON.parse(JSON.stringify(s.state()));
    expect(state).toEqual({ seed: 9, draws: 20 });
    expect(draw(TaskSampler.resume(state, [1, 1]), 44)).toEqual(a.slice(20));
    expect(() => new TaskSampler([1, -1], 0)).toThrow(/task weights must be positive/);
  });
});
