// `npm run build` (and `npm pack`, through prepack): compiles the library to dist/ (JavaScript +
// .d.ts, relative imports rewritten from .ts to .js) and copies the WGSL sources beside the
// modules that read them at run time, so an installed package runs without tsx.
import { execFileSync } from 'node:child_process';
import { cpSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
rmSync(join(root, 'dist'), { recursive: true, force: true });
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit', cwd: root });

function copyWgsl(dir) {
  for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
    const rel = join(dir, e.name);
    if (e.isDirectory() && rel !== join('bench', 'dev')) copyWgsl(rel);
    else if (e.name.endsWith('.wgsl')) cpSync(join(root, rel), join(root, 'dist', rel));
  }
}
for (const dir of ['kernels', 'bench']) copyWgsl(dir);
