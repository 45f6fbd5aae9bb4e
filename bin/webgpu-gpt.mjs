#!/usr/bin/env node
// The CLI entry: a thin supervisor and, in a child process, the CLI itself.
//
// Why two processes: Dawn prints two warnings on lavapipe ("maxDynamic…BuffersPerPipelineLayout
// artificially reduced") from native code straight to file descriptor 2, where no JavaScript can
// catch them; users read them as errors. The supervisor pipes the child's stderr and drops exactly
// those lines (everything else, real driver errors included, passes through).
//
// Signals: the child runs in its own process group, so a terminal's Ctrl-C (sent to the
// foreground group) reaches the supervisor alone, which forwards SIGINT, SIGTERM and SIGHUP to the
// child exactly once each time and waits for it: the shell prompt returns only after the trainer
// has written its checkpoint and exited, with the child's status. If the supervisor itself is
// killed (kill -9), the child sees its IPC channel close and stops as on SIGTERM — never an
// orphan writing into a run folder.
//
// The child runs the TypeScript sources through tsx's loader in a git checkout, and the compiled
// JavaScript in dist/ in an installed package (which ships no sources).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { filterStderr } from './stderr-filter.mjs';

const CHILD = 'WEBGPU_GPT_CHILD';
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function supervise() {
  const child = spawn(
    process.execPath,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
      detached: true,
      env: {
        ...process.env,
        [CHILD]: '1',
        XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
        // The child's stderr is a pipe to us; tell it what the user's really is (progress bars).
        ...(process.stderr.isTTY ? { WEBGPU_GPT_STDERR_COLUMNS: String(process.stderr.columns ?? 80) } : {}),
      },
    },
  );
  filterStderr(child.stderr, process.stderr);
  for (const sig of FORWARDED) process.on(sig, () => child.kill(sig));
  child.on('exit', (code, signal) => {
    // Exit like the child did: its status, or 128 + the signal number as a shell reports it.
    if (signal) process.exitCode = 128 + ({ SIGINT: 2, SIGTERM: 15, SIGHUP: 1, SIGKILL: 9 }[signal] ?? 1);
    else process.exitCode = code ?? 1;
  });
}

async function run() {
  if (process.env.WEBGPU_GPT_STDERR_COLUMNS) {
    process.stderr.isTTY = true;
    process.stderr.columns = Number(process.env.WEBGPU_GPT_STDERR_COLUMNS);
  }
  // The supervisor is gone (killed with -9): stop like on SIGTERM (a trainer checkpoints first).
  // Its stderr went to the supervisor, a closed pipe now: drop what is written there (EPIPE
  // would otherwise crash the trainer before its checkpoint).
  process.on('disconnect', () => {
    process.stderr.on('error', () => {});
    process.kill(process.pid, 'SIGTERM');
  });
  process.channel?.unref(); // the IPC channel alone must not keep the process alive
  // A git checkout has the TypeScript sources (run through tsx, never a stale build); an installed
  // package has only the compiled dist/.
  const fromSource = existsSync(new URL('../train/cli/main.ts', import.meta.url));
  if (fromSource) (await import('tsx/esm/api')).register();
  const dir = fromSource ? '..' : '../dist';
  const ext = fromSource ? '.ts' : '.js';
  const { main } = await import(`${dir}/train/cli/main${ext}`);
  const rc = await main(process.argv.slice(2), {
    bench: async () => (await import(`${dir}/bench/run${ext}`)).benchMain,
    doctor: async () => (await import(`${dir}/bench/doctor${ext}`)).doctorMain,
  });
  // Dawn can keep the event loop alive after the device is gone: exit explicitly once stdout drains.
  process.stdout.write('', () => process.exit(rc));
}

if (process.env[CHILD] === '1') await run();
else supervise();
