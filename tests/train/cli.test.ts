// The CLI as a user runs it (child processes of bin/webgpu-gpt.mjs): help, clear errors without
// stack traces, eval and generate on a checkpoint.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyRuntime } from '../../kernels/gpu/runtime.ts';
import { pretrain } from '../../train/pretrain.ts';
import { DEFAULT_JOB_HELP } from '../../train/cli/default-job.ts';
import { EVAL_HELP } from '../../train/cli/eval.ts';
import { GENERATE_HELP } from '../../train/cli/generate.ts';
import { cli, endlessRunArgs, expectCleanError } from './cli-process.ts';
import { ROOT, tinyConfig, tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-cli-'));
let run = '';
let text = '';
let data = '';

beforeAll(async () => {
  data = await tinyData();
  run = join(work, 'run');
  await pretrain(tinyConfig(data, run, { steps: 2, evalEvery: 0, sampleTokens: 0 }), { log: () => {} });
  await destroyRuntime();
  text = join(work, 'text.txt');
  writeFileSync(
    text,
    'It was the whale, the white whale, that the captain hunted across the sea for many years.\n'.repeat(4),
  );
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('webgpu-gpt CLI', () => {
  it('prints usage, and --help for every subcommand', () => {
    const none = cli();
    expect(none.status).toBe(1);
    expect(none.stdout).toContain('usage: webgpu-gpt <command>');
    const p = cli('pretrain', '--help');
    expect(p.status).toBe(0);
    for (const k of [
      '--data',
      '--out',
      '--resume',
      '--lr',
      '--minLr',
      '--warmupSteps',
      '--tokensPerStep',
      '--gradClip',
      '--maxMinutes',
      '--evalEvery',
    ])
      expect(p.stdout).toContain(k);
    expect(p.stdout).toContain('(default 0.001)');
    // The other subcommands' help texts, in-process (a child process each costs seconds).
    expect(GENERATE_HELP).toContain('--topP');
    for (const k of ['--prompt', '--maxTokens', '--temperature', '--topK', '--seed'])
      expect(GENERATE_HELP).toContain(k);
    expect(EVAL_HELP).toContain('--json');
    expect(DEFAULT_JOB_HELP).toContain('--maxMinutes');
    expect(DEFAULT_JOB_HELP).toContain('--input');
  });

  it('user errors are one clear line, without a stack trace', () => {
    expectCleanError(cli('frobnicate'), /unknown command "frobnicate"/);
    expectCleanError(
      cli('pretrain', '--data', join(work, 'missing'), '--out', join(work, 'o')),
      /--data .*missing: no such folder/,
    );
    expectCleanError(cli('pretrain', '--lr', 'fast'), /--lr must be a number, got "fast"/);
    expectCleanError(cli('pretrain', '--learningRate=1'), /unknown option --learningRate for pretrain/);
    const cfg = join(work, 'bad.json');
    writeFileSync(cfg, '{"steps": "many"}');
    expectCleanError(cli('pretrain', '--config', cfg), /key "steps" must be an integer/);
    expectCleanError(
      cli('generate', '--checkpoint', join(work, 'nowhere'), '--prompt', 'x'),
      /--checkpoint .*nowhere: no such file or folder/,
    );
    const broken = join(work, 'broken', 'ckpt-00000001');
    mkdirSync(broken, { recursive: true });
    writeFileSync(join(broken, 'checkpoint.json'), '{ not json');
    expectCleanError(cli('eval', '--checkpoint', broken, '--input', text), /checkpoint.json is corrupt/);
    expectCleanError(cli('eval', '--checkpoint', run), /--input is required/);
  });

  it('eval prints loss and perplexity (text and --json)', () => {
    const r = cli('eval', '--checkpoint', run, '--input', text);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/loss \d+\.\d{4} nats\/token, perplexity \d+\.\d+/);
    const j = cli('eval', '--checkpoint', run, '--input', text, '--json');
    expect(j.status).toBe(0);
    const res = JSON.parse(j.stdout);
    expect(res.loss).toBeGreaterThan(0);
    expect(res.perplexity).toBeCloseTo(Math.exp(res.loss), 6);
    expect(res.step).toBe(2);
  });

  it('generate streams the prompt and its continuation', () => {
    const r = cli(
      'generate',
      '--checkpoint',
      run,
      '--prompt',
      'The whale',
      '--maxTokens',
      '24',
      '--seed',
      '3',
      '--temperature',
      '1',
    );
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('The whale')).toBe(true);
    expect(r.stdout.length).toBeGreaterThan('The whale'.length);
    expect(r.stderr).toMatch(/tokens in .* s/);
    // The same seed gives the same text.
    const again = cli(
      'generate',
      '--checkpoint',
      run,
      '--prompt',
      'The whale',
      '--maxTokens',
      '24',
      '--seed',
      '3',
      '--temperature',
      '1',
    );
    expect(again.stdout).toBe(r.stdout);
    // The run folder is self-contained: the tokenizer travels with the checkpoint.
    expect(JSON.parse(readFileSync(join(run, 'tokenizer.json'), 'utf8')).type).toBe('char');
  });

  it('Ctrl-C finishes the step, writes a checkpoint and exits 130 (stopped); --resume continues', async () => {
    const out = join(work, 'sigint');
    // One process (node --import tsx), so that its exit is the end of the run: bin/webgpu-gpt.mjs
    // runs the CLI in a child process and itself dies on SIGINT at once.
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'train', 'cli', 'main.ts'), ...endlessRunArgs(data, out)],
      { detached: true, stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT },
    );
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', () => {});
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const metrics = join(out, 'metrics.jsonl');
    const t0 = Date.now();
    while (!(existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 4)) {
      if (Date.now() - t0 > 90_000) throw new Error(`training did not start: ${stdout}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    process.kill(-child.pid!, 'SIGINT'); // the whole process group, as a terminal does
    expect(await exited).toBe(130); // stopped by SIGINT, checkpoint written (doc/interrupting.md)
    const m = /stopped at step (\d+)/.exec(stdout);
    expect(m, stdout).not.toBeNull();
    const step = Number(m![1]);
    expect(existsSync(join(out, 'checkpoints', `ckpt-${String(step).padStart(8, '0')}`, 'checkpoint.json'))).toBe(true);
    expect(stdout).toContain(`--resume ${out}`);
    const r = cli('pretrain', '--resume', out, '--steps', String(step + 2), '--progress', 'off');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain(`resuming ${out} at step ${step}`);
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).steps).toBe(step + 2);
  });
});
