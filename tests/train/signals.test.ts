// Stopping the real CLI the ways a user does: SIGINT, SIGTERM and SIGHUP to the PID of
// `webgpu-gpt` (the supervisor, bin/webgpu-gpt.mjs), and kill -9 of that PID. Each must leave a
// checkpoint, a run that resumes, no trainer still running (its PID, read from the run's lock
// file, is gone) and the documented exit status (128 + the signal's number).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listCheckpoints } from '../../model/checkpoint.ts';
import { LOCK_FILE, readLock } from '../../train/run-lock.ts';
import { endlessRunArgs, gone, startCli, waitFor, type CliProcess } from './cli-process.ts';
import { tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-signals-'));
let data = '';

beforeAll(async () => {
  data = await tinyData();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Starts a long tiny run in `out`; resolves once it has taken steps, with the trainer's pid. */
async function startTraining(out: string): Promise<{ cli: CliProcess; trainer: number }> {
  const cli = startCli(endlessRunArgs(data, out));
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

  it('SIGTERM during start-up (before the first step) also stops with a checkpoint and no lock left', async () => {
    const out = join(work, 'early');
    const cli = startCli(endlessRunArgs(data, out));
    let trainer = 0;
    await waitFor(
      () => (trainer = readLock(join(out, LOCK_FILE))?.pid ?? 0) > 0,
      () => `no lock: ${cli.stderr()}`,
      120_000,
      5,
    );
    process.kill(cli.pid, 'SIGTERM');
    expect(await cli.exited, cli.stderr()).toEqual({ code: 143, signal: null });
    expect(gone(trainer)).toBe(true);
    await expectResumable(out, cli.stdout());
  });

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
