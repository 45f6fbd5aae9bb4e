#!/usr/bin/env node
// The CLI entry. tsx's loader is registered in this process, so the TypeScript sources need no
// build step and there is one process: a signal sent to this PID reaches the trainer itself.
// `bench` goes to bench/run.ts (bench may import train, never the reverse); the rest to train/cli.
import { register } from 'tsx/esm/api';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
register();
const [cmd, ...rest] = process.argv.slice(2);
const rc =
  cmd === 'bench'
    ? await (await import('../bench/run.ts')).benchMain(rest)
    : await (await import('../train/cli/main.ts')).main(process.argv.slice(2));
// Dawn can keep the event loop alive after the device is gone: exit explicitly once stdout drains.
process.stdout.write('', () => process.exit(rc));
