// The folders are layers, and imports point one way only:
//   kernels/gpu → kernels → engine → model → train → train/cli → bench, examples → tests
// (an arrow reads "is imported by"). Within a layer anything goes; bench, examples and tests are
// leaves that no library code imports. This test reads every import line of the tree and fails on
// an edge against that order, naming the file and line.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Layers from the bottom; a file belongs to the first whose prefix its path has. */
const LAYERS: readonly [prefix: string, rank: number][] = [
  ['kernels/gpu/', 0],
  ['kernels/', 1],
  ['engine/', 2],
  ['model/', 3],
  ['train/cli/', 5],
  ['train/', 4],
  ['bench/', 6],
  ['examples/', 6],
  ['tests/', 7],
];

export function layerOf(path: string): { name: string; rank: number } | null {
  for (const [prefix, rank] of LAYERS) if (path.startsWith(prefix)) return { name: prefix, rank };
  return null;
}

const IMPORT = /(?:\bfrom\s+|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;

/** Every relative import of a source file: the imported path (from the root) and the line. */
export function importsOf(file: string, src: string): { target: string; line: number }[] {
  const out: { target: string; line: number }[] = [];
  for (const m of src.matchAll(IMPORT)) {
    const line = src.slice(0, m.index).split('\n').length;
    out.push({ target: normalize(join(dirname(file), m[1]!)), line });
  }
  return out;
}

/** The edges of `files` (path → source) that go against the layer order. */
export function violations(files: ReadonlyMap<string, string>): string[] {
  const bad: string[] = [];
  for (const [file, src] of files) {
    const from = layerOf(file);
    if (!from) continue;
    for (const { target, line } of importsOf(file, src)) {
      const to = layerOf(target);
      if (!to) continue;
      const ok = to.rank < from.rank || to.name === from.name || (from.name === 'train/cli/' && to.name === 'train/');
      if (!ok) bad.push(`${file}:${line} imports ${target} (${from.name} may not import ${to.name})`);
    }
  }
  return bad;
}

function sourceTree(): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const e of readdirSync(join(ROOT, dir), { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts|mjs)$/.test(e.name)) files.set(p, readFileSync(join(ROOT, p), 'utf8'));
    }
  };
  for (const top of ['kernels', 'engine', 'model', 'train', 'bench', 'examples', 'tests']) walk(top);
  return files;
}

describe('layering', () => {
  it('has no import against the layer order in the tree', () => {
    const files = sourceTree();
    expect(files.size).toBeGreaterThan(50);
    expect(violations(files)).toEqual([]);
  });

  it('catches an upward edge, a sideways edge between leaves and a dynamic import', () => {
    const files = new Map([
      ['kernels/matmul.ts', "import { Tensor } from '../engine/tensor.ts';\n"],
      ['engine/ops.ts', "import { matmul } from '../kernels/matmul.ts';\n"],
      ['train/cli/main.ts', "const m = await import('../../bench/harness.ts');\n"],
      ['model/gpt.ts', "import { x } from '../train/pretrain.ts';\nimport { y } from './config.ts';\n"],
      ['bench/matmul.bench.ts', "import { assertClose } from '../tests/util/gpu.ts';\n"],
    ]);
    expect(violations(files)).toEqual([
      'kernels/matmul.ts:1 imports engine/tensor.ts (kernels/ may not import engine/)',
      'train/cli/main.ts:1 imports bench/harness.ts (train/cli/ may not import bench/)',
      'model/gpt.ts:1 imports train/pretrain.ts (model/ may not import train/)',
      'bench/matmul.bench.ts:1 imports tests/util/gpu.ts (bench/ may not import tests/)',
    ]);
  });

  it('reads a file relative to its folder', () => {
    expect(importsOf('train/cli/eval.ts', "import { a } from '../../model/gpt.ts';")).toEqual([
      { target: 'model/gpt.ts', line: 1 },
    ]);
    expect(relative('.', 'x')).toBe('x');
  });
});
