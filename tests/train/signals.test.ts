// Stopping the real CLI the ways a user does: SIGINT, SIGTERM and SIGHUP to the PID of
// `webgpu-gpt` (the supervisor, bin/webgpu-gpt.mjs), and kill -9 of that PID. Each must leave a
// checkpoint, a run that resumes, no trainer still running (its PID, read from the run's lock
// file, is gone) and the documented exit status (128 + the signal's number).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints } from '../../model/checkpoint.ts';
import { LOCK_FILE, processAlive, readLock } from '../../train/run-lock.ts';
import { ROOT, tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-signals-'));
let data = '';

beforeAll(async () => {
  data = await tinyData();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

export const TINY_FLAGS = [
  '--model',
  'tiny',
  '--nLayer',
  '1',
  '--nHead',
  '2',
  '--nEmbd',
  '16',
  '--blockSize',
  '16',
  '--batchSize',
  '4',
  '--progress',
  'off',
];

export interface CliProcess {
  pid: number;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** `node bin/webgpu-gpt.mjs ...args`, as a user starts it. */
export function startCli(args: string[]): CliProcess {
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'webgpu-gpt.mjs'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: ROOT,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('close', (code, signal) => r({ code, signal })),
  );
  return { pid: child.pid!, stdout: () => out, stderr: () => err, exited };
}

/** Waits until `cond` holds (polling), or fails with `what`. */
export async function waitFor(cond: () => boolean, what: () => string, limitMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > limitMs) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A process is gone: no such pid, or a zombie nobody reaped yet. */
export function gone(pid: number): boolean {
  if (!processAlive(pid)) return true;
  try {
    return /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Starts a long tiny run in `out`; resolves once it has taken steps, with the trainer's pid. */
async function startTraining(out: string): Promise<{ cli: CliProcess; trainer: number }> {
  const cli = startCli([
    'pretrain',
    '--data',
    data,
    '--out',
    out,
    ...TINY_FLAGS,
    '--steps',
    '100000',
    '--evalEvery',
    '0',
  ]);
  const metrics = join(out, 'metrics.jsonl');
  await waitFor(
    () => existsSync(metrics) && readFileSync(metrics, 'utf8').split('\n').length > 3,
    () => `training did not start: ${cli.stdout()}${cli.stderr()}`,
  );
  const lock = readLock(join(out, LOCK_FILE));
  expect(lock?.pid).toBeGreaterThan(0);
  expect(lock!.pid).not.toBe(cli.pid); // the trainer is the supervisor's child
  return { cli, trainer: lock!.pid };
}

/** The run was stopped cleanly at some step: a checkpoint of it, no lock, and it resumes. */
async function expectResumable(out: string, stdout: string): Promise<void> {
  const m = /stopped at step (\d+)/.exec(stdout);
  expect(m, stdout).not.toBeNull();
  const step = Number(m![1]);
  expect(listCheckpoints(join(out, 'checkpoints'))[0]?.step).toBe(step);
  expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  const again = startCli(['pretrain', '--resume', out, '--steps', String(step + 1), '--progress', 'off']);
  const r = await again.exited;
  expect(r.code, again.stderr()).toBe(0);
  expect(again.stdout()).toContain(`resuming ${out} at step ${step}`);
}

describe('signals to the webgpu-gpt process', () => {
  for (const [sig, status] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const) {
    it(`${sig}: finishes the step, checkpoints, exits ${status} after the trainer is gone`, async () => {
      const out = join(work, sig);
      const { cli, trainer } = await startTraining(out);
      process.kill(cli.pid, sig);
      const r = await cli.exited;
      expect(r, cli.stderr()).toEqual({ code: status, signal: null });
      expect(gone(trainer)).toBe(true);
      expect(cli.stderr()).toContain(`finishing this step and writing a checkpoint`);
      await expectResumable(out, cli.stdout());
    });
  }

  it('kill -9 of the supervisor: the trainer checkpoints and exits on its own', async () => {
    const out = join(work, 'kill9');
    const { cli, trainer } = await startTraining(out);
    process.kill(cli.pid, 'SIGKILL');
    await waitFor(
      () => gone(trainer),
      () => `trainer ${trainer} still running`,
    );
    await cli.exited;
    await expectResumable(out, cli.stdout());
  });
});
