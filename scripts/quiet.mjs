// Runs a command with its stderr passed through the CLI's filter of Dawn's two harmless lavapipe
// warnings (bin/stderr-filter.mjs): `node scripts/quiet.mjs vitest run`, so that `npm test` prints
// no "artificially reduced" lines either. Signals are passed on; the exit status is the command's.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { filterStderr } from '../bin/stderr-filter.mjs';

const [cmd, ...args] = process.argv.slice(2);
if (!cmd) {
  console.error('usage: node scripts/quiet.mjs <command> [args...]');
  process.exit(2);
}
// A package's binary (vitest) runs with this Node; anything else is looked up on the PATH.
let file = cmd;
let argv = args;
try {
  const bin = createRequire(import.meta.url).resolve(`${cmd}/package.json`);
  const pkg = JSON.parse(await (await import('node:fs/promises')).readFile(bin, 'utf8'));
  const rel = typeof pkg.bin === 'string' ? pkg.bin : pkg.bin?.[cmd];
  if (rel) [file, argv] = [process.execPath, [new URL(rel, `file://${bin}`).pathname, ...args]];
} catch {
  // not a package: run it from the PATH
}
const child = spawn(file, argv, { stdio: ['inherit', 'inherit', 'pipe'] });
filterStderr(child.stderr, process.stderr);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
