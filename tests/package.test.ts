// The package as a user gets it: `npm pack` (which builds dist/), the tarball installed into an
// empty folder, then the CLI's --help, examples/quickstart.mjs through the library API (a gradient
// and two training steps of a tiny GPT), and a typecheck of a consumer file against the shipped
// .d.ts files. No tsx and no TypeScript sources are involved after the install.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
let app = '';

beforeAll(() => {
  const work = mkdtempSync(join(tmpdir(), 'wgpt-pack-'));
  execFileSync(npm, ['pack', '--pack-destination', work], { cwd: ROOT, stdio: 'pipe' });
  const tgz = readdirSync(work).find((f) => f.endsWith('.tgz'))!;
  app = join(work, 'app');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  execFileSync(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(work, tgz)], {
    cwd: app,
    stdio: 'pipe',
  });
});

describe('the packed package', () => {
  it('ships the build and no sources or tests', () => {
    const pkg = join(app, 'node_modules', 'webgpu-gpt');
    const top = readdirSync(pkg).sort();
    expect(top).toEqual(expect.arrayContaining(['bin', 'dist', 'package.json']));
    for (const absent of ['tests', 'engine', 'train', 'tsconfig.json', 'vitest.config.ts'])
      expect(top).not.toContain(absent);
    expect(readdirSync(join(pkg, 'dist', 'kernels')).some((f) => f.endsWith('.wgsl'))).toBe(true);
  });

  it('runs the CLI', () => {
    const r = spawnSync(join(app, 'node_modules', '.bin', 'webgpu-gpt'), ['--help'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^usage: webgpu-gpt <command>/);
  });

  it('trains a tiny GPT through the library API (examples/quickstart.mjs)', () => {
    copyFileSync(join(ROOT, 'examples', 'quickstart.mjs'), join(app, 'quickstart.mjs'));
    const r = spawnSync(process.execPath, ['quickstart.mjs'], { cwd: app, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const last = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { grad: number[]; losses: number[] };
    expect(last.grad).toEqual([2, 4, 6]);
    expect(last.losses).toHaveLength(2);
    for (const l of last.losses) expect(Number.isFinite(l)).toBe(true);
  });

  it('typechecks a consumer against the shipped types', () => {
    writeFileSync(
      join(app, 'consumer.ts'),
      [
        "import { GPT, model, ops, tensor, train, type Tensor } from 'webgpu-gpt';",
        "import type { GPTConfig } from 'webgpu-gpt/model';",
        "const config: GPTConfig = model.resolveConfig({ preset: 'tiny', vocabSize: 16 });",
        'export const make = (): GPT => GPT.create(config);',
        'export const double = (t: Tensor): Tensor => ops.mulScalar(t, 2);',
        'export const t: Tensor = tensor(new Float32Array([1]), [1]);',
        'export const schema = train.TRAIN_SCHEMA;',
        '// @ts-expect-error: a config needs numbers',
        "export const bad: GPTConfig = { ...config, nLayer: 'two' };",
      ].join('\n'),
    );
    const tsconfig = {
      compilerOptions: { module: 'nodenext', strict: true, noEmit: true, skipLibCheck: true, types: [] },
    };
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ ...tsconfig, files: ['consumer.ts'] }));
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', app], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
