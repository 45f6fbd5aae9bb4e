// Loading and linking WGSL. A kernel's source may pull in shared snippets from kernels/lib/ with a
// line `//! include lib/<name>.wgsl` (a comment, so each file stays valid WGSL to read and to
// highlight). The linker replaces the line with the file's text, recursively, and links each file
// once per module, so two snippets may include the same third one. `enable`, `requires` and
// `diagnostic` directives must open a WGSL module: they are taken out of every file, deduplicated
// and put first. Everything else stays where it was included; WGSL declarations are
// order-independent, so a snippet can use what the kernel declares (its `override WG`, its
// bindings) and the reverse.
//
// This module imports nothing of ours (layer kernels/gpu): paths are relative to the directory of
// the module that calls loadWGSL (its import.meta.url), which for the kernels is kernels/.
import { readFileSync } from 'node:fs';

const INCLUDE = /^\s*\/\/!\s*include\s+(\S+)\s*$/;
const DIRECTIVE = /^\s*(enable|requires|diagnostic)\b[^;]*;\s*$/;

export interface LinkOptions {
  /**
   * Include path → path to read in its place, for a launcher that picks one of two snippets with the
   * same functions (e.g. `{ 'lib/rowreduce.wgsl': 'lib/rowreduce-subgroup.wgsl' }`).
   */
  swap?: Readonly<Record<string, string>>;
}

/**
 * Expands the include lines of `source` (named `name` in error messages). `read(path)` returns a
 * file's text or throws; it is called once per distinct path.
 */
export function linkWGSL(name: string, source: string, read: (path: string) => string, opts: LinkOptions = {}): string {
  const directives: string[] = [];
  const linked = new Set<string>();
  const expand = (file: string, text: string, stack: string[]): string[] => {
    const out: string[] = [];
    for (const line of text.split('\n')) {
      if (DIRECTIVE.test(line)) {
        const d = line.trim();
        if (!directives.includes(d)) directives.push(d);
        continue;
      }
      const m = INCLUDE.exec(line);
      if (!m) {
        out.push(line);
        continue;
      }
      const path = opts.swap?.[m[1]!] ?? m[1]!;
      if (stack.includes(path)) throw new Error(`WGSL include cycle: ${[...stack, path].join(' -> ')}`);
      if (linked.has(path)) continue;
      linked.add(path);
      let body: string;
      try {
        body = read(path);
      } catch (e) {
        throw new Error(`WGSL: ${file} includes ${path}, which cannot be read (${(e as Error).message})`);
      }
      out.push(`// ---- begin ${path} (included by ${file}) ----`);
      out.push(...expand(path, body, [...stack, path]));
      out.push(`// ---- end ${path} ----`);
    }
    return out;
  };
  const body = expand(name, source, [name]);
  return [...directives, ...body].join('\n');
}

/**
 * A kernel's WGSL module, read from `file` beside the calling module and linked:
 * `loadWGSL(import.meta.url, 'softmax.wgsl', { swap })`. Include paths are relative to the same
 * directory.
 */
export function loadWGSL(base: string, file: string, opts: LinkOptions = {}): string {
  const read = (path: string): string => readFileSync(new URL(path, base), 'utf8');
  return linkWGSL(file, read(file), read, opts);
}
