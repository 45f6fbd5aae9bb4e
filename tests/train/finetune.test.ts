// `finetune` end to end with a tiny pre-trained run: each task through the real finetune() (and the
// CLI once), exact resume, freezing, the classify command, and every bad input as a one-line error.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { hostView } from '../../model/layout.ts';
import { listCheckpoints, readCheckpoint } from '../../model/checkpoint.ts';
import { CliError } from '../../train/cli-error.ts';
import { classifyMain } from '../../train/cli/classify.ts';
import { evalMain } from '../../train/cli/eval.ts';
import { generateMain } from '../../train/cli/generate.ts';
import { finetuneMain, FINETUNE_SCHEMA } from '../../train/cli/finetune.ts';
import { defaultCorpusPath } from '../../train/data/default-corpus.ts';
import { prepare } from '../../train/data/prepare.ts';
import { readMetrics } from '../../train/metrics.ts';
import { pretrain } from '../../train/pretrain.ts';
import { finetune, type FinetuneConfig, type FinetuneOrigin } from '../../train/finetune/run.ts';
import { lossCurve, tinyConfig, tinyData } from './fixture.ts';

const dir = mkdtempSync(join(tmpdir(), 'wgpt-finetune-'));
const quiet = { log: () => {} };
let data = '';
let base = '';
const files = { sft: '', classify: '', text: '' };

const WORDS = ['whale', 'ship', 'sea', 'sail', 'boat', 'harpoon', 'captain', 'deck', 'mast', 'wave'];

function jsonl(name: string, rows: unknown[]): string {
  const p = join(dir, name);
  writeFileSync(p, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return p;
}

/** Fine-tuning keys at their schema defaults, then a tiny short run. */
function ftConfig(over: Partial<FinetuneConfig>): FinetuneConfig {
  const d = Object.fromEntries(Object.entries(FINETUNE_SCHEMA).map(([k, s]) => [k, s.default]));
  const tiny = tinyConfig(data, '', { steps: 4, evalEvery: 2, lr: 1e-3, warmupSteps: 1, sampleTokens: 0 });
  return { ...(d as unknown as FinetuneConfig), ...tiny, from: base, valFraction: 0.25, ...over } as FinetuneConfig;
}

beforeAll(async () => {
  data = await tinyData();
  base = join(dir, 'base');
  await pretrain(tinyConfig(data, base), quiet);
  files.sft = jsonl(
    'sft.jsonl',
    WORDS.flatMap((w, i) => [
      { prompt: `a ${w}`, completion: ` ${WORDS[(i + 1) % WORDS.length]}` },
      { prompt: `the ${w}`, completion: ` ${w}s` },
    ]),
  );
  files.classify = jsonl(
    'classify.jsonl',
    WORDS.flatMap((w) => [
      { text: `the ${w} is good`, label: 'pos' },
      { text: `the ${w} is bad`, label: 'neg' },
    ]),
  );
  files.text = join(dir, 'domain.txt');
  writeFileSync(files.text, readFileSync(defaultCorpusPath(), 'utf8').slice(200_000, 206_000));
});
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true });
  await destroyRuntime();
});

function origin(run: string): FinetuneOrigin {
  const c = readCheckpoint(listCheckpoints(join(run, 'checkpoints'))[0]!.path);
  return (c.meta.extra as { finetune: FinetuneOrigin }).finetune;
}

describe('finetune tasks', () => {
  it('sft: trains from the base checkpoint and records where it came from', async () => {
    const out = join(dir, 'sft');
    const s = await finetune(ftConfig({ task: 'sft', data: files.sft, out }), quiet);
    expect(s.status).toBe('finished');
    expect(readMetrics(join(out, 'metrics.jsonl')).map((m) => m.step)).toEqual([1, 2, 3, 4]);
    const o = origin(out);
    const b = readCheckpoint(listCheckpoints(join(base, 'checkpoints'))[0]!.path);
    expect(o.task).toBe('sft');
    expect(o.from).toEqual({ path: b.path, step: 6, sha256: b.sidecar.files['model.safetensors']!.sha256 });
    expect(s.before!.step).toBe(0);
    // Evaluation continues held-out prompts greedily and scores them against the targets.
    for (const m of [s.metrics, s.before!.metrics]) {
      expect(m.rougeL).toBeGreaterThanOrEqual(0);
      expect(m.rougeL).toBeLessThanOrEqual(1);
      expect(m.exactMatch).toBeGreaterThanOrEqual(0);
    }
    expect(Number.isFinite(s.finalValLoss!)).toBe(true);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.task).toBe('sft');
  });

  it('classify: adds a head, reports accuracy and saves the label set', async () => {
    const out = join(dir, 'classify');
    const s = await finetune(ftConfig({ task: 'classify', data: files.classify, out }), quiet);
    expect(s.model.nClasses).toBe(2);
    expect(s.metrics.accuracy).toBeGreaterThanOrEqual(0);
    expect(s.metrics.macroF1).toBeGreaterThanOrEqual(0);
    expect(origin(out).labels).toEqual(['neg', 'pos']);
    expect(s.dataReport).toContain(`${files.classify}: 20 of 20 records used`);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.report.confusion ?? summary.report.confusionMatrix).toBeDefined();
  });

  it('classify --test: the test split is evaluated once after training, with its report', async () => {
    const out = join(dir, 'classify-test');
    const t = jsonl('test-ok.jsonl', [
      { text: 'the sea is good', label: 'pos' },
      { text: 'the sea is bad', label: 'neg' },
      { text: 'the deck is bad', label: 'neg' },
    ]);
    const s = await finetune(ftConfig({ task: 'classify', data: files.classify, test: t, out }), quiet);
    expect([0, 1 / 3, 2 / 3, 1].some((a) => Math.abs(a - s.test!.metrics.accuracy!) < 1e-9)).toBe(true);
    const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
    expect(summary.test.report.samples).toBe(3);
    expect(summary.test.report.confusion.flat().reduce((a: number, b: number) => a + b, 0)).toBe(3);
  });

  it("lm: continued training on new text, with the base run's validation loss beside it", async () => {
    const out = join(dir, 'lm');
    const s = await finetune(ftConfig({ task: 'lm', data: files.text, out }), quiet);
    expect(s.status).toBe('finished');
    expect(Number.isFinite(s.metrics.baseValLoss!)).toBe(true);
    expect(Number.isFinite(s.before!.metrics.baseValLoss!)).toBe(true);
    const evals = readFileSync(join(out, 'evals.jsonl'), 'utf8').trim().split('\n');
    expect(evals.map((l) => JSON.parse(l).step)).toEqual([0, 2, 4]);
  });

  it('multi: one model on an sft and a classify task drawn by weight, metrics per task', async () => {
    const out = join(dir, 'multi');
    const mix = join(dir, 'mix.json');
    const tasks = [
      { name: 'define', kind: 'sft', data: files.sft, weight: 2 },
      { name: 'sentiment', kind: 'classify', data: files.classify, weight: 1 },
    ];
    writeFileSync(mix, JSON.stringify({ tasks }));
    const s = await finetune(ftConfig({ task: 'multi', data: null, mix, out }), quiet);
    expect(s.status).toBe('finished');
    expect(s.model.nClasses).toBe(2);
    expect(origin(out).labels).toEqual(['neg', 'pos']);
    for (const k of ['define.valLoss', 'define.rougeL', 'sentiment.valLoss', 'sentiment.accuracy'])
      expect(Number.isFinite(s.metrics[k]!)).toBe(true);
    const w = (s.metrics['define.valLoss']! * 2 + s.metrics['sentiment.valLoss']!) / 3;
    expect(s.finalValLoss).toBeCloseTo(w, 5);
  });

  it('multi refuses two classify tasks (one head)', async () => {
    const mix = join(dir, 'mix2.json');
    const t = { kind: 'classify', data: files.classify };
    writeFileSync(
      mix,
      JSON.stringify({
        tasks: [
          { ...t, name: 'a' },
          { ...t, name: 'b' },
        ],
      }),
    );
    const cfg = ftConfig({ task: 'multi', data: null, mix, out: join(dir, 'multi2') });
    await expect(finetune(cfg, quiet)).rejects.toThrow(/more than one classify task/);
  });

  it('--from scratch trains the same task from random weights with the given tokenizer', async () => {
    const out = join(dir, 'scratch');
    const cfg = ftConfig({ task: 'sft', data: files.sft, out, from: 'scratch', tokenizer: data });
    const s = await finetune(cfg, quiet);
    expect(s.status).toBe('finished');
    expect(origin(out).from).toBe('scratch');
    expect(s.model.nEmbd).toBe(16);
  });
});

describe('finetune runs', () => {
  it('resumes exactly: stop after 3 steps, resume, same metrics as an uninterrupted run', async () => {
    const a = join(dir, 'straight');
    const b = join(dir, 'resumed');
    const cfg = { task: 'sft', data: files.sft, steps: 6, evalEvery: 2 };
    await finetune(ftConfig({ ...cfg, out: a }), quiet);
    const first = await finetune(ftConfig({ ...cfg, out: b }), { ...quiet, stopAfterSteps: 3 });
    expect(first.status).toBe('stopped');
    await finetune(ftConfig({ ...cfg, out: null, resume: b }), quiet);
    expect(lossCurve(b)).toEqual(lossCurve(a));
    expect(readFileSync(join(b, 'evals.jsonl'), 'utf8')).toEqual(readFileSync(join(a, 'evals.jsonl'), 'utf8'));
  });

  it('resumes a multi-task run exactly (task draws and the batch order of each task)', async () => {
    const mix = join(dir, 'mix-resume.json');
    const tasks = [
      { name: 'define', kind: 'sft', data: files.sft, weight: 1 },
      { name: 'sentiment', kind: 'classify', data: files.classify, weight: 1 },
    ];
    writeFileSync(mix, JSON.stringify({ tasks }));
    const a = join(dir, 'multi-straight');
    const b = join(dir, 'multi-resumed');
    // Seed 0 draws both tasks in the first steps (1,0,0,0,0,1), so a lost sampler state shows.
    const cfg = { task: 'multi', data: null, mix, steps: 6, evalEvery: 3, seed: 0 };
    await finetune(ftConfig({ ...cfg, out: a }), quiet);
    await finetune(ftConfig({ ...cfg, out: b }), { ...quiet, stopAfterSteps: 2 });
    await finetune(ftConfig({ ...cfg, out: null, resume: b }), quiet);
    const strip = (p: string) =>
      readMetrics(join(p, 'metrics.jsonl')).map(({ step, loss, valLoss }) => ({ step, loss, valLoss }));
    expect(strip(b)).toEqual(strip(a));
  });

  it('--freeze keeps the frozen tensors bit-identical to the base', async () => {
    const out = join(dir, 'frozen');
    await finetune(ftConfig({ task: 'classify', data: files.classify, out, freeze: 'wte,wpe,h.0' }), quiet);
    const b = readCheckpoint(listCheckpoints(join(base, 'checkpoints'))[0]!.path);
    const f = readCheckpoint(listCheckpoints(join(out, 'checkpoints'))[0]!.path);
    for (const name of ['wte.weight', 'wpe.weight', 'h.0.attn.c_attn.weight', 'h.0.ln_1.bias'])
      expect(hostView(f.params, f.layout, name)).toEqual(hostView(b.params, b.layout, name));
    expect(hostView(f.params, f.layout, 'ln_f.weight')).not.toEqual(hostView(b.params, b.layout, 'ln_f.weight'));
  });
});

describe('the command line', () => {
  const printed = async (run: () => Promise<number>): Promise<string> => {
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      expect(await run()).toBe(0);
      return spy.mock.calls.map((c) => String(c[0])).join('');
    } finally {
      spy.mockRestore();
    }
  };
  const cliRun = join(dir, 'cli');

  it("finetune --help lists pre-training's keys with fine-tuning defaults, and the task keys", async () => {
    const help = await printed(() => finetuneMain(['--help']));
    for (const k of [
      '--from',
      '--task',
      '--freeze',
      '--prompt',
      '--labelField',
      '--steps',
      '--maxMinutes',
      '--tokensPerStep',
    ])
      expect(help).toContain(k);
    expect(help).toContain('(default 0.0001)');
  });

  it('finetune --task classify, then classify --text prints a label and its probability', async () => {
    const args = ['--from', base, '--task', 'classify', '--data', files.classify, '--out', cliRun];
    await printed(() => finetuneMain([...args, '--steps=2', '--evalEvery=2', '--batchSize=4', '--progress=off']));
    expect(origin(cliRun).labels).toEqual(['neg', 'pos']);
    const out = await printed(() => classifyMain(['--checkpoint', cliRun, '--text', 'the ship is good']));
    expect(out).toMatch(/^(neg|pos)\t(0\.[5-9]\d*|1\.0+)\n$/);
  });

  it('classify --input prints a line per record and the accuracy', async () => {
    const input = jsonl('input.jsonl', [
      { text: 'the sea is good', label: 'pos' },
      { text: 'the sea is bad', label: 'neg' },
    ]);
    const out = await printed(() => classifyMain(['--checkpoint', cliRun, '--input', input]));
    const lines = out.trim().split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^1\t(neg|pos)\t0\.\d{4}$|^1\t(neg|pos)\t1\.0000$/);
    expect(lines[2]).toMatch(/^accuracy (0|0\.5|1)\.?\d* \(\d\/2\)$/);
  });

  it('classify refuses a label unseen in training, naming the line', async () => {
    const input = jsonl('unseen.jsonl', [
      { text: 'a', label: 'pos' },
      { text: 'b', label: 'meh' },
    ]);
    await expect(classifyMain(['--checkpoint', cliRun, '--input', input])).rejects.toThrow(
      new RegExp(`${input}:2: label "meh" was not seen in training`),
    );
  });

  it('eval and generate accept fine-tuned checkpoints (a classifier too)', async () => {
    const text = join(dir, 'eval.txt');
    writeFileSync(text, readFileSync(files.text, 'utf8').slice(0, 600));
    for (const run of [join(dir, 'sft'), cliRun]) {
      const out = await printed(() => evalMain(['--checkpoint', run, '--input', text, '--json']));
      expect(Number.isFinite(JSON.parse(out).loss)).toBe(true);
    }
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const gen = await printed(() => generateMain(['--checkpoint', cliRun, '--prompt', 'the ', '--maxTokens', '4']));
      expect(gen.startsWith('the ')).toBe(true);
    } finally {
      err.mockRestore();
    }
  });

  it('classify refuses a checkpoint without a head', async () => {
    await expect(classifyMain(['--checkpoint', base, '--text', 'x'])).rejects.toThrow(
      /not a classification checkpoint/,
    );
  });
});

describe('bad input: one-line errors naming the file, line or key', () => {
  const fails = async (over: Partial<FinetuneConfig>, msg: RegExp): Promise<void> => {
    const out = join(dir, `bad-${Math.random().toString(36).slice(2)}`);
    const err = await finetune(ftConfig({ task: 'classify', data: files.classify, out, ...over }), quiet).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CliError);
    expect((err as Error).message).toMatch(msg);
    expect((err as Error).message).not.toContain('\n');
  };

  it('--from that is not a run', async () => {
    const empty = join(dir, 'not-a-run');
    mkdirSync(empty, { recursive: true });
    await fails({ from: empty }, /^--from .*not-a-run: .*neither a checkpoint/);
  });

  it('--from a corrupt checkpoint', async () => {
    const copy = join(dir, 'corrupt');
    cpSync(listCheckpoints(join(base, 'checkpoints'))[0]!.path, copy, { recursive: true });
    const f = join(copy, 'model.safetensors');
    const buf = readFileSync(f);
    buf[buf.length - 1] = buf[buf.length - 1]! ^ 0xff;
    writeFileSync(f, buf);
    await fails({ from: copy }, /^--from .*corrupt.*model\.safetensors is corrupt/);
  });

  it('classify data without the label field', async () => {
    const p = jsonl('nolabel.jsonl', [{ text: 'x', label: 'a' }, { text: 'y' }]);
    await fails({ data: p }, new RegExp(`${p}:2: no "label" field`));
  });

  it('a template naming a missing field', async () => {
    await fails({ task: 'sft', data: files.sft, target: '{gloss}' }, new RegExp(`${files.sft}:1: .*gloss`));
  });

  it('a test label unseen in training', async () => {
    const t = jsonl('test.jsonl', [{ text: 'the whale is odd', label: 'odd' }]);
    await fails({ test: t }, new RegExp(`${t}:1: test label "odd" does not occur in the training data`));
  });

  it('an empty split', async () => {
    const v = join(dir, 'empty.jsonl');
    writeFileSync(v, '\n');
    await fails({ val: v }, /empty/);
  });

  it('one class only', async () => {
    const p = jsonl(
      'oneclass.jsonl',
      WORDS.map((w) => ({ text: w, label: 'pos' })),
    );
    await fails({ data: p }, /one class only/);
  });

  it('a model key or --tokenizer beside a --from checkpoint', async () => {
    const out = join(dir, 'bad-shape');
    const cfg = ftConfig({ task: 'sft', data: files.sft, out, nLayer: 3 });
    await expect(finetune(cfg, { ...quiet, sources: { nLayer: 'cli' } })).rejects.toThrow(
      /^--nLayer applies to --from scratch only/,
    );
  });

  it('lm data prepared with another tokenizer', async () => {
    const other = join(dir, 'bpe-data');
    await prepare({
      inputs: [files.text],
      out: other,
      tokenizer: 'bpe',
      vocabSize: 300,
      progress: 'off',
      log: () => {},
    });
    await fails({ task: 'lm', data: other }, /^--data .*bpe-data: prepared with tokenizer .* but the model uses/);
  });

  it('--freeze matching nothing', async () => {
    await fails({ freeze: 'h.7' }, /^--freeze h\.7: /);
  });
});
