// The real CLI as a user starts it (node bin/webgpu-gpt.mjs ...): run to its end with its output
// and a check for clean errors, or started for the tests that signal or kill it.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '../../train/run-lock.ts';
import { expect } from 'vitest';
import { ROOT } from './fixture.ts';

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

/** `pretrain` arguments for a tiny run that only a signal ends (the signal and Ctrl-C tests). */
export function endlessRunArgs(data: string, out: string): string[] {
  return ['pretrain', '--data', data, '--out', out, ...TINY_FLAGS, '--steps', '100000', '--evalEvery', '0'];
}

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** `node bin/webgpu-gpt.mjs ...args` run to its end. */
export function cli(...args: string[]): CliResult {
  const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'webgpu-gpt.mjs'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A user error: status 1, one `error:` line naming the problem, no stack trace. */
export function expectCleanError(r: CliResult, pattern: RegExp): void {
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/^error: /m);
  expect(r.stderr).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at .*\(/);
}

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
export async function waitFor(
  cond: () => boolean,
  what: () => string,
  limitMs = 120_000,
  everyMs = 100,
): Promise<void> {
  const t0 = Date.now();
  while (!cond()) {
    if (Date.now() - t0 > limitMs) throw new Error(`timed out waiting: ${what()}`);
    await new Promise((r) => setTimeout(r, everyMs));
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
