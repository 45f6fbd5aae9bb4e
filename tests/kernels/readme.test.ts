// kernels/README.md's table against the tree: one row per kernels/*.wgsl file, whose entry-point
// cell lists exactly the file's @compute functions (a failure prints the cell to paste), whose
// launchers and reference functions are exported where the row says, and whose test and bench
// files exist. Reads files only; no GPU.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { refOpNames } from '../../engine/reference.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const KERNELS = join(ROOT, 'kernels');

/** The @compute functions of a WGSL source, in file order (comments stripped first). */
export function entryPoints(wgsl: string): string[] {
  const code = wgsl.replace(/\/\/.*$/gm, '');
  return [...code.matchAll(/@compute[^;{]*?\bfn\s+(\w+)/g)].map((m) => m[1]!);
}

/** The README cell for a file's entry points. */
export function entryCell(wgsl: string): string {
  const eps = entryPoints(wgsl);
  return eps.length ? eps.map((e) => `\`${e}\``).join(', ') : '—';
}

const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
const exportsOf = (file: string): Set<string> =>
  new Set(
    [...readFileSync(join(KERNELS, file), 'utf8').matchAll(/^export (?:function|const) (\w+)/gm)].map((m) => m[1]!),
  );

interface Row {
  wgsl: string;
  cells: string[];
}

function tableRows(): Row[] {
  const md = readFileSync(join(KERNELS, 'README.md'), 'utf8');
  return md
    .split('\n')
    .filter((l) => /^\|\s*`[\w-]+\.wgsl`\s*\|/.test(l))
    .map((l) => {
      const cells = l
        .slice(1, -1)
        .split(' | ')
        .map((c) => c.trim());
      return { wgsl: ticked(cells[0]!)[0]!, cells };
    });
}

describe('kernels/README.md', () => {
  const rows = tableRows();
  const files = readdirSync(KERNELS).filter((f) => f.endsWith('.wgsl'));

  it('has one row per kernels/*.wgsl file, and no row for a file that is gone', () => {
    expect(rows.map((r) => r.wgsl).sort()).toEqual([...files].sort());
  });

  it("lists each file's entry points exactly", () => {
    const wrong = rows
      .filter((r) => existsSync(join(KERNELS, r.wgsl)))
      .map((r) => ({ r, want: entryCell(readFileSync(join(KERNELS, r.wgsl), 'utf8')) }))
      .filter(({ r, want }) => r.cells[1] !== want)
      .map(({ r, want }) => `${r.wgsl}: ${want}`);
    expect(wrong, 'rows whose entry points differ; the cells to paste').toEqual([]);
  });

  it('names launchers and reference functions that exist, and test and bench files that exist', () => {
    const kernelRefs = exportsOf('reference.ts');
    const missing: string[] = [];
    for (const { wgsl, cells } of rows) {
      const launchers = cells[2]!.match(/^`(\w+\.ts)`: (.*)$/);
      if (launchers) {
        const exported = exportsOf(launchers[1]!);
        // Only the names before the first parenthesis are launchers; the rest are options.
        for (const name of ticked(launchers[2]!.replace(/\(.*?\)/g, '')))
          if (!exported.has(name)) missing.push(`${wgsl}: ${launchers[1]} does not export ${name}`);
      }
      const ref = cells[3]!.replace(/\(.*?\)/g, '');
      if (ref.startsWith('`engine/reference.ts`')) {
        for (const name of ticked(ref).slice(1))
          if (!(refOpNames as string[]).includes(name)) missing.push(`${wgsl}: engine/reference.ts has no op ${name}`);
      } else if (!ref.startsWith('as ') && ref !== '—') {
        for (const name of ticked(ref))
          if (!kernelRefs.has(name)) missing.push(`${wgsl}: kernels/reference.ts does not export ${name}`);
      }
      for (const path of cells.slice(6, 8).flatMap(ticked))
        if (!existsSync(join(ROOT, path))) missing.push(`${wgsl}: ${path} does not exist`);
    }
    expect(missing).toEqual([]);
  });

  it('the entry-point scan sees through comments and attributes', () => {
    const src =
      '// @compute fn not_me()\n@compute @workgroup_size(64)\nfn a_forward(@builtin(x) g: u32) {}\nfn helper() {}\n@compute @workgroup_size(WG, 1)\nfn a_backward() {}';
    expect(entryPoints(src)).toEqual(['a_forward', 'a_backward']);
    expect(entryCell('fn helper() {}')).toBe('—');
  });
});
