#!/usr/bin/env node
// The CLI entry: runs train/cli.ts through tsx so the TypeScript sources need no build step.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const tsxCli = require.resolve('tsx/cli');
process.env.XDG_RUNTIME_DIR ??= '/tmp';
const r = spawnSync(process.execPath, [tsxCli, join(root, 'train', 'cli.ts'), ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
