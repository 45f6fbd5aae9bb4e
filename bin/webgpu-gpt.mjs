#!/usr/bin/env node
// The CLI entry. tsx's loader is registered in this process, so the TypeScript sources need no
// build step and there is one process: a signal sent to this PID reaches the trainer itself.
// `bench` and `doctor` live in bench/, above train/ (train never imports bench), so they are
// handed to the command table from here.
import { register } from 'tsx/esm/api';

process.env.XDG_RUNTIME_DIR ??= '/tmp';
register();
const { main } = await import('../train/cli/main.ts');
const rc = await main(process.argv.slice(2), {
  bench: async () => (await import('../bench/run.ts')).benchMain,
  doctor: async () => (await import('../bench/doctor.ts')).doctorMain,
});
// Dawn can keep the event loop alive after the device is gone: exit explicitly once stdout drains.
process.stdout.write('', () => process.exit(rc));
