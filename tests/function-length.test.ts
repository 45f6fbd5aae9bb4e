// Functions in train/ and model/ stay short enough to read on one screen (the developers' guide:
// about 80 lines). This test parses every file there with the TypeScript compiler and lists each
// function, method or arrow function body longer than that, with its file and line.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const MAX_LINES = 80;

/** Every function-like node of a source text longer than `max` lines: "file:line name (n lines)". */
export function longFunctions(file: string, text: string, max = MAX_LINES): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isFunctionLike(node) && 'body' in node && node.body) {
      const start = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
      const end = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
      const lines = end - start + 1;
      const name = node.name && ts.isIdentifier(node.name) ? node.name.text : '(anonymous)';
      if (lines > max) out.push(`${file}:${start + 1} ${name} (${lines} lines)`);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('function length', () => {
  it(`has no function over ${MAX_LINES} lines in train/ or model/`, () => {
    const files = [...sources('train'), ...sources('model')];
    expect(files.length).toBeGreaterThan(20);
    expect(files.flatMap((f) => longFunctions(f, readFileSync(join(ROOT, f), 'utf8')))).toEqual([]);
  });

  it('measures a function from its first to its last line', () => {
    const body = Array.from({ length: 5 }, (_, i) => `  const a${i} = ${i};`).join('\n');
    const text = `export function f(): void {\n${body}\n}\n`;
    expect(longFunctions('x.ts', text, 7)).toEqual([]);
    expect(longFunctions('x.ts', text, 6)).toEqual(['x.ts:1 f (7 lines)']);
  });
});
