// One trainer per run folder: `<run>/trainer.lock` holds the pid, host and start time of the
// process that writes the folder. It is created atomically (O_EXCL) before anything is written,
// and removed when the trainer exits (also on process.exit). A lock left by a killed trainer on
// this host (its pid no longer runs) is taken over with a message; a live one is a one-line error
// naming the holder. A lock from another host cannot be checked, so it is never taken over.
import { closeSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CliError } from './cli-error.ts';

export const LOCK_FILE = 'trainer.lock';

export interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
}

/** The lock's contents, or null if it is empty or torn (a trainer killed while creating it). */
export function readLock(path: string): LockInfo | null {
  try {
    const j = JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
    return typeof j.pid === 'number' && typeof j.host === 'string' ? j : null;
  } catch {
    return null;
  }
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class RunLock {
  private held = true;
  private readonly onExit = (): void => this.release();

  private constructor(readonly path: string) {
    process.on('exit', this.onExit);
  }

  /** Takes the lock of `runDir` (creating the folder), or throws a CliError naming the holder. */
  static acquire(runDir: string, say: (line: string) => void): RunLock {
    mkdirSync(runDir, { recursive: true });
    const path = join(runDir, LOCK_FILE);
    const me: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fd = openSync(path, 'wx');
        writeSync(fd, JSON.stringify(me) + '\n');
        fsyncSync(fd);
        closeSync(fd);
        return new RunLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const held = readLock(path);
      if (!stale(path, held)) {
        const who = held ? `pid ${held.pid} on ${held.host}, since ${held.startedAt}` : 'a trainer starting now';
        throw new CliError(
          `${runDir} is in use by another trainer (${who}): stop it first, or delete ${path} if that process is gone`,
        );
      }
      say(
        `note: taking over the lock of a trainer that is no longer running (${held ? `pid ${held.pid}, since ${held.startedAt}` : 'empty lock file'})`,
      );
      rmSync(path, { force: true });
    }
    throw new CliError(`${runDir}: could not take ${path} (another trainer keeps taking it)`);
  }

  /** Removes the lock if this process still holds it. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    process.off('exit', this.onExit);
    if (readLock(this.path)?.pid === process.pid) rmSync(this.path, { force: true });
  }
}

/** A lock whose process is gone: same host and a dead pid, or a torn file older than a few seconds. */
function stale(path: string, held: LockInfo | null): boolean {
  if (held === null) {
    try {
      return Date.now() - statSync(path).mtimeMs > 5000;
    } catch {
      return true; // removed meanwhile
    }
  }
  return held.host === hostname() && held.pid !== process.pid && !processAlive(held.pid);
}
