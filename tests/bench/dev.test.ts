// bench/dev stays a ladder you can rerun: every version file is a version of its ladder, every
// file its notes cite exists, and a version validates (or fails) through the runner.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { destroyRuntime, getRuntime, type Runtime } from '../../kernels/gpu/runtime.ts';
import { devMain, LADDERS, ladderOf, validate, validateVersion } from '../../bench/dev/run.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const DEV = join(ROOT, 'bench/dev');
const kernelDirs = readdirSync(DEV, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name);

/** Backticked spans that look like file paths: `kernels/matmul.wgsl`, `v2-shared.wgsl`. */
function citedPaths(markdown: string): string[] {
  const spans = [...markdown.matchAll(/`([^`\n]+)`/g)].map((m) => m[1]!);
  return spans.filter((s) => /^[\w.\-/]+\.(ts|wgsl|md|py|json|js|mjs)$/.test(s));
}

describe('bench/dev ladders', () => {
  it('has a ladder and a NOTES.md for every kernel folder, and a folder for every ladder', () => {
    expect(kernelDirs.sort()).toEqual([...LADDERS.keys()].sort());
    for (const k of [
      'matmul',
      'softmax',
      'layernorm',
      'attention',
      'crossentropy',
      'gelu',
      'residual',
      'embedding',
      'adamw',
    ])
      expect(kernelDirs).toContain(k);
    for (const k of kernelDirs) expect(existsSync(join(DEV, k, 'NOTES.md')), `${k}/NOTES.md`).toBe(true);
  });

  it('lists every vN-*.wgsl of a folder as its version N, and every version file exists', () => {
    for (const k of kernelDirs) {
      const l = ladderOf(k);
      const listed = new Map(l.versions.map((v) => [v.file, v.n]));
      for (const f of readdirSync(join(DEV, k)).filter((f) => /^v\d+-.*\.wgsl$/.test(f)))
        expect(listed.get(`bench/dev/${k}/${f}`), `${k}/${f}`).toBe(Number(/^v(\d+)/.exec(f)![1]));
      expect(l.versions.map((v) => v.n)).toEqual(l.versions.map((_, i) => i + 1));
      expect(l.versions[0]!.name).toMatch(/naive|composed/);
      for (const v of l.versions) expect(existsSync(join(ROOT, v.file)), `${k} v${v.n}: ${v.file}`).toBe(true);
    }
  });

  it('cites only files that exist in bench/dev notes and README', () => {
    const docs = [join(DEV, 'README.md'), ...kernelDirs.map((k) => join(DEV, k, 'NOTES.md'))];
    for (const doc of docs) {
      const cited = citedPaths(readFileSync(doc, 'utf8'));
      const missing = cited.filter((p) => !existsSync(join(ROOT, p)) && !existsSync(join(dirname(doc), p)));
      expect(missing, doc).toEqual([]);
    }
    // The parser finds what it must: a citation of a file that does not exist is caught.
    expect(citedPaths('see `bench/dev/matmul/v9-gone.wgsl` and `npx tsx run.ts`')).toEqual([
      'bench/dev/matmul/v9-gone.wgsl',
    ]);
  });

  it('lists the versions on the command line without a GPU', async () => {
    const lines: string[] = [];
    expect(await devMain(['matmul'], (s) => lines.push(s))).toBe(0);
    expect(lines.join('\n')).toContain('bench/dev/matmul/v2-shared.wgsl');
    expect(await devMain(['nosuchkernel'], () => {})).toBe(2);
    expect(await devMain(['matmul', '9'], () => {})).toBe(2);
    // A launcher option no version takes is a mistake, not silently ignored.
    expect(await devMain(['matmul', 'all', '--VPT', '4'], () => {})).toBe(2);
    expect(await devMain(['gelu', '1', '--VPT', '4'], () => {})).toBe(2);
  });
});

describe('bench/dev validation (GPU)', () => {
  let rt: Runtime;
  beforeAll(async () => {
    rt = await getRuntime();
  });
  afterAll(async () => {
    await destroyRuntime();
  });

  it('validates gelu v1 (naive) on the tiny shape against the float64 reference', async () => {
    await validateVersion(rt, 'gelu', 1);
  });

  it('fails a version that leaves its output unwritten', async () => {
    const l = ladderOf('gelu');
    const p = l.setup(rt, l.tinyDims);
    try {
      const lazy = { n: 9, name: 'lazy', file: 'none', what: 'writes nothing', run: () => {} };
      await expect(validate(rt, l, lazy, p)).rejects.toThrow(/gelu v9 lazy/);
    } finally {
      p.dispose();
    }
  });
});
