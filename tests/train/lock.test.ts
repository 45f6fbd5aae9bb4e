// One trainer per run folder (train/run-lock.ts): a second trainer on a folder in use fails with
// one line naming the holder; the lock of a trainer that was killed is taken over with a message;
// the lock is gone once a run ends.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pretrain } from '../../train/pretrain.ts';
import { LOCK_FILE, RunLock } from '../../train/run-lock.ts';
import { tinyConfig, tinyData } from './fixture.ts';

const work = mkdtempSync(join(tmpdir(), 'wgpt-lock-'));
let data = '';
beforeAll(async () => {
  data = await tinyData();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

const quick = { steps: 2, evalEvery: 0, sampleTokens: 0 };

describe('the run folder lock', () => {
  it('a second trainer on a folder in use fails, naming the holder', async () => {
    const out = join(work, 'busy');
    const held = RunLock.acquire(out, () => {});
    try {
      await expect(pretrain(tinyConfig(data, out, quick), { log: () => {} })).rejects.toThrow(
        new RegExp(`in use by another trainer \\(pid ${process.pid} on ${hostname()}, since `),
      );
    } finally {
      held.release();
    }
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
    await pretrain(tinyConfig(data, out, quick), { log: () => {} });
    expect(existsSync(join(out, LOCK_FILE))).toBe(false); // released at the end of the run
  });

  it('a lock left by a dead trainer on this host is taken over with a message', async () => {
    const out = join(work, 'stale');
    mkdirSync(out, { recursive: true });
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const pid = Number(dead.stdout);
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid, host: hostname(), startedAt: 'then' }));
    const lines: string[] = [];
    await pretrain(tinyConfig(data, out, quick), { log: (l) => lines.push(l) });
    expect(lines.join('\n')).toContain(`taking over the lock of a trainer that is no longer running (pid ${pid}`);
    expect(existsSync(join(out, LOCK_FILE))).toBe(false);
  });

  it('a lock from another host is never taken over', () => {
    const out = join(work, 'remote');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, LOCK_FILE), JSON.stringify({ pid: 1, host: 'elsewhere', startedAt: 'then' }));
    expect(() => RunLock.acquire(out, () => {})).toThrow(/in use by another trainer \(pid 1 on elsewhere/);
  });
});
