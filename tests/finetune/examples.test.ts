// Tokenized fine-tuning examples and their batches: prompt and pad positions carry the ignore
// index, the end-of-text closes each target, left truncation is counted, padding goes to the
// batch's longest example on the right, and the batch order resumes exactly.
import { describe, expect, it } from 'vitest';
import { BatchOrder, classifyBatch, sftBatch } from '../../train/finetune/batches.ts';
import { classifyExamples, formatExampleReport, IGNORE_INDEX, sftExamples } from '../../train/finetune/examples.ts';
import { CharTokenizer } from '../../train/tokenizers/char.ts';

const tok = CharTokenizer.fromTexts(['abcdefghijklmnopqrstuvwxyz :\n']);
const E = tok.eotId;
const enc = (s: string): number[] => tok.encode(s);

describe('sft examples', () => {
  it('masks the prompt: only target tokens and the closing end-of-text are targets', () => {
    const { examples, report } = sftExamples([{ prompt: 'ab', target: 'cd', line: 7 }], tok, 16);
    const [a, b, c, d] = enc('abcd');
    const ex = examples[0]!;
    // inputs  eot a b c d ; targets: after eot → a (prompt), after a → b (prompt), after b → c, …
    expect([...ex.ids]).toEqual([E, a, b, c, d]);
    expect([...ex.targets]).toEqual([IGNORE_INDEX, IGNORE_INDEX, c, d, E]);
    expect(ex.line).toBe(7);
    expect(report).toMatchObject({ records: 1, used: 1, truncated: 0 });
  });

  it('an empty prompt still predicts the first target token from the leading end-of-text', () => {
    const ex = sftExamples([{ prompt: '', target: 'x', line: 1 }], tok, 8).examples[0]!;
    expect([...ex.targets]).toEqual([...enc('x'), E]);
  });

  it('truncates from the left of the prompt and counts it; a target that cannot fit is skipped', () => {
    const records = [
      { prompt: 'abcdef', target: 'xy', line: 1 }, // eot abcdef xy eot = 10 tokens, inputs 9
      { prompt: 'a', target: 'b', line: 2 }, // fits
      { prompt: 'a', target: 'uvwxyz', line: 3 }, // answer alone is 7 tokens: no prompt position left
    ];
    const { examples, report } = sftExamples(records, tok, 6, 'defs.jsonl');
    expect(examples.map((e) => e.line)).toEqual([1, 2]);
    const ex = examples[0]!;
    // 10 tokens where 7 fit (6 inputs + the last target): eot, a, b go; c d e f stay as prompt.
    expect([...ex.ids]).toEqual(enc('cdefxy'));
    expect([...ex.targets]).toEqual([IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, ...enc('xy'), E]);
    expect(report).toMatchObject({ records: 3, used: 2, skipped: 1, truncated: 1, truncatedTokens: 3 });
    expect(report.reasons).toEqual({ 'target longer than the context': 1 });
    expect(report.examples).toEqual(['defs.jsonl:3: target longer than the context']);
    expect(formatExampleReport(report)).toBe(
      'defs.jsonl: 2 of 3 examples made; skipped: 1 target longer than the context; 1 truncated to fit (3 tokens cut)',
    );
  });
});

describe('classify examples', () => {
  it('wraps the text in end-of-text ids and points at the closing one', () => {
    const { examples } = classifyExamples([{ text: 'good', label: 'pos', line: 1 }], ['neg', 'pos'], tok, 16);
    expect([...examples[0]!.ids]).toEqual([E, ...enc('good'), E]);
    expect(examples[0]).toMatchObject({ label: 1, last: 5 });
  });

  it('keeps the end of a long text and counts the cut; an unknown label is an error naming the line', () => {
    const { examples, report } = classifyExamples([{ text: 'abcdefgh', label: 3, line: 4 }], [3], tok, 5);
    expect([...examples[0]!.ids]).toEqual([...enc('efgh'), E]);
    expect(examples[0]!.last).toBe(4);
    expect(report).toMatchObject({ truncated: 1, truncatedTokens: 5 });
    expect(() => classifyExamples([{ text: 'a', label: 'x', line: 9 }], ['p', 'n'], tok, 5, 'test.jsonl')).toThrow(
      'test.jsonl:9: label "x" is not in the label set ("p", "n")',
    );
  });
});

describe('classify examples of sentence pairs', () => {
  const pair = (text: string, text2: string, T: number): ReturnType<typeof classifyExamples> =>
    classifyExamples([{ text, text2, label: 'next', line: 2 }], ['next', 'random'], tok, T);

  it('joins the two texts with the end-of-text id and reads at the closing one', () => {
    const { examples, report } = pair('ab', 'cd', 16);
    expect([...examples[0]!.ids]).toEqual([E, ...enc('ab'), E, ...enc('cd'), E]);
    expect(examples[0]).toMatchObject({ label: 0, last: 6 });
    expect(report.truncated).toBe(0);
  });

  it('too long: the longer segment loses a token at a time, the first from its left, the second from its right', () => {
    // 6 + 2 + 3 = 11 tokens in 8: the first text loses 3 from its left (its end stays at the junction).
    let { examples, report } = pair('abcdef', 'xy', 8);
    expect([...examples[0]!.ids]).toEqual([E, ...enc('def'), E, ...enc('xy'), E]);
    expect(report).toMatchObject({ truncated: 1, truncatedTokens: 3 });
    // 4 + 6 + 3 = 13 in 9: the longer second loses 2 from its right, then they take turns: 3 + 3.
    ({ examples, report } = pair('abcd', 'uvwxyz', 9));
    expect([...examples[0]!.ids]).toEqual([E, ...enc('bcd'), E, ...enc('uvw'), E]);
    expect(report).toMatchObject({ truncated: 1, truncatedTokens: 4 });
  });

  it('a context of 3 keeps only the three end-of-text ids; below that they are cut from the left', () => {
    expect([...pair('ab', 'cd', 3).examples[0]!.ids]).toEqual([E, E, E]);
    const { examples, report } = pair('ab', 'cd', 2);
    expect([...examples[0]!.ids]).toEqual([E, E]);
    expect(report.truncatedTokens).toBe(5);
  });
});

describe('batches', () => {
  it('pads sft examples on the right to the longest in the batch, with ignored targets', () => {
    const { examples } = sftExamples(
      [
        { prompt: 'a', target: 'b', line: 1 },
        { prompt: 'abc', target: 'de', line: 2 },
      ],
      tok,
      64,
    );
    const batch = sftBatch(examples, E);
    expect([batch.B, batch.T]).toEqual([2, 6]); // the longest, not the context (64)
    expect([...batch.ids.subarray(0, 6)]).toEqual([E, ...enc('ab'), E, E, E]);
    expect([...batch.targets.subarray(0, 6)]).toEqual([
      IGNORE_INDEX,
      ...enc('b'),
      E,
      IGNORE_INDEX,
      IGNORE_INDEX,
      IGNORE_INDEX,
    ]);
    expect([...batch.ids.subarray(6)]).toEqual([...examples[1]!.ids]);
    expect(batch.lines).toEqual([1, 2]);
  });

  it('classify batches: right padding, last positions, labels and auxiliary LM targets', () => {
    const { examples } = classifyExamples(
      [
        { text: 'ab', label: 'n', line: 1 },
        { text: 'x', label: 'p', line: 2 },
      ],
      ['n', 'p'],
      tok,
      64,
    );
    const batch = classifyBatch(examples, 0);
    expect([batch.B, batch.T]).toEqual([2, 4]);
    expect([...batch.last]).toEqual([3, 2]);
    expect([...batch.labels]).toEqual([0, 1]);
    expect([...batch.ids.subarray(4)]).toEqual([E, ...enc('x'), E, 0]);
    // Position i predicts token i + 1 up to the closing end-of-text; the last real and pad positions do not count.
    expect([...batch.lmTargets.subarray(0, 4)]).toEqual([...enc('ab'), E, IGNORE_INDEX]);
    expect([...batch.lmTargets.subarray(4)]).toEqual([...enc('x'), E, IGNORE_INDEX, IGNORE_INDEX]);
  });

  it('visits every example once per epoch, reshuffles per epoch, and is deterministic for a seed', () => {
    const order = new BatchOrder(10, 4, 42);
    const epoch0 = [order.next(), order.next(), order.next()];
    expect(epoch0.map((b) => b.length)).toEqual([4, 4, 2]);
    expect(epoch0.flat().sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    const epoch1 = [order.next(), order.next(), order.next()].flat();
    expect(order.epoch).toBe(1);
    expect(epoch1).not.toEqual(epoch0.flat());
    const again = new BatchOrder(10, 4, 42);
    expect([again.next(), again.next(), again.next()]).toEqual(epoch0);
    expect(new BatchOrder(10, 4, 43).next()).not.toEqual(epoch0[0]);
    expect(new BatchOrder(5, 2, 1, { shuffle: false }).next()).toEqual([0, 1]);
  });

  it('dropLast skips the short batch; the exported state resumes exactly', () => {
    const order = new BatchOrder(10, 4, 7, { dropLast: true });
    const seen: number[][] = [];
    for (let i = 0; i < 3; i++) seen.push(order.next());
    expect(seen.map((b) => b.length)).toEqual([4, 4, 4]);
    expect(order.epoch).toBe(1);
    const state = JSON.parse(JSON.stringify(order.state()));
    const resumed = BatchOrder.resume(state, 10, { dropLast: true });
    for (let i = 0; i < 7; i++) expect(resumed.next()).toEqual(order.next());
    expect(() => BatchOrder.resume(state, 11)).toThrow(/saved batch order is for 10 examples, the data has 11/);
    expect(() => new BatchOrder(3, 4, 0, { dropLast: true })).toThrow(/3 examples cannot fill a batch of 4/);
  });
});
